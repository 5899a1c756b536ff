"""Tests of observed counts against a reference distribution.

Two categories: the exact binomial test. More: Pearson's chi-square (or the
G-test) when every expected count is at least 5, otherwise a Monte-Carlo
test of the same statistic, because the chi-square approximation is poor at
the 8-20 images per prompt that audits typically have.
"""

from __future__ import annotations

import math
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


def _two_sided(pmf: np.ndarray, k: int) -> float:
    """Sum of outcomes no more likely than k (binomtest's rule)."""
    return float(min(1.0, pmf[pmf <= pmf[k] * (1 + 1e-7)].sum()))


def fit_with_reference_error(observed: list[int] | np.ndarray, expected_p: list[float]
                             | np.ndarray, reference_se: list[float] | np.ndarray, *,
                             mc_draws: int = 20000, seed: int = 0) -> TestResult:
    """Test observed counts against a reference that is itself an estimate
    (a survey share with standard error se): under the null the model's
    share equals the population's, which the reference only estimates.
    Two categories: the two-proportion score test, the reference read as a
    survey of p (1 - p) / se^2 people (its size when se came from an n) and
    the variance from the pooled share; a beta-binomial around the
    reference, used before, rejected 6-8% at a survey of 30 against 400
    images, the score test 3.6-4.8% (benchmarks/RESULTS.md). More:
    Monte-Carlo, the reference drawn from a Dirichlet matching the mean
    variance, then a multinomial draw, Pearson's statistic against the
    reference."""
    observed = np.asarray(observed, dtype=float)
    p = np.asarray(expected_p, dtype=float)
    se = np.asarray(reference_se, dtype=float)
    n = int(observed.sum())
    if n == 0:
        return TestResult("none (no images)", float("nan"), float("nan"))
    variance = se ** 2
    inside = (p > 0) & (p < 1)
    if not (variance[inside] > 0).any():
        return goodness_of_fit(observed, p, mc_draws=mc_draws, seed=seed)
    if (variance[inside] >= p[inside] * (1 - p[inside])).any():
        raise ValueError("a reference standard error must be below sqrt(p (1 - p))")
    surveyed = float(np.mean(p[inside] * (1 - p[inside]) / variance[inside]))
    concentration = surveyed - 1
    if len(observed) == 2:
        pooled = (observed[0] + p[0] * surveyed) / (n + surveyed)
        spread = math.sqrt(pooled * (1 - pooled) * (1 / n + 1 / surveyed))
        z = (observed[0] / n - p[0]) / spread if spread > 0 else 0.0
        return TestResult(f"two-proportion score test (reference as a survey of "
                          f"{surveyed:.4g}, from its standard error)", float(z),
                          float(2 * stats.norm.sf(abs(z))))
    rng = np.random.default_rng(seed)
    drawn = rng.dirichlet(np.maximum(p * concentration, 1e-9), size=mc_draws)
    expected = n * p
    observed_stat = float(_pearson(observed, expected))
    simulated = _pearson(np.array([rng.multinomial(n, q) for q in drawn]), expected)
    exceed = int((simulated >= observed_stat - 1e-9 * max(1.0, observed_stat)).sum())
    return TestResult(f"Monte-Carlo chi-square, reference with its standard error "
                      f"({mc_draws} draws, seed {seed})", observed_stat,
                      (exceed + 1) / (mc_draws + 1))


def difference_interval(estimate: float, interval: tuple[float, float], reference: float,
                        se: float, *, alpha: float = 0.05) -> tuple[float, float]:
    """Interval for share - reference when the reference has a standard
    error: Newcombe's MOVER, combining the share's own interval with the
    reference's Wilson interval at its survey size p (1 - p) / se^2 (a
    normal one covered 0.93 at a survey of 30). With se = 0 it is the
    share's interval shifted."""
    low1, high1 = interval
    low2 = high2 = reference
    if se > 0 and 0 < reference < 1:
        from audit.stats.intervals import binomial_ci

        surveyed = reference * (1 - reference) / se ** 2
        low2, high2 = binomial_ci(reference * surveyed, surveyed, method="wilson", alpha=alpha)
    d = estimate - reference
    return (d - float(np.hypot(estimate - low1, high2 - reference)),
            d + float(np.hypot(high1 - estimate, reference - low2)))
