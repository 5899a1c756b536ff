"""Write-then-rename, so a killed process never leaves a half-written file."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

_UMASK = os.umask(0)
os.umask(_UMASK)


def output_file(path: Path, *, what: str = "the output") -> Path:
    """A file a command may write: not a folder, in a place it can write.
    Commands call it before their work, so a wrong -o costs nothing."""
    from audit.errors import UsageError

    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{what} is a folder; give a file name inside it", where=str(path))
    parent = next((p for p in path.absolute().parents if p.exists()), None)
    if parent is None or not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{what} cannot be written there (no permission to write in "
                         f"{parent})", where=str(path))
    return path


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place on success."""
    output_file(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp's 0600 would hide results from other users
    try:
        with naming(path):
            yield Path(tmp)
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


@contextlib.contextmanager
def naming(path: Path) -> Iterator[None]:
    """A write error (disk full, quota) says which file it was writing."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None and exc.errno is not None:
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise


def write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, document: object) -> None:
    """Indented JSON; NaN is refused (JSON has none)."""
    import json

    write_text(path, json.dumps(document, indent=2, allow_nan=False) + "\n")
