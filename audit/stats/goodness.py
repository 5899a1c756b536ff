"""Tests of observed counts against a reference distribution.

Two categories: the exact binomial test. More: Pearson's chi-square (or the
G-test) when every expected count is at least 5, otherwise a Monte-Carlo
test of the same statistic, because the chi-square approximation is poor at
the 8-20 images per prompt that audits typically have.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

MIN_EXPECTED = 5.0


@dataclass(frozen=True)
class TestResult:
    test: str
    statistic: float
    p_value: float


def _pearson(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(expected > 0, (observed - expected) ** 2 / expected,
                         np.where(observed > 0, np.inf, 0.0))
    return terms.sum(axis=-1)


def goodness_of_fit(observed: list[int] | np.ndarray, expected_p: list[float] | np.ndarray, *,
                    statistic: str = "pearson", mc_draws: int = 20000, seed: int = 0
                    ) -> TestResult:
    """Test observed category counts against reference proportions."""
    observed = np.asarray(observed, dtype=float)
    p = np.asarray(expected_p, dtype=float)
    n = int(observed.sum())
    if n == 0:
        return TestResult("none (no images)", float("nan"), float("nan"))
    if len(observed) == 2:
        result = stats.binomtest(int(observed[0]), n, float(p[0]))
        return TestResult("exact binomial", float(observed[0]), float(result.pvalue))
    expected = n * p
    if statistic not in ("pearson", "g"):
        raise ValueError(f"unknown statistic '{statistic}'")
    if (expected >= MIN_EXPECTED).all():
        if statistic == "g":
            g, pval = stats.power_divergence(observed, expected, lambda_="log-likelihood")
            return TestResult("G-test", float(g), float(pval))
        chi2, pval = stats.chisquare(observed, expected)
        return TestResult("chi-square goodness of fit", float(chi2), float(pval))
    # Small expected counts: simulate the Pearson statistic under the reference.
    observed_stat = float(_pearson(observed, expected))
    rng = np.random.default_rng(seed)
    simulated = _pearson(rng.multinomial(n, p / p.sum(), size=mc_draws), expected)
    exceed = int((simulated >= observed_stat - 1e-9 * max(1.0, observed_stat)).sum())
    return TestResult(f"Monte-Carlo chi-square ({mc_draws} draws, seed {seed})",
                      observed_stat, (exceed + 1) / (mc_draws + 1))
