"""Importing images made elsewhere (a WebUI, ComfyUI, InvokeAI, the course's
generator, any folder with a manifest) into a run directory, so every later
stage works on them as on images this package generated."""
