"""A manifest: per image, what the files do not say (or say wrongly).

CSV or JSON Lines with a column ``image`` (the file's path inside the
folder) and any of prompt, negative_prompt, seed, model, steps, guidance,
width, height, group; every other column is a slot value of the image (e.g.
``occupation``), compared and mapped to references like a suite's slots.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from audit.errors import InvalidInput, UsageError

KNOWN = ("prompt", "negative_prompt", "seed", "model", "steps", "guidance", "width", "height",
         "group")
MAX_BYTES = 256 << 20  # streamed: a bad row stops the read there


def _jsonl_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    from audit.user_files import MAX_DEPTH, regular_file

    regular_file(path, what="manifest", limit=MAX_BYTES)
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            where = f"{path}:{number}"
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise UsageError(f"not UTF-8: byte 0x{raw[exc.start]:02x} at line {number}, column "
                                 f"{exc.start + 1}", where=where) from None
            if not line.strip():
                continue
            try:
                row = json.loads(line, parse_constant=_not_a_number(where))
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"not JSON: {exc.msg}", where=where) from None
            except RecursionError:
                raise InvalidInput(f"nested more than {MAX_DEPTH} levels deep",
                                   where=where) from None
            if not isinstance(row, dict):
                raise InvalidInput("expected one JSON object per line", where=where)
            yield number, {k: v for k, v in row.items() if v is not None}


def _not_a_number(where: str) -> Any:
    def refuse(constant: str) -> None:
        raise InvalidInput(f"{constant} is not a number JSON allows", where=where)
    return refuse


def read_manifest(path: Path, images: set[str]) -> dict[str, dict[str, Any]]:
    """image -> {field: value, "slots": {...}}; every image must be in
    ``images``. Rows are checked as they are read: the first bad row stops
    the import before the rest of the file is read."""
    from audit.importing.metadata import clean
    from audit.user_files import csv_rows

    path = Path(path)
    if path.suffix.lower() == ".jsonl":
        rows = _jsonl_rows(path)
    elif path.suffix.lower() == ".csv":
        rows = ((line, {k: v for k, v in row.items() if v != ""})
                for line, row in csv_rows(path, what="manifest", limit=MAX_BYTES))
    else:
        raise UsageError("a manifest is .csv or .jsonl", where=str(path))
    out: dict[str, dict[str, Any]] = {}
    for number, row in rows:
        where = f"{path}:{number}"
        if not out and "image" not in row and path.suffix.lower() == ".csv":
            raise InvalidInput("missing column(s) image; expected a header with 'image'",
                               where=str(path))
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
                raise InvalidInput(f"field {key}: '{str(row[key])[:40]}' is not a number "
                                   "in range", where=where)
        slots = {str(k): str(v)[:200] for k, v in row.items() if k not in (*KNOWN, "image")}
        out[image] = {**fields, "group": row.get("group"), "slots": slots}
    if not out:
        raise InvalidInput("no data rows", where=str(path))
    return out
