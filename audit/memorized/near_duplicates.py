"""Near-duplicates of generated images among reference images, by two
methods: a perceptual hash (imagehash's pHash, Hamming distance) and CLIP
image embeddings (cosine similarity).

Each method's threshold is calibrated on the reference images themselves:
their transformed copies (copies.py) should match their own original
(detection) and must not match any other reference image (false match).
The threshold is the loosest one at which the non-matching pairs of
reference images show (95% upper bound) a false-match rate within the
target. It is chosen on the non-matching pairs alone, so the copies'
detection rate at it is measured honestly; the false-match rate is measured
out of sample (references in two halves: a threshold chosen on one half is
scored on the other).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from audit.memorized.copies import copies

HASH, CLIP = "phash", "clip"


@dataclass(frozen=True)
class Rate:
    k: int
    n: int
    ci_low: float
    ci_high: float

    @property
    def rate(self) -> float:
        return self.k / self.n if self.n else float("nan")

    @classmethod
    def of(cls, hits: np.ndarray) -> Rate:
        from audit.stats.intervals import binomial_ci

        k, n = int(hits.sum()), int(hits.size)
        return cls(k, n, *binomial_ci(k, n))


@dataclass(frozen=True)
class Calibrated:
    """``threshold``: Hamming distance at most (hash) or cosine at least
    (CLIP) for a match; ``detection`` and ``false_match``: out of sample."""

    method: str
    threshold: float
    detection: Rate
    false_match: Rate
    target_shown: bool = True  # False: too few non-matching pairs to show the target


def phashes(images: Sequence[np.ndarray]) -> np.ndarray:
    """(N, 64) bool: imagehash's pHash of each RGB image."""
    import imagehash
    from PIL import Image

    return np.stack([imagehash.phash(Image.fromarray(rgb)).hash.reshape(-1)
                     for rgb in images]) if len(images) else np.zeros((0, 64), bool)


def hamming(a: np.ndarray, b: np.ndarray, chunk: int = 512) -> np.ndarray:
    out = np.empty((len(a), len(b)), dtype=np.int16)
    for start in range(0, len(a), chunk):
        out[start:start + chunk] = (a[start:start + chunk, None, :] != b[None, :, :]).sum(-1)
    return out


def closeness(method: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Higher is closer, for both methods: minus the Hamming distance, or
    the cosine of two L2-normalised embeddings."""
    return -hamming(a, b).astype(np.float64) if method == HASH else a @ b.T


def _threshold(negatives: np.ndarray, target: float, confidence: float = 0.95
               ) -> tuple[float, bool]:
    """The lowest closeness at which the non-matching pairs show, with
    ``confidence``, a false-match rate within ``target`` (the Clopper-Pearson
    upper bound of the share of them that reach it); the loosest threshold
    meeting the target in sample would miss it on fresh images about half
    the time. With too few pairs to show the target at all: just beyond the
    closest pair, and False."""
    from scipy.stats import beta

    n = negatives.size
    allowed = -1
    for k in range(n):
        upper = 1.0 if k >= n else float(beta.ppf(confidence, k + 1, n - k))
        if upper > target:
            break
        allowed = k
    ordered = np.sort(negatives)[::-1]
    return float(np.nextafter(ordered[max(allowed, 0)], np.inf)), allowed >= 0


def _pairs(method: str, originals: np.ndarray, variants: np.ndarray, owner: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    """For each copy: closeness to its own original (a positive) and to the
    closest other original (a negative)."""
    close = closeness(method, variants, originals)
    rows = np.arange(len(variants))
    positives = close[rows, owner]
    close[rows, owner] = -np.inf
    return positives, close.max(axis=1)


def _half(method: str, originals: np.ndarray, variants: np.ndarray, owner: np.ndarray,
          chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``_pairs`` among the originals ``chosen`` and their copies only."""
    index = np.flatnonzero(chosen)
    keep = chosen[owner]
    return _pairs(method, originals[index], variants[keep], np.searchsorted(index, owner[keep]))


def calibrate(method: str, originals: np.ndarray, variants: np.ndarray, owner: np.ndarray,
              *, target: float, seed: int = 0) -> Calibrated:
    """``originals``: features of the reference images; ``variants``: of
    their copies, ``owner[i]`` the original of copy i."""
    count = len(originals)
    rng = np.random.default_rng(seed)
    half = np.zeros(count, bool)
    half[rng.permutation(count)[:count // 2]] = True
    matched = []
    for fit in (half, ~half):
        # a threshold from one half's copies against that half's originals,
        # scored on the other half: the false-match rate it was not fitted to
        threshold, _ = _threshold(_half(method, originals, variants, owner, fit)[1], target)
        matched.append(_half(method, originals, variants, owner, ~fit)[1] >= threshold)
    positives, negatives = _pairs(method, originals, variants, owner)
    threshold, shown_within = _threshold(negatives, target)
    # the threshold is chosen on the negatives alone: the copies' detection
    # rate at it is not fitted
    detection = Rate.of(positives >= threshold)
    shown = float(np.floor(-threshold)) if method == HASH else threshold
    return Calibrated(method, shown, detection, Rate.of(np.concatenate(matched)),
                      shown_within)


@dataclass(frozen=True)
class Features:
    """One method's features of the reference images, their copies and the
    generated images."""

    method: str
    originals: np.ndarray
    variants: np.ndarray
    generated: np.ndarray


def reference_copies(images: Sequence[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
    variants, owner = [], []
    for index, rgb in enumerate(images):
        for copy in copies(rgb).values():
            variants.append(copy)
            owner.append(index)
    return variants, np.array(owner, dtype=np.int64)


def match(features: Features, owner: np.ndarray, *, target: float) -> tuple[Calibrated, Any]:
    """The calibrated threshold, and per generated image its closest
    reference image, the closeness and whether it is a match."""
    calibrated = calibrate(features.method, features.originals, features.variants, owner,
                           target=target)
    close = closeness(features.method, features.generated, features.originals)
    nearest = close.argmax(axis=1)
    best = close[np.arange(len(close)), nearest]
    hits = best >= -calibrated.threshold if features.method == HASH else \
        best >= calibrated.threshold
    value = -best if features.method == HASH else best
    return calibrated, (nearest, value, hits)


MIN_REFERENCE = 4  # two per half, so each half has another image to mistake a copy for
