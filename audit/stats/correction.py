"""Correct observed label shares for a classifier's known confusion.

A scorer that calls 10% of women "male" biases every share it produces; with
a confusion matrix measured on labelled images, the true shares can be
estimated (Rogan-Gladen for two classes, matrix inversion for more) and the
interval widened by the matrix's own sampling error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


def rogan_gladen(p_observed: float, sensitivity: float, specificity: float) -> float:
    """True prevalence from apparent prevalence, clipped to [0, 1]."""
    youden = sensitivity + specificity - 1
    if youden <= 0:
        raise ValueError("sensitivity + specificity must exceed 1 for a correction")
    return float(np.clip((p_observed + specificity - 1) / youden, 0.0, 1.0))


def project_to_simplex(v: np.ndarray) -> np.ndarray:
    """Euclidean projection onto {p >= 0, sum p = 1} (sort-based algorithm)."""
    v = np.asarray(v, dtype=float)
    u = np.sort(v)[::-1]
    cumulative = np.cumsum(u) - 1
    rho = np.nonzero(u - cumulative / np.arange(1, len(v) + 1) > 0)[0][-1]
    return np.maximum(v - cumulative[rho] / (rho + 1), 0.0)


def correct_shares(observed: np.ndarray, confusion: np.ndarray) -> np.ndarray:
    """Solve observed = M^T p for p, where M[i, j] = P(predicted j | true i),
    then project onto the simplex."""
    observed = np.asarray(observed, dtype=float)
    confusion = np.asarray(confusion, dtype=float)
    rows = confusion.sum(axis=1, keepdims=True)
    if (rows == 0).any():
        raise ValueError("every true class needs at least one labelled image")
    m = confusion / rows
    shares = observed / observed.sum()
    p, *_ = np.linalg.lstsq(m.T, shares, rcond=None)
    return project_to_simplex(p)


@dataclass(frozen=True)
class Corrected:
    categories: list[str]
    observed: np.ndarray
    corrected: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    ci_method: str


def correct_with_interval(categories: list[str], observed_counts: np.ndarray,
                          confusion_counts: np.ndarray, *, draws: int = 2000,
                          alpha: float = 0.05, seed: int = 0) -> Corrected:
    """Corrected shares with a percentile bootstrap that resamples both the
    observed counts and each row of the confusion matrix."""
    observed_counts = np.asarray(observed_counts, dtype=int)
    confusion_counts = np.asarray(confusion_counts, dtype=int)
    n = observed_counts.sum()
    point = correct_shares(observed_counts, confusion_counts)
    rng = np.random.default_rng(seed)
    observed_p = observed_counts / n
    row_totals = confusion_counts.sum(axis=1)
    row_p = confusion_counts / row_totals[:, None]
    samples = np.empty((draws, len(categories)))
    for b in range(draws):
        obs = rng.multinomial(n, observed_p)
        conf = np.stack([rng.multinomial(t, p) for t, p in zip(row_totals, row_p, strict=True)])
        conf = conf + (conf.sum(axis=1, keepdims=True) == 0)  # never an empty row
        samples[b] = correct_shares(obs, conf)
    low, high = np.quantile(samples, [alpha / 2, 1 - alpha / 2], axis=0)
    method = ("Rogan-Gladen" if len(categories) == 2 else "confusion-matrix inversion")
    return Corrected(categories, observed_p, point, low, high,
                     f"{method}, bootstrap over counts and confusion ({draws} draws, seed {seed})")


def corrected_rows(proportions: Any, confusion: dict[str, dict[str, Any]], *,
                   alpha: float = 0.05, seed: int = 0) -> list[dict[str, Any]]:
    """Corrected shares per group for every attribute with a confusion matrix.
    Only confident predictions are observed, so the matrix is restricted to
    the true classes' columns (abstentions are accounted for by the funnel)."""
    rows: list[dict[str, Any]] = []
    for attribute, spec in confusion.items():
        classes = list(spec["true"])
        columns = [spec["predicted"].index(c) for c in classes]
        matrix = np.asarray(spec["confusion"])[:, columns]
        mine = proportions[proportions.attribute == attribute]
        for group, frame in mine.groupby("group", sort=False):
            counts = frame.set_index("category").reindex(classes)["k"].fillna(0).astype(int)
            if counts.sum() == 0:
                continue
            out = correct_with_interval(classes, counts.to_numpy(), matrix, alpha=alpha,
                                        seed=seed)
            for i, category in enumerate(classes):
                rows.append({"group": group, "attribute": attribute, "category": category,
                             "n": int(counts.sum()), "observed": float(out.observed[i]),
                             "corrected": float(out.corrected[i]),
                             "ci_low": float(out.ci_low[i]), "ci_high": float(out.ci_high[i]),
                             "ci_method": out.ci_method})
    return rows
