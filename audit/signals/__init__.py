"""Provenance signals per image: the SDXL invisible watermark
(``watermark.py``), C2PA manifests (``c2pa_manifest.py``) and generator
claims in file metadata (``claims.py``), collected into RUN/provenance.parquet
by ``table.py``. A signal found says something; a signal absent says little:
watermarks are lost to resizing and JPEG, manifests to any re-save, and
neither is ever proof that an image was not generated."""
