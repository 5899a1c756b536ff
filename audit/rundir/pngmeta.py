"""PNG metadata: an A1111-style ``parameters`` chunk (so WebUI's "PNG Info"
and other tools read our images) and a JSON chunk with the full request."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

PARAMETERS_KEY = "parameters"
JSON_KEY = "t2i-audit"


def a1111_parameters(request: dict[str, Any], *, sampler: str, model: str,
                     model_hash: str | None) -> str:
    lines = [request["prompt"]]
    if request.get("negative_prompt"):
        lines.append(f"Negative prompt: {request['negative_prompt']}")
    fields = [f"Steps: {request['steps']}", f"Sampler: {sampler}",
              f"CFG scale: {request['guidance']:g}", f"Seed: {request['seed']}",
              f"Size: {request['width']}x{request['height']}"]
    if model_hash:
        fields.append(f"Model hash: {model_hash[:10]}")
    fields.append(f"Model: {model}")
    lines.append(", ".join(fields))
    return "\n".join(lines)


def encode_png(image: Any, *, parameters: str, record: dict[str, Any]) -> bytes:
    """PNG bytes with both chunks; no timestamps, so equal inputs give equal bytes."""
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_itxt(PARAMETERS_KEY, parameters)
    info.add_itxt(JSON_KEY, json.dumps(record, sort_keys=True))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def read_png_metadata(path: Path) -> tuple[str | None, dict[str, Any] | None]:
    from PIL import Image

    with Image.open(path) as image:
        text = dict(image.text)
    record = text.get(JSON_KEY)
    return text.get(PARAMETERS_KEY), json.loads(record) if record else None
