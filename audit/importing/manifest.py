"""A manifest: per image, what the files do not say (or say wrongly).

CSV or JSON Lines with a column ``image`` (the file's path inside the
folder) and any of prompt, negative_prompt, seed, model, steps, guidance,
width, height, group; every other column is a slot value of the image (e.g.
``occupation``), compared and mapped to references like a suite's slots.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from audit.errors import InvalidInput, UsageError

KNOWN = ("prompt", "negative_prompt", "seed", "model", "steps", "guidance", "width", "height",
         "group")
MAX_BYTES = 64 << 20


def read_manifest(path: Path, images: set[str]) -> dict[str, dict[str, Any]]:
    """image -> {field: value, "slots": {...}}; every image must be in ``images``."""
    from audit.data_files import read_text
    from audit.importing.metadata import clean

    path = Path(path)
    if path.suffix.lower() == ".jsonl":
        text = read_text(path, what="manifest", limit=MAX_BYTES)
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"not JSON: {exc.msg}", where=f"{path}:{number}") from None
            if not isinstance(row, dict):
                raise InvalidInput("expected one JSON object per line", where=f"{path}:{number}")
            rows.append((number, {k: v for k, v in row.items() if v is not None}))
    elif path.suffix.lower() == ".csv":
        from audit.user_tables import read_csv, require_columns

        frame = read_csv(path)
        require_columns(frame, ["image"], path)
        rows = [(index + 2, {k: v for k, v in row.items() if v != ""})
                for index, row in frame.iterrows()]
    else:
        raise UsageError("a manifest is .csv or .jsonl", where=str(path))
    out: dict[str, dict[str, Any]] = {}
    for number, row in rows:
        where = f"{path}:{number}"
        image = str(row.get("image", "")).strip()
        if not image:
            raise InvalidInput("field image: empty value", where=where)
        if image not in images:
            raise InvalidInput(f"field image: '{image[:200]}' is not an image file in the "
                               "folder (paths relative to it, e.g. sub/0001.png)", where=where)
        if image in out:
            raise InvalidInput(f"field image: '{image[:200]}' appears twice", where=where)
        fields = clean(row)
        for key in ("seed", "steps", "width", "height", "guidance"):
            if key in row and key not in fields:
                raise InvalidInput(f"field {key}: '{str(row[key])[:40]}' is not a number",
                                   where=where)
        slots = {str(k): str(v) for k, v in row.items() if k not in (*KNOWN, "image")}
        out[image] = {**fields, "group": row.get("group"), "slots": slots}
    return out
