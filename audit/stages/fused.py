"""Fused scoring: score images while they are generated, from the very pixels
written into their PNGs, so a run never reads back what it just wrote.

Generation's writer thread hands over each batch after its PNGs and journal
rows are written; one scorer thread scores what has arrived (on a GPU, in its
own CUDA stream, while the next batch denoises). The queue is bounded: when
scoring falls behind, generation waits instead of piling pixels up in memory.

What is held is only a cache of results by image and PNG sha256. The score
tables are written by the score stage at the end, which takes these results
for the images they match and scores every other valid image (one stored by
an earlier, interrupted run) from its PNG; the rows are ordered the same way
either way (``score.in_order``), so the tables equal an ``audit score`` of
the finished run.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from audit.api.scorer import Scorer
from audit.stages.score import BATCH, Rows, empty_rows, on_gpu, score_batch, screen

Handed = tuple[str, Any, str]  # image_id, RGB image (PIL or uint8 array), PNG sha256
_DONE = None


class FusedScoring:
    def __init__(self, scorers: Sequence[Scorer], *, depth: int = 2) -> None:
        self.scorers = list(scorers)
        self.rows = empty_rows()
        self.keys: dict[str, str] = {}  # image_id -> sha256 of the PNG it was scored as
        self.error: BaseException | None = None
        self._queue: queue.Queue[list[Handed] | None] = queue.Queue(maxsize=depth)
        self._thread = threading.Thread(target=self._work, name="fused-scorer", daemon=True)
        self._thread.start()

    def submit(self, images: list[Handed]) -> None:
        """Called by generation once these images' PNGs are written; blocks
        while the scorer is ``depth`` batches behind."""
        if self.error is not None:
            raise self.error
        if images:
            self._queue.put(images)

    def close(self) -> None:
        """Wait for what was handed over; raise what the scorer thread raised."""
        if self._thread.is_alive():
            self._queue.put(_DONE)
            self._thread.join()
        if self.error is not None:
            raise self.error

    def __enter__(self) -> FusedScoring:
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._thread.is_alive():  # generation failed: stop the thread, drop results
            self._queue.put(_DONE)
            self._thread.join()

    def _stream(self) -> Any:
        if not on_gpu(self.scorers):
            return contextlib.nullcontext()
        import torch

        device = next(s.device for s in self.scorers if str(s.device).startswith("cuda"))
        return torch.cuda.stream(torch.cuda.Stream(device=device))

    def _next(self) -> tuple[list[Handed], bool]:
        """What has arrived, up to one scoring batch, and whether that was all."""
        job = self._queue.get()
        if job is _DONE:
            return [], True
        batch = list(job)
        while len(batch) < BATCH:
            try:
                more = self._queue.get_nowait()
            except queue.Empty:
                break
            if more is _DONE:
                return batch, True
            batch += more
        return batch, False

    def _work(self) -> None:
        with self._stream():
            done = False
            while not done:
                batch, done = self._next()
                if not batch or self.error is not None:
                    continue  # after an error: keep draining so submit never blocks
                try:
                    loaded = [screen(image_id, np.asarray(image), key)
                              for image_id, image, key in batch]
                    rows = empty_rows()
                    score_batch(loaded, self.scorers, rows)
                except BaseException as exc:  # raised in the generating thread
                    self.error = exc
                    continue
                for table, part in rows.items():
                    self.rows[table] += part
                self.keys.update({image_id: key for image_id, _, key in batch})

    def take(self, entries: Sequence[tuple[str, Any, str | None]]) -> tuple[Rows, set[str]]:
        """The rows of the ``entries`` (image_id, path, sha256) scored here
        from the bytes their PNG now holds, and their ids."""
        ids = {image_id for image_id, _, key in entries if key and self.keys.get(image_id) == key}
        return {table: [r for r in part if r["image_id"] in ids]
                for table, part in self.rows.items()}, ids
