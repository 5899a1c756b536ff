"""Effect sizes with direction, and published metrics kept for comparability.

The signed effects say which way and how far a share departs from its
reference; the published metrics (HEIM, DALL-Eval, OpenBias) are reported
under their own names so numbers can be set beside those papers', even where
they have no interval or no reference.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats


def log_odds_vs_reference(k: int, n: int, p0: float, *, alpha: float = 0.05
                          ) -> tuple[float, float, float]:
    """log(odds observed / odds reference) with a Wald interval; 0.5 is added to
    both counts (Haldane-Anscombe) so 0 or n successes stay finite."""
    if n == 0 or not 0 < p0 < 1:
        return (float("nan"),) * 3
    a, b = k + 0.5, n - k + 0.5
    estimate = math.log(a / b) - math.log(p0 / (1 - p0))
    half = stats.norm.ppf(1 - alpha / 2) * math.sqrt(1 / a + 1 / b)
    return estimate, estimate - half, estimate + half


def representation_ratio(estimate: float, ci: tuple[float, float], p0: float
                         ) -> tuple[float, float, float]:
    """Observed share / expected share, with the share's interval scaled."""
    if not p0 > 0:
        return (float("nan"),) * 3
    return estimate / p0, ci[0] / p0, ci[1] / p0


def cohens_h(p: float, p0: float) -> float:
    from statsmodels.stats.proportion import proportion_effectsize

    return float(proportion_effectsize(p, p0))


def heim_imbalance(p: float) -> float:
    """HEIM's gender imbalance: |share - 0.5| (two categories)."""
    return abs(p - 0.5)


def mad_from_uniform(proportions: np.ndarray) -> float:
    """Mean absolute deviation from the uniform distribution (DALL-Eval's
    bias measure; HEIM applies it to Monk skin-tone shares)."""
    proportions = np.asarray(proportions, dtype=float)
    return float(np.abs(proportions - 1 / len(proportions)).mean())


def one_minus_normalised_entropy(proportions: np.ndarray) -> float:
    """OpenBias' bias score: 0 for a uniform distribution, 1 for a single class."""
    proportions = np.asarray(proportions, dtype=float)
    if len(proportions) < 2:
        return float("nan")
    return float(1 - stats.entropy(proportions) / math.log(len(proportions)))


def ordinal_shift(levels: np.ndarray, counts: np.ndarray, reference: np.ndarray, *,
                  alpha: float = 0.05) -> dict[str, float]:
    """For ordinal labels (Monk tone 1-10): mean level minus the reference's mean
    level (t interval from the observed spread), and the Wasserstein-1 distance
    between observed and reference distributions, in tone steps."""
    levels = np.asarray(levels, dtype=float)
    counts = np.asarray(counts, dtype=float)
    reference = np.asarray(reference, dtype=float)
    n = counts.sum()
    if n == 0:
        return {"mean_shift": float("nan"), "mean_shift_ci_low": float("nan"),
                "mean_shift_ci_high": float("nan"), "wasserstein": float("nan")}
    mean = float((levels * counts).sum() / n)
    ref_mean = float((levels * reference).sum() / reference.sum())
    if n > 1:
        var = float(((levels - mean) ** 2 * counts).sum() / (n - 1))
        half = stats.t.ppf(1 - alpha / 2, n - 1) * math.sqrt(var / n)
    else:
        half = float("nan")
    shift = mean - ref_mean
    return {"mean_shift": shift, "mean_shift_ci_low": shift - half,
            "mean_shift_ci_high": shift + half,
            "wasserstein": float(stats.wasserstein_distance(levels, levels, counts, reference))}
