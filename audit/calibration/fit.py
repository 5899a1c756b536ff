"""Choosing an abstention threshold from labelled images (pure numpy).

The unit is the **cosine margin**: cosine(image, top label) - cosine(image,
second label), with each label's prompt-ensemble embedding. Unlike a softmax
margin it does not depend on the model's logit scale (with ViT-L-14's 100, a
softmax margin of 0.2 is a cosine gap of about 0.004), so a threshold means
the same thing whatever the scale, and is chosen, not guessed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from audit.stats.intervals import binomial_ci

UNIT = "cosine_margin"


# The chosen threshold's accuracy on fresh images reaches the target with at
# least this probability (fixed-sequence testing; see choose_threshold).
CONFIDENCE = 0.9


@dataclass(frozen=True)
class Fitted:
    threshold: float
    decided: int
    correct: int
    target_met: bool


def first_testable(target: float, confidence: float) -> int | float:
    """Decided images needed before any threshold can show the target: all
    of k right has binomial p = target^k, at most 1 - confidence."""
    if target >= 1:
        return math.inf
    return math.ceil(math.log(1 - confidence) / math.log(target))


def choose_threshold(margins: np.ndarray, correct: np.ndarray, *, target: float,
                     min_decided: int, confidence: float = CONFIDENCE) -> Fitted:
    """The lowest abstention shown to be ``target`` accurate on fresh images
    with probability ``confidence``, whatever the labelled set.

    Thresholds are tested from the most confident down, each by an exact
    binomial test of "accuracy below target" at level 1 - confidence,
    starting where the decided images could show the target at all
    (``first_testable``, and ``min_decided``), and stopping at the first
    that fails: fixed-sequence testing (as in Learn then Test, Angelopoulos
    et al. 2021) needs no correction for the number of thresholds. Taking
    the raw accuracy on the labelled set instead met a 0.95 target on fresh
    images 44-46% of the time (benchmarks/calibration_fresh.py). When no
    threshold passes: the most accurate one that still decides
    ``min_decided`` images, with ``target_met`` False."""
    from scipy.stats import binom

    margins = np.asarray(margins, dtype=float)
    correct = np.asarray(correct, dtype=bool)
    order = np.argsort(-margins, kind="stable")
    m, c = margins[order], correct[order]
    decided = np.arange(1, len(m) + 1)
    right = np.cumsum(c)
    # deciding the first k images needs a threshold at m[k-1]; ties decide together
    last_of_tie = np.append(m[1:] != m[:-1], True)
    k, hits, thresholds = decided[last_of_tie], right[last_of_tie], m[last_of_tie]
    start = max(min_decided, first_testable(target, confidence))
    best = None
    for index in np.nonzero(k >= start)[0]:
        if binom.sf(hits[index] - 1, k[index], target) > 1 - confidence:
            break
        best = int(index)
    met = best is not None
    if not met:
        enough = np.nonzero(k >= min(min_decided, len(m)))[0]
        accuracy = hits[enough] / k[enough]
        best = int(enough[np.argmax(accuracy - 1e-12 * k[enough])])
    threshold = 0.0 if best == len(k) - 1 and met else float(thresholds[best])
    return Fitted(threshold, int(k[best]), int(hits[best]), met)


def calibrate_attribute(labels: list[str], cosines: np.ndarray, truth: list[str], *,
                        target: float, min_decided: int, alpha: float = 0.05,
                        confidence: float = CONFIDENCE) -> dict[str, Any]:
    """Accuracy and confusion of CLIP's top label against ``truth`` (one of
    ``labels`` per image), with and without the chosen threshold.

    ``cosines``: (images, labels) cosine similarity to each label's ensemble."""
    cosines = np.asarray(cosines, dtype=float)
    ranked = np.sort(cosines, axis=1)
    return _record(labels, np.array(labels)[cosines.argmax(axis=1)],
                   ranked[:, -1] - ranked[:, -2], truth, target=target,
                   min_decided=min_decided, alpha=alpha, confidence=confidence)


def on_class_margins(cosines: np.ndarray, named: np.ndarray) -> np.ndarray:
    """cosine(image, the class its prompt named) - the best cosine among the
    other classes and "none": positive reads on-class, negative off-class.
    The on/off question's own margin: when two other classes lead, the
    top-two margin would call a clear "off" uncertain."""
    cosines = np.asarray(cosines, dtype=float)
    rows = np.arange(len(cosines))
    mine = cosines[rows, named]
    others = cosines.copy()
    others[rows, named] = -np.inf
    return mine - others.max(axis=1)


def calibrate_on_class(cosines: np.ndarray, named: np.ndarray, truth: list[str], *,
                       target: float, min_decided: int, alpha: float = 0.05,
                       confidence: float = CONFIDENCE) -> dict[str, Any]:
    """The adherence scorer's on/off decision against ``truth`` (on or off
    per image): ``cosines`` (images, classes + none), ``named`` the column of
    the class each image's prompt asked for; the threshold is on
    ``|on_class_margins|``."""
    signed = on_class_margins(cosines, named)
    predicted = np.where(signed > 0, "on", "off")
    return _record(["on", "off"], predicted, np.abs(signed), truth, target=target,
                   min_decided=min_decided, alpha=alpha, confidence=confidence)


def _record(labels: list[str], predicted: np.ndarray, margins: np.ndarray, truth: list[str],
            *, target: float, min_decided: int, alpha: float,
            confidence: float) -> dict[str, Any]:
    from scipy.stats import beta

    truth_array = np.array(truth)
    correct = predicted == truth_array
    fitted = choose_threshold(margins, correct, target=target, min_decided=min_decided,
                              confidence=confidence)
    needed = first_testable(target, confidence)
    decided = margins >= fitted.threshold
    shown = np.where(decided, predicted, "unclear")
    outcomes = [*labels, "unclear"]
    confusion = [[int(((truth_array == t) & (shown == o)).sum()) for o in outcomes]
                 for t in labels]
    low, high = binomial_ci(fitted.correct, fitted.decided, alpha=alpha)
    per_label = {}
    for t in labels:
        mine = truth_array == t
        kept = mine & decided
        per_label[t] = {"n": int(mine.sum()), "decided": int(kept.sum()),
                        "accuracy": float(correct[kept].mean()) if kept.any() else None}
    n = len(truth)
    return {
        "unit": UNIT, "threshold": fitted.threshold, "target_met": fitted.target_met,
        "confidence": confidence,
        "accuracy_bound": float(beta.ppf(1 - confidence, fitted.correct,
                                         fitted.decided - fitted.correct + 1))
        if fitted.correct else 0.0,
        "labels_needed": needed if math.isfinite(needed) else None,
        "n": n, "decided": fitted.decided, "abstention": 1 - fitted.decided / n,
        "accuracy": fitted.correct / fitted.decided, "accuracy_ci": [low, high],
        "accuracy_without_threshold": float(correct.mean()),
        "labels": list(labels), "outcomes": outcomes, "confusion": confusion,
        "per_label": per_label,
        "margin_quantiles": {q: float(np.quantile(margins, float(q)))
                             for q in ("0.1", "0.5", "0.9")},
    }
