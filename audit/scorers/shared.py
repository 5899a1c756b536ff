"""What several scorers share: one CLIP encoder per model, one detector
session, and per-image detections computed once (the first scorer that asks
stores them on the ScoreInput)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from audit.api.scorer import ScoreInput, rgb_array


@dataclass
class BuildContext:
    """Settings every scorer may use, and the heavy objects they share."""

    device: str = "auto"
    cache_folder: Path | None = None  # embedding cache (inside the run for runs)
    batch_size: int | None = None
    _shared: dict[tuple[Any, ...], Any] = field(default_factory=dict, repr=False)

    def clip_encoder(self, model: str, pretrained: str | None) -> Any:
        """One ImageEncoder per (model, weights): clip and clip_concepts on the
        same CLIP encode each image once."""
        from audit.scorers.clip_model import ImageEncoder, load_clip, resolve_pretrained

        key = ("clip", model, resolve_pretrained(model, pretrained))
        if key not in self._shared:
            self._shared[key] = ImageEncoder(load_clip(model, pretrained, device=self.device),
                                             cache_folder=self.cache_folder,
                                             batch_size=self.batch_size)
        return self._shared[key]

    def face_detector(self, upsample: int = 0) -> Any:
        """One dlib face detector per upsampling: its boxes are the face gate
        of face_attributes and skin_tone (computed once per image)."""
        from audit.scorers.faces import FaceDetector

        key = ("faces", upsample)
        if key not in self._shared:
            self._shared[key] = FaceDetector(upsample)
        return self._shared[key]

    def age_gender(self) -> Any:
        from audit.scorers.faces import age_gender_predictor

        if ("age_gender",) not in self._shared:
            self._shared[("age_gender",)] = age_gender_predictor()
        return self._shared[("age_gender",)]

    def nudenet(self) -> Any:
        from audit.scorers.nudenet_scorer import nudenet_detector

        if ("nudenet",) not in self._shared:
            self._shared[("nudenet",)] = nudenet_detector()
        return self._shared[("nudenet",)]


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
