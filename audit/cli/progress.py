"""A rich progress bar with images/s (new images only) and ETA, on stderr."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

stderr = Console(stderr=True)


class _Rate(ProgressColumn):
    def render(self, task: Any) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.2f} img/s" if speed else "- img/s", style="cyan")


class ImageProgress:
    """Implements the stages' Progress protocol."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                             MofNCompleteColumn(), _Rate(), TimeElapsedColumn(),
                             TextColumn("eta"), TimeRemainingColumn(), console=stderr,
                             transient=False)
        self._task: Any = None

    def start(self, total: int, done: int) -> None:
        if done:
            stderr.print(f"resuming: {done} of {total} images already done, skipped")
        self._bar.start()
        self._task = self._bar.add_task(self.label, total=total, completed=done)

    def advance(self, count: int) -> None:
        self._bar.advance(self._task, count)

    def stop(self) -> None:
        self._bar.stop()
