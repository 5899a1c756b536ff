"""The progress protocol stages report to; the CLI renders it, the Python API
passes None (or any object with these two methods)."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def start(self, total: int, done: int) -> None: ...
    def advance(self, count: int) -> None: ...
