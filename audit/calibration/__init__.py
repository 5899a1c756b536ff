"""Calibrating CLIP's abstention on labelled images: per attribute, the
smallest cosine margin at which its decisions reach a stated accuracy."""
