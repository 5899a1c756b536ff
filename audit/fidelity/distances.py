"""Distances between two sets of image features, each with an interval.

KID (Bińkowski et al., ICLR 2018) and CMMD (Jayasumana et al., CVPR 2024)
are squared maximum mean discrepancies: estimated here by the unbiased
U-statistic over all pairs of the two sets (no random subsets), with a
jackknife standard error (leave one image out of either set; for these
statistics it errs on the wide side, as the Efron-Stein inequality says, and
it stays usable where the two sets come from one distribution and the
statistic's first-order variance vanishes). The interval is the normal one
around the estimate; an unbiased estimate may be negative at small n.

FID (Heusel et al., 2017) is the Fréchet distance between Gaussians fitted
to the two sets. Its plug-in estimate is biased upward by an amount that
falls like 1/n and depends on the model (Chong and Forsyth, CVPR 2020):
FID∞ fits FID on 1/n over subsets and takes the intercept. Its interval
comes from the same extrapolation on random halves (``fid_infinity``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

CMMD_SIGMA = 10.0  # the RBF bandwidth and scale CMMD's authors fixed
CMMD_SCALE = 1000.0
MIN_KERNEL_IMAGES = 10  # per set, for KID and CMMD
MIN_FID_IMAGES = 50  # per set: the interval's halves fit subsets down to a quarter
FRACTIONS = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


@dataclass(frozen=True)
class Estimate:
    """A distance with its interval; ``n_a``, ``n_b``: the two sets' sizes."""

    value: float
    ci_low: float
    ci_high: float
    n_a: int
    n_b: int
    se: float | None = None
    plug_in: float | None = None  # FID at the full sets, beside FID∞


def polynomial_kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """KID's kernel: (a·b / d + 1)^3."""
    return (a @ b.T / a.shape[1] + 1.0) ** 3


def rbf_kernel(a: np.ndarray, b: np.ndarray, sigma: float = CMMD_SIGMA) -> np.ndarray:
    squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.exp(-np.maximum(squared, 0.0) / (2.0 * sigma * sigma))


def _jackknife_mmd2(kxx: np.ndarray, kyy: np.ndarray, kxy: np.ndarray
                    ) -> tuple[float, np.ndarray, np.ndarray]:
    """The unbiased squared MMD and its leave-one-out values, leaving out
    each image of x, then each of y (all in closed form)."""
    m, n = len(kxx), len(kyy)
    if min(m, n) < 3:
        raise ValueError("the jackknife needs at least 3 images per set")
    sx = kxx.sum() - np.trace(kxx)
    sy = kyy.sum() - np.trace(kyy)
    sxy = kxy.sum()
    value = sx / (m * (m - 1)) + sy / (n * (n - 1)) - 2.0 * sxy / (m * n)
    # without image i of x: its row and column leave the within-x sum, its
    # row the cross sum; likewise for y
    rows_x = kxx.sum(1) - np.diag(kxx)
    rows_y = kyy.sum(1) - np.diag(kyy)
    without_x = ((sx - 2.0 * rows_x) / ((m - 1) * (m - 2)) + sy / (n * (n - 1))
                 - 2.0 * (sxy - kxy.sum(1)) / ((m - 1) * n))
    without_y = (sx / (m * (m - 1)) + (sy - 2.0 * rows_y) / ((n - 1) * (n - 2))
                 - 2.0 * (sxy - kxy.sum(0)) / (m * (n - 1)))
    return float(value), without_x, without_y


def _spread(values: np.ndarray) -> float:
    """A jackknife's variance contribution from one set's leave-one-out values."""
    k = len(values)
    return float((k - 1) / k * ((values - values.mean()) ** 2).sum())


def _normal(value: float, se: float, confidence: float, n_a: int, n_b: int) -> Estimate:
    z = float(norm.ppf(0.5 + confidence / 2))
    return Estimate(value, value - z * se, value + z * se, n_a, n_b, se)


def mmd2(kxx: np.ndarray, kyy: np.ndarray, kxy: np.ndarray, *, confidence: float = 0.95
         ) -> Estimate:
    """Unbiased squared MMD from the three kernel matrices, with the
    jackknife interval."""
    value, without_x, without_y = _jackknife_mmd2(kxx, kyy, kxy)
    se = np.sqrt(_spread(without_x) + _spread(without_y))
    return _normal(value, float(se), confidence, len(kxx), len(kyy))


KERNELS = {"kid": (polynomial_kernel, 1.0), "cmmd": (rbf_kernel, CMMD_SCALE)}


def mmd2_difference(metric: str, x1: np.ndarray, x2: np.ndarray, y: np.ndarray, *,
                    confidence: float = 0.95) -> Estimate:
    """metric(x1, y) - metric(x2, y) for KID or CMMD, two runs against one
    reference: the jackknife leaves out each image of either run and each
    reference image from both distances at once, so the interval accounts
    for the reference they share. ``n_a``, ``n_b``: the two runs' sizes."""
    kernel, scale = KERNELS[metric]
    x1, x2, y = _float64(x1), _float64(x2), _float64(y)
    kyy = kernel(y, y)
    first, without_x1, without_y1 = _jackknife_mmd2(kernel(x1, x1), kyy, kernel(x1, y))
    second, without_x2, without_y2 = _jackknife_mmd2(kernel(x2, x2), kyy, kernel(x2, y))
    se = np.sqrt(_spread(without_x1) + _spread(without_x2) + _spread(without_y1 - without_y2))
    return _normal(scale * (first - second), float(scale * se), confidence, len(x1), len(x2))


def _float64(features: np.ndarray) -> np.ndarray:
    return np.asarray(features, dtype=np.float64)


def kid(x: np.ndarray, y: np.ndarray, *, confidence: float = 0.95) -> Estimate:
    """Kernel Inception Distance (its usual units: not multiplied by 1000)."""
    x, y = _float64(x), _float64(y)
    return mmd2(polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y),
                confidence=confidence)


def cmmd(x: np.ndarray, y: np.ndarray, *, confidence: float = 0.95) -> Estimate:
    """CMMD on L2-normalised CLIP embeddings: 1000 x the unbiased squared MMD
    with a Gaussian kernel of bandwidth 10. The authors' code averages over
    all pairs including each image with itself (``cmmd_v_statistic``), which
    adds a positive bias of about 1000 (1/m + 1/n) x (1 - mean similarity)."""
    x, y = _float64(x), _float64(y)
    raw = mmd2(rbf_kernel(x, x), rbf_kernel(y, y), rbf_kernel(x, y), confidence=confidence)
    return Estimate(CMMD_SCALE * raw.value, CMMD_SCALE * raw.ci_low, CMMD_SCALE * raw.ci_high,
                    raw.n_a, raw.n_b, CMMD_SCALE * (raw.se or 0.0))


def cmmd_v_statistic(x: np.ndarray, y: np.ndarray) -> float:
    """CMMD as its authors' code computes it (means over all pairs)."""
    x, y = _float64(x), _float64(y)
    return CMMD_SCALE * float(rbf_kernel(x, x).mean() + rbf_kernel(y, y).mean()
                              - 2.0 * rbf_kernel(x, y).mean())


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray,
                     sigma2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^1/2), with the trace of the
    square root from the eigenvalues of S1^1/2 S2 S1^1/2 (symmetric, so no
    complex parts to discard as scipy's sqrtm route must)."""
    values, vectors = np.linalg.eigh(sigma1)
    root = (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
    inner = np.linalg.eigvalsh(root @ sigma2 @ root)
    cross = float(np.sqrt(np.clip(inner, 0.0, None)).sum())
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * cross)


def fid(x: np.ndarray, y: np.ndarray) -> float:
    """FID between two feature sets (unbiased covariances, as every FID
    implementation uses). With fewer images than dimensions the trace term is
    the nuclear norm of Xc Ycᵀ / sqrt((m-1)(n-1)), an (m x n) matrix:
    exact, and far cheaper than two d x d matrices."""
    x, y = _float64(x), _float64(y)
    m, n, d = len(x), len(y), x.shape[1]
    mu1, mu2 = x.mean(0), y.mean(0)
    if min(m, n) >= d:
        return frechet_distance(mu1, np.cov(x, rowvar=False), mu2, np.cov(y, rowvar=False))
    a = (x - mu1) / np.sqrt(m - 1)
    b = (y - mu2) / np.sqrt(n - 1)
    cross = float(np.linalg.svd(a @ b.T, compute_uv=False).sum())
    diff = mu1 - mu2
    return float(diff @ diff + (a * a).sum() + (b * b).sum() - 2.0 * cross)


def _extrapolated(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, draws: int
                  ) -> float:
    """FID∞: FID on subsets of both sets at each fraction of their sizes,
    fitted linearly on 1/size, read at 1/size = 0."""
    inverse, values = [], []
    for fraction in FRACTIONS:
        m, n = max(2, round(fraction * len(x))), max(2, round(fraction * len(y)))
        for _ in range(1 if fraction == 1.0 else draws):
            values.append(fid(x[rng.choice(len(x), m, replace=False)],
                              y[rng.choice(len(y), n, replace=False)]))
            inverse.append(1.0 / m)
    slope, intercept = np.polyfit(inverse, values, 1)
    return float(intercept)


def _half(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return values[rng.choice(len(values), len(values) // 2, replace=False)]


def fid_infinity(x: np.ndarray, y: np.ndarray, *, confidence: float = 0.95,
                 halves: int = 50, draws: int = 2, seed: int = 0,
                 progress: Callable[[int], None] | None = None) -> Estimate:
    """FID∞ with a delete-half jackknife interval; ``plug_in`` is the FID of
    the full sets.

    Each replicate is FID∞ of a random half of each set, drawn without
    replacement; the spread of half-sample estimates is the variance of the
    full-sample one (the delete-d jackknife with d = n/2). A bootstrap would
    not do: its duplicated images shrink the effective sample size, so the
    replicates carry a larger small-n bias than the estimate they are meant
    to describe and the extrapolation over subsets no longer removes it."""
    x, y = _float64(x), _float64(y)
    rng = np.random.default_rng(seed)
    value = _extrapolated(x, y, rng, draws)
    replicates = []
    for _ in range(halves):
        replicates.append(_extrapolated(_half(x, rng), _half(y, rng), rng, draws))
        if progress:
            progress(1)
    se = float(np.sqrt(np.mean((np.array(replicates) - np.mean(replicates)) ** 2)))
    z = float(norm.ppf(0.5 + confidence / 2))
    return Estimate(value, value - z * se, value + z * se, len(x), len(y), se,
                    plug_in=fid(x, y))


def fid_infinity_difference(x1: np.ndarray, x2: np.ndarray, y: np.ndarray, *,
                            confidence: float = 0.95, halves: int = 50, draws: int = 2,
                            seed: int = 0, progress: Callable[[int], None] | None = None
                            ) -> Estimate:
    """FID∞(x1, y) - FID∞(x2, y), two runs against one reference; each
    delete-half replicate uses one half of the reference for both."""
    x1, x2, y = _float64(x1), _float64(x2), _float64(y)
    rng = np.random.default_rng(seed)
    value = _extrapolated(x1, y, rng, draws) - _extrapolated(x2, y, rng, draws)
    replicates = []
    for _ in range(halves):
        shared = _half(y, rng)
        replicates.append(_extrapolated(_half(x1, rng), shared, rng, draws)
                          - _extrapolated(_half(x2, rng), shared, rng, draws))
        if progress:
            progress(1)
    se = float(np.sqrt(np.mean((np.array(replicates) - np.mean(replicates)) ** 2)))
    return _normal(value, se, confidence, len(x1), len(x2))
