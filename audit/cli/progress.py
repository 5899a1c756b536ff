"""Progress on stderr: a live bar in a terminal, plain periodic lines otherwise.

The rate counts only images made in this invocation (resumed ones are not
work done now) over the time since the stage started, so it is neither
inflated at the end nor empty for the first minute; when stderr is a file or
a pipe, a heartbeat thread writes a line at least every ``EVERY`` seconds,
also while a model loads.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn
from rich.text import Text

stderr = Console(stderr=True)
EVERY = 5.0  # seconds between plain lines


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class Stage:
    """One stage's counts; implements the stages' Progress protocol."""

    def __init__(self, label: str, reporter: Reporter) -> None:
        self.label = label
        self.reporter = reporter
        self.total = self.done = self.skipped = 0
        self.started: float | None = None
        self.finished: float | None = None
        self.detail = ""

    def note(self, text: str) -> None:
        """A word on how the stage is going (e.g. Ray actors alive), shown with the counts."""
        self.detail = text
        self.reporter.update(self)

    def start(self, total: int, done: int) -> None:
        self.total, self.done, self.skipped = total, done, done
        self.started = time.monotonic()
        if done:
            self.reporter.line(f"{self.label}: resuming, {done} of {total} images already "
                               "done")
        self.reporter.begin(self)

    def advance(self, count: int) -> None:
        self.done += count
        self.reporter.update(self)

    def stop(self) -> None:
        if self.started is not None and self.finished is None:
            self.finished = time.monotonic()
            self.reporter.end(self)

    def rate(self) -> float | None:
        made = self.done - self.skipped
        if self.started is None or made <= 0:
            return None
        elapsed = (self.finished or time.monotonic()) - self.started
        return made / elapsed if elapsed > 0 else None

    def summary(self) -> str:
        rate = self.rate()
        elapsed = (self.finished or time.monotonic()) - (self.started or time.monotonic())
        text = f"{self.label}: {self.done}/{self.total}"
        if self.total:
            text += f" ({self.done / self.total:.0%})"
        if rate:
            text += f", {rate:.2f} img/s"
            if self.finished is None and self.done < self.total:
                text += f", eta {_duration((self.total - self.done) / rate)}"
        elif self.finished is None:
            text += ", first batch in progress"
        return text + f", {_duration(elapsed)} elapsed" + (f", {self.detail}" if self.detail
                                                            else "")


class _Rate(ProgressColumn):
    def __init__(self, stages: dict[Any, Stage]) -> None:
        super().__init__()
        self.stages = stages

    def render(self, task: Any) -> Text:
        stage = self.stages.get(task.id)
        if stage is None:
            return Text("")
        rate = stage.rate()
        if not rate:
            return Text("first batch…" if stage.finished is None else "", style="cyan")
        text = f"{rate:.2f} img/s"
        if stage.finished is None and stage.done < stage.total:
            text += f"  eta {_duration((stage.total - stage.done) / rate)}"
        return Text(text, style="cyan")


class Reporter:
    """Progress for one command, over however many stages it runs."""

    def __init__(self, command: str, *, live: bool | None = None, every: float = EVERY) -> None:
        self.command = command
        self.live = stderr.is_terminal if live is None else live
        self.every = every
        self.opened = time.monotonic()
        self.current: Stage | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._stages: dict[Any, Stage] = {}
        self._begun: list[Stage] = []
        self._tasks: dict[int, Any] = {}
        self._bar: Progress | None = None
        self._ticker: threading.Thread | None = None
        if not self.live:
            self._ticker = threading.Thread(target=self._tick, name="progress", daemon=True)
            self._ticker.start()

    def stage(self, label: str) -> Stage:
        return Stage(label, self)

    def line(self, text: str) -> None:
        stderr.print(text, markup=False, highlight=False, soft_wrap=True)

    # -- called by stages --------------------------------------------------
    def begin(self, stage: Stage) -> None:
        with self._lock:
            self.current = stage
            self._begun.append(stage)
        if self.live:
            if self._bar is None:
                self._bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                     MofNCompleteColumn(), _Rate(self._stages),
                                     console=stderr, transient=False)
                self._bar.start()
            task = self._bar.add_task(stage.label, total=stage.total, completed=stage.done)
            self._tasks[id(stage)] = task
            self._stages[task] = stage

    def update(self, stage: Stage) -> None:
        if self.live and self._bar is not None and id(stage) in self._tasks:
            self._bar.update(self._tasks[id(stage)], completed=stage.done)

    def end(self, stage: Stage) -> None:
        with self._lock:
            if self.current is stage:
                self.current = None
        if self.live:
            self.update(stage)
        else:
            self.line(stage.summary())

    # -- plain lines -------------------------------------------------------
    def _tick(self) -> None:
        while not self._stop.wait(self.every):
            with self._lock:
                stage = self.current
            if stage is not None:
                self.line(stage.summary())
            else:
                self.line(f"{self.command}: working "
                          f"({_duration(time.monotonic() - self.opened)} elapsed)")

    def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=1)
        if self._bar is not None:
            self._bar.stop()

    def __enter__(self) -> Reporter:
        return self

    def __exit__(self, *exc: Any) -> None:
        for stage in list(self._begun):
            stage.stop()
        self.close()
