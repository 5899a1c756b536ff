"""Cluster bootstrap for pooled proportions.

Images from one prompt share the prompt's skew, so they are not independent
draws: pooling many prompts and using a binomial interval on all images
understates uncertainty. Resampling whole prompts keeps that correlation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PooledEstimate:
    n: int
    k: int
    clusters: int
    estimate: float
    ci_low: float
    ci_high: float
    ci_method: str


def cluster_bootstrap(k: np.ndarray, n: np.ndarray, *, draws: int = 4000, alpha: float = 0.05,
                      seed: int = 0) -> PooledEstimate:
    """Pooled share sum(k)/sum(n) with a percentile interval from resampled clusters."""
    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    if len(k) == 0 or n.sum() == 0:
        raise ValueError("a pooled estimate needs at least one cluster with images")
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(k), size=(draws, len(k)))
    totals = n[picks].sum(axis=1)
    shares = np.divide(k[picks].sum(axis=1), totals, out=np.full(draws, np.nan),
                       where=totals > 0)
    low, high = np.nanquantile(shares, [alpha / 2, 1 - alpha / 2])
    return PooledEstimate(n=int(n.sum()), k=int(k.sum()), clusters=len(k),
                          estimate=float(k.sum() / n.sum()), ci_low=float(low),
                          ci_high=float(high),
                          ci_method=f"cluster bootstrap over prompts ({draws} draws, seed {seed})")
