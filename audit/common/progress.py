"""The progress protocol stages report to; the CLI renders it, the Python API
passes None (or any object with these two methods)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


class Progress(Protocol):
    def start(self, total: int, done: int) -> None: ...
    def advance(self, count: int) -> None: ...


@runtime_checkable
class Notes(Protocol):
    """A progress display that also shows a passing remark (how many Ray
    actors are alive); stages check for it with ``isinstance``."""

    def note(self, text: str) -> None: ...
