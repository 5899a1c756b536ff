"""Choosing an abstention threshold from labelled images (pure numpy).

The unit is the **cosine margin**: cosine(image, top label) - cosine(image,
second label), with each label's prompt-ensemble embedding. Unlike a softmax
margin it does not depend on the model's logit scale (with ViT-L-14's 100, a
softmax margin of 0.2 is a cosine gap of about 0.004), so a threshold means
the same thing whatever the scale, and is chosen, not guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from audit.stats.intervals import binomial_ci

UNIT = "cosine_margin"


@dataclass(frozen=True)
class Fitted:
    threshold: float
    decided: int
    correct: int
    target_met: bool


def choose_threshold(margins: np.ndarray, correct: np.ndarray, *, target: float,
                     min_decided: int) -> Fitted:
    """The lowest abstention whose decided images (margin >= threshold) are
    at least ``target`` accurate, counting at least ``min_decided`` images.
    When no threshold gets there, the most accurate one that still decides
    ``min_decided`` images, with ``target_met`` False."""
    margins = np.asarray(margins, dtype=float)
    correct = np.asarray(correct, dtype=bool)
    order = np.argsort(-margins, kind="stable")
    m, c = margins[order], correct[order]
    decided = np.arange(1, len(m) + 1)
    right = np.cumsum(c)
    # deciding the first k images needs a threshold at m[k-1]; ties decide together
    last_of_tie = np.append(m[1:] != m[:-1], True)
    k = decided[last_of_tie]
    accuracy = right[last_of_tie] / k
    thresholds = m[last_of_tie]
    enough = k >= min(min_decided, len(m))
    ok = enough & (accuracy >= target)
    if ok.any():
        best = int(np.nonzero(ok)[0][-1])  # the most images decided
        met = True
    else:
        candidates = np.nonzero(enough)[0]
        best = int(candidates[np.argmax(accuracy[candidates] - 1e-12 * k[candidates])])
        met = False
    threshold = 0.0 if best == len(k) - 1 and met else float(thresholds[best])
    return Fitted(threshold, int(k[best]), int(right[last_of_tie][best]), met)


def calibrate_attribute(labels: list[str], cosines: np.ndarray, truth: list[str], *,
                        target: float, min_decided: int, alpha: float = 0.05
                        ) -> dict[str, Any]:
    """Accuracy and confusion of CLIP's top label against ``truth`` (one of
    ``labels`` per image), with and without the chosen threshold.

    ``cosines``: (images, labels) cosine similarity to each label's ensemble."""
    cosines = np.asarray(cosines, dtype=float)
    ranked = np.sort(cosines, axis=1)
    margins = ranked[:, -1] - ranked[:, -2]
    predicted = np.array(labels)[cosines.argmax(axis=1)]
    truth_array = np.array(truth)
    correct = predicted == truth_array
    fitted = choose_threshold(margins, correct, target=target, min_decided=min_decided)
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
        "n": n, "decided": fitted.decided, "abstention": 1 - fitted.decided / n,
        "accuracy": fitted.correct / fitted.decided, "accuracy_ci": [low, high],
        "accuracy_without_threshold": float(correct.mean()),
        "labels": list(labels), "outcomes": outcomes, "confusion": confusion,
        "per_label": per_label,
        "margin_quantiles": {q: float(np.quantile(margins, float(q)))
                             for q in ("0.1", "0.5", "0.9")},
    }
