"""Comparisons between groups or models, unpaired and paired."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from audit.stats.goodness import TestResult


def homogeneity(table: np.ndarray) -> TestResult:
    """Do groups (rows) share one category distribution (columns)?
    Fisher's exact test for 2x2, chi-square test of homogeneity otherwise."""
    table = np.asarray(table, dtype=float)
    table = table[:, table.sum(axis=0) > 0]
    table = table[table.sum(axis=1) > 0]
    if table.shape[0] < 2 or table.shape[1] < 2:
        return TestResult("none (one group or one category)", float("nan"), float("nan"))
    if table.shape == (2, 2):
        odds, pval = stats.fisher_exact(table.astype(int))
        return TestResult("Fisher exact", float(odds), float(pval))
    chi2, pval, _, _ = stats.chi2_contingency(table, correction=False)
    return TestResult("chi-square homogeneity", float(chi2), float(pval))


def paired_difference(a: np.ndarray, b: np.ndarray, *, alpha: float = 0.05
                      ) -> dict[str, float | str]:
    """Paired binary outcomes (same prompt and seed under two models, or two
    counterfactual prompts): exact McNemar test on the discordant pairs and an
    Agresti-Min interval for p_a - p_b (Wald after adding 0.5 to each cell)."""
    from statsmodels.stats.contingency_tables import mcnemar

    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError("paired outcomes need equal lengths")
    n11, n10 = int((a & b).sum()), int((a & ~b).sum())
    n01, n00 = int((~a & b).sum()), int((~a & ~b).sum())
    n = len(a)
    test = mcnemar(np.array([[n11, n10], [n01, n00]]), exact=True)
    c10, c01 = n10 + 0.5, n01 + 0.5  # each of the four cells gets 0.5
    m = n + 2.0
    diff = (c10 - c01) / m
    var = ((c10 + c01) - (c10 - c01) ** 2 / m) / m**2
    half = stats.norm.ppf(1 - alpha / 2) * math.sqrt(var)
    return {"n_pairs": n, "both": n11, "only_a": n10, "only_b": n01, "neither": n00,
            "difference": (n10 - n01) / n if n else float("nan"),
            "ci_low": max(-1.0, diff - half), "ci_high": min(1.0, diff + half),
            "ci_method": "agresti-min", "test": "exact McNemar",
            "statistic": float(test.statistic), "p_value": float(test.pvalue)}


def linear_trend(table: np.ndarray, row_scores: np.ndarray | None = None,
                 col_scores: np.ndarray | None = None) -> TestResult:
    """Linear-by-linear association test (Agresti): M^2 = (N - 1) r^2 on the
    scored table, chi-square with 1 df. For an ordinal attribute (columns, e.g.
    Monk tone 1-10) across ordered groups (rows)."""
    table = np.asarray(table, dtype=float)
    rows = np.arange(table.shape[0]) if row_scores is None else np.asarray(row_scores, float)
    cols = np.arange(table.shape[1]) if col_scores is None else np.asarray(col_scores, float)
    n = table.sum()
    u, v = np.meshgrid(rows, cols, indexing="ij")
    mu, mv = (u * table).sum() / n, (v * table).sum() / n
    cov = ((u - mu) * (v - mv) * table).sum()
    var_u, var_v = ((u - mu) ** 2 * table).sum(), ((v - mv) ** 2 * table).sum()
    if n < 2 or var_u == 0 or var_v == 0:
        return TestResult("none (no spread)", float("nan"), float("nan"))
    m2 = (n - 1) * cov**2 / (var_u * var_v)
    return TestResult("linear-by-linear trend", float(m2), float(stats.chi2.sf(m2, 1)))
