"""The ``Scorer`` interface: per-image records, never aggregates."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# scores.parquet columns. ``score`` is the raw number (probability, margin,
# detector confidence, colour distance); ``decision`` is the label the scorer
# settles on for (image, attribute), repeated on each of that pair's rows, and
# may be ``unclear`` or ``no_person`` - recorded, never dropped.
SCORE_COLUMNS = ["image_id", "scorer", "attribute", "label", "score", "decision"]
ABSTAIN = ("unclear", "no_person")


@dataclass(frozen=True)
class ScoreInput:
    image_id: str
    image: Any  # PIL.Image.Image in RGB
    key: str | None = None  # content hash (e.g. the PNG's sha256), for embedding caches


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
