"""Read a submission (zip, folder or JSON file) into memory, safely.

Nothing is extracted or written: zip members are read with caps on count,
size and compression ratio, and names that could escape a folder (``..``,
absolute paths), symlinks and undecodable names are refused with a finding.
"""

from __future__ import annotations

import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

MAX_MEMBERS = 500
MAX_TOTAL_BYTES = 300 * 2**20
MAX_MEMBER_BYTES = 50 * 2**20
MAX_JSON_BYTES = 5 * 2**20
MAX_RATIO = 200  # uncompressed / compressed, per member
JUNK = ("__MACOSX/", ".DS_Store", "Thumbs.db")


@dataclass
class Finding:
    level: str  # error | warning
    where: str
    message: str
    hint: str | None = None


@dataclass
class Submission:
    source: Path
    kind: str  # zip | folder | json
    files: dict[str, bytes] = field(default_factory=dict)  # flat name -> content
    findings: list[Finding] = field(default_factory=list)

    def error(self, where: str, message: str, hint: str | None = None) -> None:
        self.findings.append(Finding("error", where, message, hint))

    def warning(self, where: str, message: str, hint: str | None = None) -> None:
        self.findings.append(Finding("warning", where, message, hint))


class Unreadable(Exception):
    """The input cannot be read at all (exit 2)."""


def _is_junk(name: str) -> bool:
    return name.startswith("__MACOSX/") or PurePosixPath(name).name in JUNK[1:]


def read_zip(path: Path) -> Submission:
    sub = Submission(path, "zip")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise Unreadable(f"{path}: not a readable zip file ({exc})") from None
    with archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            sub.error(str(path), f"{len(members)} entries; more than {MAX_MEMBERS} is refused",
                      "zip only the JSON file and its images")
            return sub
        total = 0
        folders: dict[str, None] = {}
        for info in members:
            name = info.filename
            where = f"{path}!{name}"
            if not info.flag_bits & 0x800 and not name.isascii():
                sub.error(where, "the entry name is not UTF-8 encoded",
                          "rename the file with plain ASCII characters and zip it again")
                continue
            parts = PurePosixPath(name.replace("\\", "/")).parts
            if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                sub.error(where, "entry path is absolute or climbs out of the folder ('..')",
                          "zip the files themselves, from inside their folder")
                continue
            if stat.S_ISLNK(info.external_attr >> 16):
                sub.error(where, "entry is a symbolic link", "zip the real files")
                continue
            if _is_junk(name):
                if not info.is_dir():
                    sub.warning(where, "macOS/Windows metadata file in the zip",
                                "harmless, but zip with 'zip -X' or remove it")
                continue
            if info.is_dir() or len(parts) > 1:
                folders.setdefault(parts[0], None)
                if info.is_dir():
                    continue
            if info.file_size > MAX_MEMBER_BYTES:
                sub.error(where, f"entry is {info.file_size} bytes uncompressed; larger than "
                          f"{MAX_MEMBER_BYTES} is refused", "resize or recompress the image")
                continue
            if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
                sub.error(where, "compression ratio is implausibly high (a zip bomb?)",
                          "zip ordinary files")
                continue
            total += info.file_size
            if total > MAX_TOTAL_BYTES:
                sub.error(str(path), f"more than {MAX_TOTAL_BYTES} bytes uncompressed",
                          "zip only the JSON file and its images")
                break
            try:
                with archive.open(info) as member:
                    data = member.read(MAX_MEMBER_BYTES + 1)
            except (zipfile.BadZipFile, OSError, NotImplementedError, RuntimeError) as exc:
                sub.error(where, f"entry cannot be read ({exc})", "zip the file again")
                continue
            stored = parts[-1] if len(parts) > 1 else name
            if stored in sub.files:
                sub.error(where, f"a second entry named '{stored}'; which one counts is "
                          "unclear", "zip each file once")
                continue
            sub.files[stored] = data
    if folders:  # one finding for the zip, with an example that fits this submission
        json_name = next((n for n in sorted(sub.files) if n.lower().endswith(".json")),
                         "TASK.json")
        sub.error(str(path), f"the zip contains folders ({', '.join(f'{f}/' for f in folders)}); "
                  "the course asks for a flat zip",
                  f"zip the JSON and images directly, without a folder: zip {path.name} "
                  f"{json_name} *.png *.jpg")
    return sub


def read_folder(path: Path, only: set[str] | None = None) -> Submission:
    """The folder's regular files (``only``: just these names). FIFOs, devices
    and sockets are findings, never opened: reading a FIFO would block."""
    sub = Submission(path, "folder")
    for entry in sorted(path.iterdir()):
        if only is not None and entry.name not in only:
            continue
        where = str(entry)
        if entry.is_symlink():
            sub.error(where, "symbolic link", "use the real file")
        elif entry.name in JUNK[1:] or entry.name == "__MACOSX":
            sub.warning(where, "macOS/Windows metadata", "remove it before zipping")
        elif entry.is_dir():
            sub.error(where, "a folder inside the submission; the course asks for a flat zip",
                      "move the files up beside the JSON")
        elif not entry.is_file():
            sub.error(where, "not a regular file (a pipe, device or socket)",
                      "submit ordinary files only")
        elif entry.stat().st_size > MAX_MEMBER_BYTES:
            sub.error(where, f"larger than {MAX_MEMBER_BYTES} bytes", "resize the image")
        else:
            sub.files[entry.name] = entry.read_bytes()
    return sub


def _referenced_names(path: Path) -> set[str]:
    """File names a JSON file mentions (any string value), so that validating
    one JSON file opens only the images it names, not the whole folder."""
    import json

    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError, OSError):
        return set()
    names: set[str] = set()
    stack = [document]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack += list(value.values())
        elif isinstance(value, list):
            stack += value
        elif isinstance(value, str) and len(value) < 256 and "/" not in value:
            names.add(value)
    return names


def read_submission(path: Path) -> tuple[Submission, list[str]]:
    """The submission and its candidate JSON files (for a .json path: that file)."""
    if not path.exists():
        raise Unreadable(f"{path}: no such file or folder")
    if not path.is_dir() and not path.is_file():
        raise Unreadable(f"{path}: not a regular file (a pipe, device or socket)")
    if path.is_dir():
        sub = read_folder(path)
    elif path.suffix.lower() == ".json" and zipfile.is_zipfile(path):
        sub = read_zip(path)
        sub.warning(str(path), "this is a zip file with a .json name; read as a zip",
                    "name it TASK.zip (e.g. story.zip)")
    elif path.suffix.lower() == ".json":
        if not path.is_file():
            raise Unreadable(f"{path}: not a regular file")
        if path.stat().st_size > MAX_JSON_BYTES:
            raise Unreadable(f"{path}: JSON larger than {MAX_JSON_BYTES} bytes")
        sub = read_folder(path.parent, only=_referenced_names(path))
        sub.kind = "json"
        # other files beside a lone JSON are not part of its submission's hygiene
        sub.findings = []
        return sub, [path.name]
    elif zipfile.is_zipfile(path):
        sub = read_zip(path)
    else:
        raise Unreadable(f"{path}: not a zip file, a folder or a .json file")
    return sub, sorted(n for n in sub.files if n.lower().endswith(".json"))
