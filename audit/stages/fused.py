"""Fused scoring: score images while they are generated, from the very pixels
written into their PNGs, so a run never reads back what it just wrote.

Generation's writer thread hands over each batch after its PNGs and journal
rows are written; scorer threads score what has arrived while the next batch
denoises: one for the scorers on a GPU (in its own CUDA stream), one for
those on the CPU. The queues are bounded: when scoring falls behind,
generation waits instead of piling pixels up in memory.

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


class _Lane:
    """One thread scoring every handed batch with some of the scorers."""

    def __init__(self, scorers: list[Scorer], depth: int, name: str) -> None:
        self.scorers = scorers
        self.rows = empty_rows()
        self.keys: dict[str, str] = {}  # image_id -> sha256 of the PNG it was scored as
        self.error: BaseException | None = None
        self.cancelled = False  # generation failed: what is queued is dropped
        self.queue: queue.Queue[list[Handed] | None] = queue.Queue(maxsize=depth)
        self.thread = threading.Thread(target=self._work, name=name, daemon=True)
        self.thread.start()

    def _stream(self) -> Any:
        if not on_gpu(self.scorers):
            return contextlib.nullcontext()
        import torch

        device = next(s.device for s in self.scorers if str(s.device).startswith("cuda"))
        return torch.cuda.stream(torch.cuda.Stream(device=device))

    def _next(self) -> tuple[list[Handed], bool]:
        """What has arrived, up to one scoring batch, and whether that was all."""
        job = self.queue.get()
        if job is _DONE:
            return [], True
        batch = list(job)
        while len(batch) < BATCH:
            try:
                more = self.queue.get_nowait()
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
                if not batch or self.error is not None or self.cancelled:
                    continue  # keep draining so submit never blocks
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

    def stop(self) -> None:
        if self.thread.is_alive():
            self.queue.put(_DONE)
            self.thread.join()


class FusedScoring:
    """Scorers on a GPU share one lane, those on the CPU (NudeNet, faces,
    colorimetry) another, so the two kinds of work overlap; scorers that
    share per-image results (face boxes, one CLIP encoder) sit in the same
    lane."""

    def __init__(self, scorers: Sequence[Scorer], *, depth: int = 2,
                 lanes: list[list[Scorer]] | None = None) -> None:
        self.scorers = list(scorers)
        if lanes is None:
            groups: dict[bool, list[Scorer]] = {}
            for scorer in self.scorers:
                groups.setdefault(str(scorer.device).startswith("cuda"), []).append(scorer)
            lanes = list(groups.values()) or [[]]
        self.lanes = [_Lane(group, depth, f"fused-scorer-{number}")
                      for number, group in enumerate(lanes)]

    def _raise(self) -> None:
        for lane in self.lanes:
            if lane.error is not None:
                raise lane.error

    def submit(self, images: list[Handed]) -> None:
        """Called by generation once these images' PNGs are written; blocks
        while a lane is ``depth`` batches behind."""
        self._raise()
        if images:
            for lane in self.lanes:
                lane.queue.put(images)

    def close(self) -> None:
        """Wait for what was handed over; raise what a scorer thread raised."""
        for lane in self.lanes:
            lane.stop()
        self._raise()

    def __enter__(self) -> FusedScoring:
        return self

    def __exit__(self, *exc: Any) -> None:
        for lane in self.lanes:  # generation failed: stop the threads, drop results
            lane.cancelled = lane.thread.is_alive()
            lane.stop()

    def take(self, entries: Sequence[tuple[str, Any, str | None]]) -> tuple[Rows, set[str]]:
        """The rows of the ``entries`` (image_id, path, sha256) scored here,
        by every lane, from the bytes their PNG now holds, and their ids."""
        ids = {image_id for image_id, _, key in entries
               if key and all(lane.keys.get(image_id) == key for lane in self.lanes)}
        rows = empty_rows()
        for number, lane in enumerate(self.lanes):
            for table, part in lane.rows.items():
                if table != "inputs" or number == 0:  # each lane screened every image
                    rows[table] += [r for r in part if r["image_id"] in ids]
        return rows, ids
