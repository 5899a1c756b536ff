"""One way in for every file a user hands us (manifests, labels, counts and
references, styles, calibration and confusion files): a regular file (a FIFO
would block for ever, /dev/zero never ends), under a size cap the error
states, UTF-8 with the line and column of a bad byte, CSV rows that match
their header (a ragged row is named by line), JSON without NaN or Infinity
and nested no deeper than a person writes. CSV is streamed, so a file that
is wrong on line 5 stops there instead of being read whole first."""

from __future__ import annotations

import csv
import io
import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from audit.errors import InvalidInput, UsageError

MAX_CSV_BYTES = 256 << 20  # a manifest of a million images is ~100 MB
MAX_JSON_BYTES = 16 << 20
MAX_DEPTH = 32  # levels of JSON nesting; our formats use at most five
MAX_FIELD = 1 << 20  # characters in one CSV cell
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


def image_files(folder: Path, *, limit: int, too_many: str) -> list[Path]:
    """Regular image files inside ``folder`` (links, and anything resolving
    outside it, are not followed), sorted; more than ``limit`` stops with
    ``too_many``."""
    root = folder.resolve()
    found = []
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() not in IMAGE_SUFFIXES or path.is_symlink() \
                or not path.is_file() or root not in path.resolve().parents:
            continue
        if len(found) >= limit:
            raise UsageError(too_many, where=str(folder))
        found.append(path)
    return found


def regular_file(path: Path, *, what: str, limit: int) -> Path:
    """The path, once it is known to be a readable regular file no larger
    than ``limit`` (a symbolic link counts as what it points to)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise UsageError(f"{what} not found", where=str(path)) from None
    except OSError as exc:
        raise UsageError(f"cannot read {what}: {exc.strerror}", where=str(path)) from None
    if stat.S_ISDIR(info.st_mode):
        raise UsageError(f"{what} is a folder, not a file", where=str(path))
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"{what} is not a regular file (a pipe, device or socket is "
                         "refused)", where=str(path))
    if info.st_size > limit:
        raise UsageError(f"{what} is {info.st_size} bytes; more than {limit} is refused",
                         where=str(path))
    return path


def _bad_byte(path: Path, data: bytes, offset: int) -> UsageError:
    line = data.count(b"\n", 0, offset) + 1
    column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    return UsageError(f"not UTF-8: byte 0x{data[offset]:02x} at line {line}, column {column}",
                      where=str(path))


def _first_bad_byte(path: Path) -> UsageError:
    """Where a file stops being UTF-8 (the text reader only knows the block)."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    line, column = 1, 1
    with path.open("rb") as handle:
        while block := handle.read(1 << 16):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                good = block[:exc.start]
                if b"\n" in good:
                    line, column = line + good.count(b"\n"), len(good) - good.rfind(b"\n")
                else:
                    column += len(good)
                return UsageError(f"not UTF-8: byte 0x{block[exc.start]:02x} at line {line}, "
                                  f"column {column}", where=str(path))
            if b"\n" in block:
                line, column = line + block.count(b"\n"), len(block) - block.rfind(b"\n")
            else:
                column += len(block)
    return UsageError("not UTF-8", where=str(path))


def read_user_text(path: Path, *, what: str, limit: int) -> str:
    path = regular_file(Path(path), what=what, limit=limit)
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {what}: {exc.strerror}", where=str(path)) from None
    if len(data) > limit:  # it grew since stat
        raise UsageError(f"{what} is more than {limit} bytes; refused", where=str(path))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _bad_byte(path, data, exc.start) from None


def csv_rows(path: Path, *, what: str, limit: int = MAX_CSV_BYTES
             ) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, {column: text}) per data row, streamed; the header is the first
    row. Cells are stripped of surrounding spaces. A row with more or fewer
    cells than the header is refused by line, as is an empty file."""
    path = regular_file(Path(path), what=what, limit=limit)
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise UsageError(f"cannot read {what}: {exc.strerror}", where=str(path)) from None
    with handle:
        text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
        reader = csv.reader(text)
        old_limit = csv.field_size_limit(MAX_FIELD)
        try:
            header: list[str] | None = None
            for cells in reader:
                if handle.tell() > limit:
                    raise UsageError(f"{what} is more than {limit} bytes; refused",
                                     where=str(path))
                if header is None:
                    header = [c.strip() for c in cells]
                    if len(set(header)) < len(header):
                        raise InvalidInput("the header names a column twice",
                                           where=f"{path}:1")
                    continue
                if not cells or cells == [""]:
                    continue
                if len(cells) != len(header):
                    raise InvalidInput(f"{len(cells)} cells where the header has "
                                       f"{len(header)}", where=f"{path}:{reader.line_num}")
                yield reader.line_num, dict(zip(header, (c.strip() for c in cells),
                                                strict=True))
        except UnicodeDecodeError:
            raise _first_bad_byte(path) from None
        except csv.Error as exc:
            raise InvalidInput(f"CSV does not parse: {exc}",
                               where=f"{path}:{reader.line_num}") from None
        finally:
            csv.field_size_limit(old_limit)
        if header is None:
            raise InvalidInput("the file is empty; expected a header row", where=str(path))


def csv_header(path: Path, *, what: str) -> list[str]:
    """The header row alone (for a message naming the columns found)."""
    path = regular_file(Path(path), what=what, limit=MAX_CSV_BYTES)
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        return [c.strip() for c in next(csv.reader(handle), [])]


def _depth(document: Any) -> int:
    deepest, stack = 0, [(document, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, level)
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, level + 1) for child in children
                         if isinstance(child, dict | list))
    return deepest


def read_user_json(path: Path, *, what: str, limit: int = MAX_JSON_BYTES) -> Any:
    """A JSON document; NaN and Infinity (which Python's json reads) and
    nesting past ``MAX_DEPTH`` are refused with the file named."""
    path = Path(path)
    text = read_user_text(path, what=what, limit=limit)

    def refuse(constant: str) -> None:
        raise InvalidInput(f"{constant} is not a number JSON allows", where=str(path))

    try:
        document = json.loads(text, parse_constant=refuse)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"not JSON: {exc.msg}", where=f"{path}:{exc.lineno}:{exc.colno}"
                           ) from None
    except RecursionError:
        raise InvalidInput(f"nested more than {MAX_DEPTH} levels deep", where=str(path)
                           ) from None
    if _depth(document) > MAX_DEPTH:
        raise InvalidInput(f"nested more than {MAX_DEPTH} levels deep", where=str(path))
    return document
