"""PNG metadata: an A1111-style ``parameters`` chunk (so WebUI's "PNG Info"
and other tools read our images) and a JSON chunk with the full request."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

FIELD = re.compile(r"^[A-Za-z][\w /-]*: ")
PARAMETERS_KEY = "parameters"
JSON_KEY = "t2i-audit"


def escape(text: str) -> str:
    """One line of A1111 text: a prompt's newline would let a line such as
    'Negative prompt: ...' or 'Steps: ...' be read back as a field, so
    newlines (and the backslash itself) are written as escapes."""
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")


def unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in "\\nr":
            out.append({"\\": "\\", "n": "\n", "r": "\r"}[text[i + 1]])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def a1111_parameters(request: dict[str, Any], *, sampler: str, model: str,
                     model_hash: str | None, schedule_type: str | None = None) -> str:
    """WebUI's PNG Info text. ``sampler`` is WebUI's display name; with a
    ``schedule_type`` (e.g. Karras) it is the sampler's name without it, as
    WebUI 1.9+ writes "Sampler: DPM++ 2M, Schedule type: Karras"."""
    lines = [escape(request["prompt"])]
    if request.get("negative_prompt"):
        lines.append(f"Negative prompt: {escape(request['negative_prompt'])}")
    if schedule_type and sampler.endswith(f" {schedule_type}"):
        sampler = sampler[:-len(schedule_type) - 1]
    fields = [f"Steps: {request['steps']}", f"Sampler: {sampler}",
              *([f"Schedule type: {schedule_type}"] if schedule_type else []),
              f"CFG scale: {request['guidance']:g}", f"Seed: {request['seed']}",
              f"Size: {request['width']}x{request['height']}"]
    if model_hash:
        fields.append(f"Model hash: {model_hash[:10]}")
    fields.append(f"Model: {model}")
    lines.append(", ".join(fields))
    return "\n".join(lines)


def parse_parameters(text: str) -> dict[str, Any]:
    """A ``parameters`` chunk read by A1111's rules (the last line holds the
    fields; a line starting 'Negative prompt:' begins the negative prompt),
    then unescaped: a chunk this module wrote gives back the exact prompts."""
    lines = text.split("\n")
    fields_line = lines.pop() if len(lines) > 1 and FIELD.match(lines[-1]) else ""
    prompt, negative = split_prompts(lines)
    fields = {}
    for part in fields_line.split(", "):
        key, sep, value = part.partition(": ")
        if sep:
            fields[key] = value
    return {"prompt": unescape(prompt), "negative_prompt": unescape(negative), "fields": fields}


def split_prompts(lines: list[str]) -> tuple[str, str]:
    """(prompt, negative prompt) from A1111's lines before the fields line: a
    line starting 'Negative prompt:' begins the negative prompt."""
    prompt, negative, in_negative = [], [], False
    for line in lines:
        if line.startswith("Negative prompt:"):
            in_negative = True
            line = line[len("Negative prompt:"):].lstrip()
        (negative if in_negative else prompt).append(line)
    return "\n".join(prompt), "\n".join(negative)


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
