"""Confidence intervals for proportions (statsmodels does the arithmetic)."""

from __future__ import annotations

import numpy as np

from audit.errors import UsageError

# our name -> statsmodels proportion_confint method
BINOMIAL_METHODS = {"wilson": "wilson", "clopper-pearson": "beta", "jeffreys": "jeffreys"}
MULTINOMIAL_METHODS = ("goodman", "sison-glaz")


def check_ci_method(method: str) -> str:
    if method not in BINOMIAL_METHODS:
        raise UsageError(f"unknown interval method '{method}' "
                         f"(known: {', '.join(BINOMIAL_METHODS)})")
    return method


def binomial_ci(k: int, n: int, *, method: str = "wilson", alpha: float = 0.05
                ) -> tuple[float, float]:
    """Two-sided interval for k successes in n; (nan, nan) when n == 0."""
    from statsmodels.stats.proportion import proportion_confint

    if n == 0:
        return (float("nan"), float("nan"))
    low, high = proportion_confint(k, n, alpha=alpha, method=BINOMIAL_METHODS[check_ci_method(
        method)])
    return contain(k / n, float(low), float(high))


def contain(estimate: float, low: float, high: float) -> tuple[float, float]:
    """Bounds within [0, 1] and around the estimate: at k = 0 or k = n the
    Wilson bound can land a rounding error (~1e-17) on the wrong side, which
    breaks every consumer that draws or subtracts it."""
    return min(max(low, 0.0), estimate), max(min(high, 1.0), estimate)


def multinomial_ci(counts: list[int] | np.ndarray, *, method: str = "goodman",
                   alpha: float = 0.05) -> np.ndarray:
    """Simultaneous intervals for all categories at once, shape (K, 2)."""
    from statsmodels.stats.proportion import multinomial_proportions_confint

    if method not in MULTINOMIAL_METHODS:
        raise UsageError(f"unknown simultaneous interval method '{method}' "
                         f"(known: {', '.join(MULTINOMIAL_METHODS)})")
    counts = np.asarray(counts)
    if counts.sum() == 0:
        return np.full((len(counts), 2), np.nan)
    return np.asarray(multinomial_proportions_confint(counts, alpha=alpha, method=method))
