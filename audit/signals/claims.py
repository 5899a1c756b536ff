"""What a file's metadata says made it: the importer's readers (A1111,
ComfyUI, InvokeAI, our own chunk) and EXIF/PNG ``Software``. A claim is
text anyone can write or strip; it is recorded, never verified."""

from __future__ import annotations

from pathlib import Path

SOFTWARE_TAG = 0x0131  # EXIF/TIFF "Software"


def read_claim(path: Path) -> str | None:
    from PIL import Image

    from audit.importing.metadata import read_metadata

    found = read_metadata(path)
    parts = []
    if found.source:
        model = found.fields.get("model")
        parts.append(f"{found.source}" + (f" (model {model})" if model else ""))
    with Image.open(path) as image:
        software = image.getexif().get(SOFTWARE_TAG) or image.info.get("Software")
    if isinstance(software, str) and software.strip():
        parts.append(f"software {software.strip()[:200]}")
    return "; ".join(parts) or None
