"""The ``Scorer`` interface: per-image decisions and measurements, never aggregates.

A scorer writes two kinds of rows (schemas in ``schemas/score-*.schema.json``):

- a **decision** per (image, attribute): the label it settles on, possibly
  ``unclear`` (a close call) or ``no_person``, with ``confidence``, the
  probability in [0, 1] it gives its top label (null when it has no
  probability, e.g. colorimetry);
- **measurements**: the raw numbers behind decisions, one row per (image,
  attribute, quantity, label). What a number means is declared by the
  scorer's ``outputs()`` (quantity, unit, direction) and written into every
  row, so a reader never needs to know which scorer wrote it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

ABSTAIN = ("unclear", "no_person")
# The attribute adherence and vqa decide (does the image show what the prompt
# names?) and what a person can say for certain about it ("unclear" gives no truth).
ON_CLASS = "on_class"
ON_CLASS_LABELS = ["on", "off"]
# Which values point toward the row's label (or mean "more" of the quantity):
# higher (probabilities, margins, detector confidences), lower (distances),
# none (a plain measurement such as an angle).
Direction = Literal["higher", "lower", "none"]
DIRECTIONS: tuple[Direction, ...] = ("higher", "lower", "none")


@dataclass(frozen=True)
class Output:
    """One kind of measurement a scorer writes."""

    attribute: str
    quantity: str
    unit: str
    direction: Direction
    description: str
    per_label: bool = True  # one row per label (probabilities) or one per image (an angle)


@dataclass(frozen=True)
class Decision:
    image_id: str
    attribute: str
    label: str
    confidence: float | None = None


@dataclass(frozen=True)
class Measurement:
    image_id: str
    attribute: str
    quantity: str
    label: str | None
    value: float


@dataclass
class Scored:
    """What one ``score`` call returns."""

    decisions: list[Decision] = field(default_factory=list)
    measurements: list[Measurement] = field(default_factory=list)


@dataclass(frozen=True)
class ScoreInput:
    image_id: str
    # RGB: a PIL image, or an (H, W, 3) uint8 array as the score stage decodes
    # it (no PIL round trip on the fast path); read it with rgb_array/pil_image.
    image: Any
    key: str | None = None  # content hash (e.g. the PNG's sha256), for embedding caches
    # Per-image results that several scorers need (e.g. face boxes), computed
    # by the first that asks; see audit.scorers.shared.
    shared: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


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
    name: ClassVar[str]
    version: ClassVar[str]
    # Options accepted as ``-S NAME.KEY=VALUE`` / ``scorer_options={NAME: {...}}``:
    # key -> one-line help. ``build`` receives them as strings or Python values.
    options: ClassVar[dict[str, str]] = {}
    device: str = "cpu"  # where it computes; the score stage pins memory for CUDA

    @classmethod
    def build(cls, options: dict[str, Any], context: Any) -> Scorer:
        """Construct from an option mapping (``context``: audit.scorers.BuildContext,
        whose ``shared`` holds objects several scorers use)."""
        return cls(**options)

    @classmethod
    def resolve_options(cls, options: dict[str, Any], base: Path) -> dict[str, Any]:
        """Options as a suite file gives them: file names made absolute against
        the suite's folder and data files checked, so a bad one fails when the
        suite loads. Raises InvalidInput."""
        return dict(options)

    @abstractmethod
    def labels(self) -> dict[str, list[str]]:
        """Attribute -> every label a decision can carry (abstentions included)."""

    @abstractmethod
    def outputs(self) -> list[Output]:
        """Every measurement kind it writes."""

    @abstractmethod
    def score(self, images: Sequence[ScoreInput]) -> Scored:
        """Decisions and measurements for these images (the stage adds the scorer name)."""

    @abstractmethod
    def card(self) -> dict[str, Any]:
        """Version, weights sha256, preprocessing, label sets, thresholds, limitations."""


# (image_id, image file, sha256 or None): what a scoring pool is given.
ScoreEntry = tuple[str, Path, "str | None"]
# The score tables' rows before they are written: "decisions", "measurements", "inputs".
ScoreRows = dict[str, list[dict[str, Any]]]


class ScorerPool(ABC):
    """Scorers that run elsewhere (a Ray cluster): given a run's image files,
    it returns the rows the score stage writes here, in the entries' order."""

    @abstractmethod
    def score_entries(self, entries: list[ScoreEntry], progress: Any | None) -> ScoreRows:
        """The three tables' rows for these images."""

    @abstractmethod
    def cards(self) -> list[dict[str, Any]]:
        """Each scorer's card, as ``Scorer.card`` gives it."""

    @abstractmethod
    def close(self) -> None:
        """Release the workers."""


def resolve_file_option(options: dict[str, Any], key: str, base: Path,
                        check: Any) -> dict[str, Any]:
    """``options`` with ``key`` (a data file name) made absolute against
    ``base`` and checked by ``check(path)``."""
    out = dict(options)
    if out.get(key):
        out[key] = str((base / str(out[key])).resolve())
        check(Path(out[key]))
    return out


def per_label(image_id: str, attribute: str, quantity: str, values: dict[str, float]
              ) -> list[Measurement]:
    return [Measurement(image_id, attribute, quantity, label, float(value))
            for label, value in values.items()]
