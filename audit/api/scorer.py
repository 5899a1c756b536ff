"""The ``Scorer`` interface: per-image records, never aggregates."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# scores.parquet columns. ``score`` is the raw number (probability, margin,
# detector confidence, colour distance); ``decision`` is the label the scorer
# settles on for (image, attribute), repeated on each of that pair's rows, and
# may be ``unclear`` or ``no_person`` - recorded, never dropped.
SCORE_COLUMNS = ["image_id", "scorer", "attribute", "label", "score", "decision"]
ABSTAIN = ("unclear", "no_person")


@dataclass(frozen=True)
class ScoreInput:
    image_id: str
    # RGB: a PIL image, or an (H, W, 3) uint8 array as the score stage decodes
    # it (no PIL round trip on the fast path); read it with rgb_array/pil_image.
    image: Any
    key: str | None = None  # content hash (e.g. the PNG's sha256), for embedding caches


def rgb_array(item: ScoreInput) -> np.ndarray:
    """The image as an (H, W, 3) uint8 RGB array."""
    if isinstance(item.image, np.ndarray):
        return item.image
    return np.array(item.image.convert("RGB"))


def pil_image(item: ScoreInput) -> Any:
    """The image as a PIL RGB image."""
    from PIL import Image

    if isinstance(item.image, np.ndarray):
        return Image.fromarray(np.ascontiguousarray(item.image))
    return item.image.convert("RGB")


class Scorer(ABC):
    name: str
    version: str

    @abstractmethod
    def labels(self) -> dict[str, list[str]]:
        """Attribute -> label set (including abstentions it can emit)."""

    @abstractmethod
    def score(self, images: Sequence[ScoreInput]) -> list[dict[str, Any]]:
        """Rows with image_id, attribute, label, score, decision (scorer added later)."""

    @abstractmethod
    def card(self) -> dict[str, Any]:
        """Version, weights sha256, preprocessing, label sets, thresholds, limitations."""


def rows_for(image_id: str, attribute: str, scores: dict[str, float], decision: str
             ) -> list[dict[str, Any]]:
    return [{"image_id": image_id, "attribute": attribute, "label": label,
             "score": float(value), "decision": decision} for label, value in scores.items()]
