"""What an image file says about how it was made, read from the places tools
write it. Best effort and never guessed: a field no source gives is missing,
and what a reader could not resolve is said in ``notes``.

- AUTOMATIC1111 / Forge: a PNG ``parameters`` text chunk, or for JPEG/WebP
  the EXIF UserComment, in A1111's text format;
- ComfyUI: the PNG ``prompt`` chunk (the API-format graph): the sampler
  node's seed, steps, cfg and sampler, followed through links to the text
  encoders, the latent size and the checkpoint;
- InvokeAI: ``invokeai_metadata`` (3.x+) or ``sd-metadata`` (2.x) JSON;
- XMP ``dc:description`` / ``exif:UserComment``, where some tools put the text;
- this package: its own ``t2i-audit`` JSON chunk (exact).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audit.rundir.pngmeta import JSON_KEY, PARAMETERS_KEY, parse_parameters, split_prompts

FIELDS = ("prompt", "negative_prompt", "seed", "steps", "guidance", "width", "height",
          "sampler", "schedule_type", "model", "model_hash")
INTEGER = ("seed", "steps", "width", "height")
MAX_TEXT = 1 << 20  # a metadata chunk larger than this is not a prompt


@dataclass
class Found:
    """Fields read from one file, where they came from, and what was not resolved."""

    fields: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # other fields, verbatim
    source: str | None = None
    notes: list[str] = field(default_factory=list)


# what a field may hold before it is a number we use: seeds as a torch generator
# takes them, steps and sizes as any model accepts; anything else is missing
RANGES = {"seed": (0, 2**63 - 1), "steps": (1, 10_000), "width": (1, 1 << 17),
          "height": (1, 1 << 17), "guidance": (-1000.0, 1000.0)}


def _number(value: Any, kind: type, key: str = "") -> Any:
    """The number a field holds, or None (NaN, Infinity, a fraction where a
    whole number belongs, out of range). Whole numbers are parsed exactly:
    a 19-digit seed through a float would change."""
    if isinstance(value, bool):
        return None
    text = str(value).strip()[:64]
    try:
        number: float | int = int(text) if kind is int and text.lstrip("+-").isdigit() \
            else float(text)
    except (ValueError, OverflowError):
        return None
    if isinstance(number, float):
        if not math.isfinite(number) or (kind is int and number != int(number)):
            return None
        number = int(number) if kind is int else number
    low, high = RANGES.get(key, (-math.inf, math.inf))
    return number if low <= number <= high else None


def clean(fields: dict[str, Any]) -> dict[str, Any]:
    """Known fields with the right types; unusable values dropped (missing)."""
    out: dict[str, Any] = {}
    for key in FIELDS:
        value = fields.get(key)
        if value is None or (value == "" and key != "negative_prompt"):
            continue  # an empty negative prompt is a value: the tool used none
        if key in INTEGER:
            value = _number(value, int, key)
        elif key == "guidance":
            value = _number(value, float, key)
        else:
            value = str(value)
        if value is not None:
            out[key] = value
    return out


A1111_KNOWN = {"Steps": "steps", "Sampler": "sampler", "Schedule type": "schedule_type",
               "CFG scale": "guidance", "Seed": "seed", "Model": "model",
               "Model hash": "model_hash"}


# keys and quoted values bounded, so a hostile line costs linear time, not quadratic
_A1111_FIELD = re.compile(r'\s*(\w[\w \-/+]{0,60}):\s*("(?:\\.|[^\\"]){0,4096}"|[^,]*)(?:,|$)')
MAX_FIELDS_LINE = 16384  # characters; WebUI's own lines are a few hundred


def split_fields(line: str) -> dict[str, str]:
    """A1111's 'Key: value, Key: "quoted, value", ...' line."""
    out: dict[str, str] = {}
    for match in _A1111_FIELD.finditer(line[:MAX_FIELDS_LINE]):
        key, value = match.group(1).strip(), match.group(2).strip()
        if value.startswith('"') and value.endswith('"') and len(value) > 1:
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                value = value[1:-1]
        out[key] = value
    return out


def from_a1111(text: str, found: Found, source: str) -> None:
    """A1111's text: prompt lines, 'Negative prompt:' lines, the fields line.
    A1111 writes raw newlines, so nothing is unescaped here."""
    lines = text.replace("\r\n", "\n").split("\n")
    last = lines[-1] if lines else ""
    fields_line = lines.pop() if len(lines) > 1 and re.match(r"^\s*Steps: ", last) else ""
    if not fields_line and len(lines) == 1 and re.match(r"^\s*Steps: ", last):
        fields_line, lines = lines[0], [""]
    prompt, negative = split_prompts(lines)
    found.fields["prompt"], found.fields["negative_prompt"] = prompt.strip(), negative.strip()
    for key, value in split_fields(fields_line).items():
        if key in A1111_KNOWN:
            found.fields[A1111_KNOWN[key]] = value
        elif key == "Size":
            width, _, height = value.partition("x")
            found.fields.update(width=width, height=height)
        else:
            found.extra[key] = value
    if not fields_line:
        found.notes.append(f"{source}: no 'Steps: ...' line; only the prompt was read")
    found.source = source


def _node(graph: dict[str, Any], link: Any) -> dict[str, Any] | None:
    """The node a ComfyUI input links to ([node_id, output_index])."""
    if isinstance(link, list) and link and str(link[0]) in graph:
        node = graph[str(link[0])]
        return node if isinstance(node, dict) else None
    return None


def _text_of(graph: dict[str, Any], link: Any, depth: int = 0) -> str | None:
    """The text a conditioning input comes from, through simple pass-through nodes."""
    node = _node(graph, link)
    if node is None or depth > 8:
        return None
    inputs = node.get("inputs", {})
    for key in ("text", "text_g", "prompt"):
        if isinstance(inputs.get(key), str):
            return inputs[key]
    for key in ("conditioning", "conditioning_1", "positive", "text"):
        if key in inputs:
            return _text_of(graph, inputs[key], depth + 1)
    return None


SAMPLERS = ("KSampler", "KSamplerAdvanced", "SamplerCustom", "SamplerCustomAdvanced")


def from_comfyui(text: str, found: Found) -> None:
    found.source = "comfyui"
    try:
        graph = json.loads(text)
    except json.JSONDecodeError:
        found.notes.append("comfyui: the 'prompt' chunk is not JSON")
        return
    if not isinstance(graph, dict):
        found.notes.append("comfyui: the 'prompt' chunk is not a node graph")
        return
    samplers = sorted((k for k, v in graph.items()
                       if isinstance(v, dict) and v.get("class_type") in SAMPLERS), key=str)
    if not samplers:
        found.notes.append("comfyui: no sampler node (KSampler, SamplerCustom, ...)")
        return
    if len(samplers) > 1:
        found.notes.append(f"comfyui: {len(samplers)} sampler nodes; read node {samplers[0]}")
    inputs = graph[samplers[0]].get("inputs", {})
    for ours, theirs in (("seed", "seed"), ("seed", "noise_seed"), ("steps", "steps"),
                         ("guidance", "cfg"), ("sampler", "sampler_name"),
                         ("schedule_type", "scheduler")):
        value = inputs.get(theirs)
        if value is not None and not isinstance(value, list):
            found.fields.setdefault(ours, value)
        elif isinstance(value, list):
            found.notes.append(f"comfyui: {theirs} comes from another node; not resolved")
    for ours, theirs in (("prompt", "positive"), ("negative_prompt", "negative")):
        if theirs in inputs:
            value = _text_of(graph, inputs[theirs])
            if value is None:
                found.notes.append(f"comfyui: the {theirs} text is not a plain text node")
            else:
                found.fields[ours] = value
    latent = _node(graph, inputs.get("latent_image"))
    if latent is not None:
        for key in ("width", "height"):
            if not isinstance(latent.get("inputs", {}).get(key), list):
                found.fields.setdefault(key, latent.get("inputs", {}).get(key))
    model = _node(graph, inputs.get("model"))
    for _ in range(8):  # through LoRA and patch nodes to the checkpoint loader
        if model is None:
            break
        name = model.get("inputs", {}).get("ckpt_name") or model.get("inputs", {}).get(
            "unet_name")
        if isinstance(name, str):
            found.fields["model"] = name
            break
        model = _node(graph, model.get("inputs", {}).get("model"))
    if "model" not in found.fields:
        found.notes.append("comfyui: no checkpoint loader reached from the sampler")


def from_invokeai(text: str, found: Found, key: str) -> None:
    found.source = "invokeai"
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        found.notes.append(f"invokeai: the '{key}' chunk is not JSON")
        return
    if not isinstance(data, dict):
        return
    if key == "sd-metadata":  # InvokeAI 2.x
        image = data.get("image") if isinstance(data.get("image"), dict) else {}
        prompt = image.get("prompt")
        if isinstance(prompt, list) and prompt and isinstance(prompt[0], dict):
            prompt = prompt[0].get("prompt")
        found.fields.update(prompt=prompt, seed=image.get("seed"), steps=image.get("steps"),
                            guidance=image.get("cfg_scale"), width=image.get("width"),
                            height=image.get("height"), sampler=image.get("sampler"),
                            model=data.get("model_weights"))
        return
    model = data.get("model")
    found.fields.update(
        prompt=data.get("positive_prompt"), negative_prompt=data.get("negative_prompt"),
        seed=data.get("seed"), steps=data.get("steps"), guidance=data.get("cfg_scale"),
        width=data.get("width"), height=data.get("height"), sampler=data.get("scheduler"),
        model=model.get("name") if isinstance(model, dict) else model)


def from_own_chunk(text: str, found: Found) -> None:
    record = json.loads(text)
    found.source = "t2i-audit"
    found.fields.update({k: record.get(k) for k in ("prompt", "negative_prompt", "seed",
                                                     "steps", "guidance", "width", "height",
                                                     "model")})
    found.fields["sampler"] = record.get("scheduler")


def exif_user_comment(image: Any) -> str | None:
    """EXIF UserComment (where A1111 puts parameters in JPEG and WebP):
    8 bytes naming the encoding, then the text."""
    try:
        raw = image.getexif().get_ifd(0x8769).get(0x9286)
    except Exception:  # malformed EXIF is a file without metadata, not a crash
        return None
    if isinstance(raw, str):
        return raw
    if not isinstance(raw, bytes) or len(raw) < 8:
        return None
    code, body = raw[:8], raw[8:]
    if code.startswith(b"UNICODE"):
        # piexif (A1111) writes UTF-16 big-endian; some tools little-endian,
        # recognisable by the zero byte after an ASCII first character
        little = len(body) > 1 and body[0] != 0 and body[1] == 0
        text = body.decode("utf-16-le" if little else "utf-16-be", errors="replace")
        return text.lstrip("\ufeff").rstrip("\x00")
    return body.decode("utf-8", errors="replace").rstrip("\x00")


XMP_FIELDS = ("dc:description", "exif:UserComment", "tiff:ImageDescription")
_START = re.compile(r"<(dc:description|exif:UserComment|tiff:ImageDescription|rdf:li)\b"
                    r"[^<>]{0,4096}>")


def _elements(text: str, name: str) -> Iterator[str]:
    """The bodies of ``<name ...>body</name>``, in linear time: each start tag
    is found once, and once an end tag is missing no later one can close."""
    end_tag, position = f"</{name}>", 0
    while True:
        start = _START.search(text, position)
        while start and start.group(1) != name:
            start = _START.search(text, start.end())
        if start is None:
            return
        end = text.find(end_tag, start.end())
        if end < 0:
            return
        yield text[start.end():end]
        position = end + len(end_tag)


def xmp_text(raw: Any) -> str | None:
    """The prompt text some tools write into XMP (dc:description,
    exif:UserComment), found by pattern: the packet is not parsed as XML,
    so no entity in it is expanded beyond the five standard ones."""
    import html

    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    if not isinstance(raw, str) or len(raw) > MAX_TEXT:
        return None
    for name in XMP_FIELDS:
        for body in _elements(raw, name):
            item = next(_elements(body, "rdf:li"), None)
            text = html.unescape((body if item is None else item).strip())
            if text and not text.startswith("<"):
                return text
    return None


def read_metadata(path: Path) -> Found:
    """Everything the file says (first by precedence: our chunk, A1111,
    ComfyUI, InvokeAI, EXIF). Raises OSError/PIL errors for unreadable files."""
    from PIL import Image

    from audit.stages.score import MAX_PIXELS

    found = Found()
    with Image.open(path) as image:
        if image.width * image.height > MAX_PIXELS:  # from the header: scoring would refuse it
            raise ValueError(f"image is {image.width}x{image.height} pixels; more than "
                             f"{MAX_PIXELS} is refused")
        found.fields.update(width=image.width, height=image.height)
        text = {k: v for k, v in getattr(image, "text", {}).items()
                if isinstance(v, str) and len(v) <= MAX_TEXT}
        comment = None if text else exif_user_comment(image)  # PNG text chunks come first
        xmp = xmp_text(image.info.get("xmp"))
    size = dict(found.fields)
    try:
        _read_text_chunks(text, comment, xmp, found)
    except (RecursionError, AttributeError, TypeError, ValueError, KeyError, IndexError) as exc:
        # a graph nested past recursion, a list where a node belongs, ...: the
        # pixels are still an image; its metadata is missing, and said so
        found.notes.append(f"{found.source or 'metadata'}: not readable "
                           f"({type(exc).__name__}); its fields are missing")
        found.fields = dict(size)
    return _finish(found, size)


def _read_text_chunks(text: dict[str, str], comment: str | None, xmp: str | None,
                      found: Found) -> None:
    if JSON_KEY in text:
        try:
            from_own_chunk(text[JSON_KEY], found)
        except (json.JSONDecodeError, AttributeError):
            found.notes.append("t2i-audit chunk is not JSON")
        else:
            if PARAMETERS_KEY in text:
                found.extra.update(
                    {k: v for k, v in parse_parameters(text[PARAMETERS_KEY])["fields"].items()
                     if k not in A1111_KNOWN and k != "Size"})
    elif PARAMETERS_KEY in text:
        from_a1111(text[PARAMETERS_KEY], found, "a1111")
    elif "prompt" in text:
        from_comfyui(text["prompt"], found)
        if "workflow" in text:
            found.extra["comfyui_workflow"] = "present (kept in the original file)"
    elif "invokeai_metadata" in text or "sd-metadata" in text:
        key = "invokeai_metadata" if "invokeai_metadata" in text else "sd-metadata"
        from_invokeai(text[key], found, key)
    elif comment:
        from_a1111(comment, found, "exif")
    elif xmp:
        from_a1111(xmp, found, "xmp")


def _finish(found: Found, size: dict[str, Any]) -> Found:
    said = clean(found.fields)
    unusable = sorted(k for k, v in found.fields.items()
                      if k in FIELDS and v not in (None, "") and k not in said)
    if unusable:
        found.notes.append(f"{found.source}: unusable value of {', '.join(unusable)}")
    for key in ("width", "height"):  # the pixels are the fact; a differing claim is kept
        if key in said and str(said[key]) != str(size[key]):
            found.extra[f"metadata {key}"] = said[key]
    found.fields = {**said, **size}
    return found
