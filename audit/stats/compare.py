"""Comparisons between groups or models, unpaired and paired."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from audit.stats.goodness import TestResult

MIN_EXPECTED = 5.0


def _tables(rows: np.ndarray, columns: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Count tables, one per row of ``columns`` (draws x observations)."""
    flat = rows[None, :] * shape[1] + columns
    offsets = np.arange(len(columns))[:, None] * (shape[0] * shape[1])
    counts = np.bincount((flat + offsets).ravel(), minlength=len(columns) * shape[0] * shape[1])
    return counts.reshape(len(columns), *shape)


def _chi_squares(tables: np.ndarray) -> np.ndarray:
    total = tables.sum(axis=(1, 2), keepdims=True)
    expected = tables.sum(axis=2, keepdims=True) * tables.sum(axis=1, keepdims=True) / total
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(expected > 0, (tables - expected) ** 2 / expected, 0.0).sum(axis=(1, 2))


def permutation_homogeneity(rows: np.ndarray, columns: np.ndarray, *,
                            blocks: np.ndarray | None = None, draws: int = 20000,
                            seed: int = 0) -> TestResult:
    """Monte-Carlo test of homogeneity: the Pearson statistic of the observed
    groups x categories table against tables with category labels shuffled
    among observations, within each block when ``blocks`` is given (images
    sharing a seed: under 'the prompt does not matter' the labels of one
    seed's images are exchangeable across its prompts, whatever the seed
    itself does). Exact up to Monte-Carlo error, at any expected count."""
    rows, columns = np.unique(rows, return_inverse=True)[1], np.unique(
        columns, return_inverse=True)[1]
    shape = (int(rows.max()) + 1, int(columns.max()) + 1) if len(rows) else (0, 0)
    observed = float(_chi_squares(_tables(rows, columns[None, :], shape).astype(float))[0])
    order = np.arange(len(rows)) if blocks is None else np.argsort(
        np.unique(blocks, return_inverse=True)[1], kind="stable")
    rows, columns = rows[order], columns[order]
    block_ids = np.zeros(len(rows)) if blocks is None else np.unique(
        np.asarray(blocks)[order], return_inverse=True)[1].astype(float)
    rng = np.random.default_rng(seed)
    exceed, chunk = 0, max(1, min(draws, 2_000_000 // max(1, len(rows))))
    for start in range(0, draws, chunk):
        size = min(chunk, draws - start)
        keys = block_ids[None, :] * 2 + rng.random((size, len(rows)))
        shuffled = columns[np.argsort(keys, axis=1)]
        simulated = _chi_squares(_tables(rows, shuffled, shape).astype(float))
        exceed += int((simulated >= observed - 1e-9 * max(1.0, observed)).sum())
    within = "" if blocks is None else ", labels shuffled within seeds"
    return TestResult(f"Monte-Carlo chi-square ({draws} draws, seed {seed}{within})",
                      observed, (exceed + 1) / (draws + 1))


def homogeneity(table: np.ndarray, *, draws: int = 20000, seed: int = 0) -> TestResult:
    """Do groups (rows) share one category distribution (columns)?
    Fisher's exact test for 2x2; the chi-square test when every expected
    count is at least 5; otherwise its Monte-Carlo version with the margins
    fixed, since the asymptotic one misleads at a few images per cell."""
    table = np.asarray(table, dtype=float)
    table = table[:, table.sum(axis=0) > 0]
    table = table[table.sum(axis=1) > 0]
    if table.shape[0] < 2 or table.shape[1] < 2:
        return TestResult("none (one group or one category)", float("nan"), float("nan"))
    if table.shape == (2, 2):
        odds, pval = stats.fisher_exact(table.astype(int))
        return TestResult("Fisher exact", float(odds), float(pval))
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    if (expected < MIN_EXPECTED).any():
        counts = table.astype(int)
        rows = np.repeat(np.arange(table.shape[0]), counts.sum(axis=1))
        columns = np.concatenate([np.repeat(np.arange(table.shape[1]), line)
                                  for line in counts])
        return permutation_homogeneity(rows, columns, draws=draws, seed=seed)
    chi2, pval, _, _ = stats.chi2_contingency(table, correction=False)
    return TestResult("chi-square homogeneity", float(chi2), float(pval))


def cochrans_q(outcomes: np.ndarray) -> TestResult:
    """Do k related binary outcomes (columns: counterfactual prompts; rows:
    the seeds they share) have one success rate? Cochran's Q (statsmodels)."""
    from statsmodels.stats.contingency_tables import cochrans_q as q_test

    outcomes = np.asarray(outcomes, dtype=int)
    if outcomes.shape[0] < 2 or outcomes.shape[1] < 3:
        return TestResult("none (fewer than 3 members or 2 seeds)", float("nan"), float("nan"))
    if (outcomes.sum(axis=1) % outcomes.shape[1] == 0).all():  # every seed agrees
        return TestResult("Cochran's Q", 0.0, 1.0)
    result = q_test(outcomes)
    return TestResult("Cochran's Q", float(result.statistic), float(result.pvalue))


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


def compare_paired_runs(a: pd.DataFrame, b: pd.DataFrame, *, alpha: float = 0.05,
                        correction: str = "bh") -> pd.DataFrame:
    """Two runs on the same prompts and seeds, image by image. ``a`` and ``b``
    hold one confident label per (item_id, seed, attribute), from each run's
    answering scorer. Per (attribute, category, item): paired counts, the
    difference share(A) - share(B) with its Agresti-Min interval and the exact
    McNemar p-value; p-values adjusted across the whole table (one family:
    every comparison shown is a finding). Pairs where either run abstained
    are left out (``n_pairs`` counts what remains)."""
    from audit.stats.multiplicity import adjust

    keys = ["item_id", "seed", "attribute"]
    both = a[[*keys, "label"]].merge(b[[*keys, "label"]], on=keys, suffixes=("_a", "_b"))
    rows = []
    for (attribute, item), frame in both.groupby(["attribute", "item_id"], sort=True):
        for category in sorted(set(frame.label_a) | set(frame.label_b)):
            out = paired_difference(frame.label_a.to_numpy() == category,
                                    frame.label_b.to_numpy() == category, alpha=alpha)
            rows.append({"attribute": attribute, "category": category, "item_id": item, **out})
    table = pd.DataFrame(rows, columns=["attribute", "category", "item_id", "n_pairs", "both",
                                        "only_a", "only_b", "neither", "difference", "ci_low",
                                        "ci_high", "ci_method", "test", "statistic", "p_value"])
    table["p_adjusted"] = adjust(table.p_value.to_numpy(), method=correction) if len(
        table) else []
    return table
