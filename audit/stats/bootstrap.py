"""Intervals for pooled proportions across prompts.

Images from one prompt share the prompt's skew, so they are not independent
draws: pooling many prompts and using a binomial interval on all images
understates uncertainty. With independent seeds, whole prompts are
resampled (estimate +/- t(prompts - 1) x bootstrap SE: with the 8-20 prompts
audits have, percentile intervals cover 0.87-0.91 in simulation, the t
quantile restores >= 0.93). When every prompt uses the same seeds, images
at one seed are correlated across prompts too (the seed fixes the starting
noise), so prompts are not independent clusters either: the crossed
interval estimates the prompt, seed and cell variance components.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class PooledEstimate:
    n: int
    k: int
    clusters: int
    estimate: float
    ci_low: float
    ci_high: float
    ci_method: str
    seeds: int | None = None  # crossed design: distinct seeds shared by the prompts


def _interval(estimate: float, shares: np.ndarray, clusters: int, alpha: float
              ) -> tuple[float, float]:
    shares = shares[np.isfinite(shares)]
    if clusters < 2 or len(shares) < 2:
        return float("nan"), float("nan")
    half = stats.t.ppf(1 - alpha / 2, clusters - 1) * float(shares.std(ddof=1))
    return max(0.0, estimate - half), min(1.0, estimate + half)


def cluster_bootstrap(k: np.ndarray, n: np.ndarray, *, draws: int = 4000, alpha: float = 0.05,
                      seed: int = 0) -> PooledEstimate:
    """Pooled share sum(k)/sum(n), prompts resampled as clusters (seeds not
    shared between prompts)."""
    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    if len(k) == 0 or n.sum() == 0:
        raise ValueError("a pooled estimate needs at least one cluster with images")
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(k), size=(draws, len(k)))
    totals = n[picks].sum(axis=1)
    shares = np.divide(k[picks].sum(axis=1), totals, out=np.full(draws, np.nan),
                       where=totals > 0)
    estimate = float(k.sum() / n.sum())
    low, high = _interval(estimate, shares, len(k), alpha)
    return PooledEstimate(n=int(n.sum()), k=int(k.sum()), clusters=len(k), estimate=estimate,
                          ci_low=low, ci_high=high,
                          ci_method=f"cluster bootstrap over prompts, t x SE ({draws} draws, "
                                    f"seed {seed})")


def mean_squares(y: np.ndarray) -> tuple[float, float, float]:
    """Two-way ANOVA mean squares (prompts, seeds, residual) of a complete
    prompts x seeds grid without replication."""
    rows, columns = y.shape
    row_means, column_means, grand = y.mean(axis=1), y.mean(axis=0), y.mean()
    residual = y - row_means[:, None] - column_means[None, :] + grand
    return (float(columns * row_means.var(ddof=1)), float(rows * column_means.var(ddof=1)),
            float((residual ** 2).sum() / ((rows - 1) * (columns - 1))))


# The prompt variance of the simulated world is its upper 85% confidence
# bound: with 4 very different prompts the estimate itself leaves coverage at
# 0.91 and the 75% bound at 0.92; 0.85 keeps >= 0.93 (benchmarks/RESULTS.md)
PROMPT_BOUND = 0.85


def _crossed_variance(prompts: np.ndarray, seeds: np.ndarray, cells: np.ndarray, rows: int,
                      columns: int) -> np.ndarray:
    """Variance of the pooled share from the mean squares, each variance
    component by moments and kept at zero or above: MS_prompt + MS_seed -
    MS_cell over RC, or the one mean square left where a component is zero."""
    with_prompts, with_seeds = prompts > cells, seeds > cells
    total = np.where(with_prompts & with_seeds, prompts + seeds - cells,
                     np.where(with_prompts, prompts, np.where(with_seeds, seeds, cells)))
    return total / (rows * columns)


def crossed_interval(k: np.ndarray, n: np.ndarray, *, alpha: float = 0.05, draws: int = 4000,
                     seed: int = 0) -> PooledEstimate:
    """Pooled share of a prompts x seeds grid (``k``, ``n``: counts per cell,
    0 where a prompt has no confident label at that seed), prompts and seeds
    both random. The ratio is linearised (z = (k - share n) / mean n, so the
    share's error is the mean of z) and its variance estimated from z's
    two-way mean squares (``_crossed_variance``). The quantile comes from a
    parametric bootstrap of the studentised share: mean squares drawn as
    scaled chi-squares of a world with the estimated components (the
    prompts' at an upper bound, see PROMPT_BOUND), the variance estimated
    in each draw by the same rule. The pigeonhole bootstrap this replaces
    counted the cell noise twice and used t(R - 1) on top: 1.2-2.5x the
    width needed (benchmarks/crossed_interval.py)."""
    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    if k.size == 0 or n.sum() == 0:
        raise ValueError("a pooled estimate needs at least one cluster with images")
    rows, columns = k.shape
    estimate = float(k.sum() / n.sum())
    low = high = float("nan")
    if rows >= 2 and columns >= 2:
        z = (k - estimate * n) / n.mean()
        prompts, seeds, cells = mean_squares(z)
        variance = float(_crossed_variance(np.array(prompts), np.array(seeds),
                                           np.array(cells), rows, columns))
        df = (rows - 1, columns - 1, (rows - 1) * (columns - 1))
        prompt_bound = (prompts * df[0] / stats.chi2.ppf(1 - PROMPT_BOUND, df[0]) - cells)
        world = (cells + max(0.0, prompt_bound),  # expected mean squares
                 cells + max(0.0, seeds - cells), cells)
        rng = np.random.default_rng(seed)
        drawn = [m * rng.chisquare(d, draws) / d for m, d in zip(world, df, strict=True)]
        truth = (world[0] + world[1] - world[2]) / (rows * columns)
        error = rng.normal(0.0, np.sqrt(truth), draws) if truth > 0 else np.zeros(draws)
        estimated = _crossed_variance(*drawn, rows, columns)
        studentised = np.abs(error) / np.sqrt(np.where(estimated > 0, estimated, np.inf))
        half = float(np.quantile(studentised, 1 - alpha)) * np.sqrt(variance)
        low, high = max(0.0, estimate - half), min(1.0, estimate + half)
    return PooledEstimate(n=int(n.sum()), k=int(k.sum()), clusters=rows, estimate=estimate,
                          ci_low=low, ci_high=high, seeds=columns,
                          ci_method=f"two-way random effects over prompts and shared seeds: "
                                    f"moment variance of the linearised share, quantile by "
                                    f"parametric bootstrap ({draws} draws, seed {seed})")


def seed_correlation(y: np.ndarray) -> float:
    """Intraclass correlation of the seed in a complete prompts x seeds grid
    of 0/1 outcomes (two-way ANOVA moments, no replication): the share of
    the variance that images at one seed have in common across prompts.
    NaN when there are fewer than 2 prompts or 3 seeds."""
    y = np.asarray(y, dtype=float)
    rows, columns = y.shape
    if rows < 2 or columns < 3:
        return float("nan")
    ms_rows, ms_columns, ms_error = mean_squares(y)
    seed_var = max(0.0, (ms_columns - ms_error) / rows)
    prompt_var = max(0.0, (ms_rows - ms_error) / columns)
    total = seed_var + prompt_var + ms_error
    return float(seed_var / total) if total > 0 else float("nan")
