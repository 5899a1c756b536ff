"""What several scorers share: one CLIP encoder per model, one detector
session, and per-image detections computed once (the first scorer that asks
stores them on the ScoreInput)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from audit.api.scorer import ScoreInput, rgb_array

T = TypeVar("T")


@dataclass
class BuildContext:
    """Settings every scorer may use, and the heavy objects they share."""

    device: str = "auto"
    cache_folder: Path | None = None  # embedding cache (inside the run for runs)
    batch_size: int | None = None
    prompts: Any = None  # a PromptBook when scoring a run: what each image was asked to show
    _shared: dict[tuple[Any, ...], Any] = field(default_factory=dict, repr=False)

    def shared(self, key: tuple[Any, ...], build: Callable[[], T]) -> T:
        """One object per ``key`` for every scorer built with this context:
        clip and clip_concepts on the same CLIP encode each image once,
        face_attributes and skin_tone share one face detector. The key names
        what makes two objects interchangeable (model, weights, settings)."""
        if key not in self._shared:
            self._shared[key] = build()
        return self._shared[key]


FACES = ("FACE_FEMALE", "FACE_MALE")


def nudenet_detections(item: ScoreInput, detector: Any) -> list[dict[str, Any]]:
    """NudeNet's detections for an image, run once however many scorers ask.
    RGB arrays: its file-path route would feed BGR."""
    if "nudenet" not in item.shared:
        item.shared["nudenet"] = detector.detect(np.ascontiguousarray(rgb_array(item)))
    return item.shared["nudenet"]


def best_face(item: ScoreInput, detector: Any, threshold: float
                 ) -> tuple[int, int, int, int] | None:
    """The most confident face box (x, y, w, h) at or above ``threshold``."""
    faces = [d for d in nudenet_detections(item, detector)
             if d["class"] in FACES and d["score"] >= threshold]
    return tuple(max(faces, key=lambda d: d["score"])["box"]) if faces else None
