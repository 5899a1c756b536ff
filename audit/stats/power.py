"""How many images per prompt an audit needs, and what n buys.

statsmodels solves the normal approximation; the answer is then checked with
the exact binomial test's power at that n, since that is the test we run.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Plan:
    p0: float
    p1: float
    alpha: float
    power: float
    n: int
    n_unrounded: float
    exact_power_at_n: float
    n_exact: int | None
    ci_half_width_at_n: float
    null_floor_imbalance_at_n: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def binomial_p_values(n: int, p0: float) -> np.ndarray:
    """Two-sided exact binomial p-value for every k in 0..n at once, by the same
    rule as scipy.stats.binomtest (sum of outcomes no more likely than k)."""
    pmf = stats.binom.pmf(np.arange(n + 1), n, p0)
    order = np.sort(pmf)
    cumulative = np.cumsum(order)
    index = np.searchsorted(order, pmf * (1 + 1e-7), side="right") - 1
    return np.minimum(1.0, cumulative[index])


def exact_binomial_power(n: int, p0: float, p1: float, alpha: float) -> float:
    """Power of the two-sided exact binomial test of p0 when the truth is p1."""
    ks = np.arange(n + 1)
    return float(stats.binom.pmf(ks[binomial_p_values(n, p0) <= alpha], n, p1).sum())


def smallest_exact_n(p0: float, p1: float, alpha: float, power: float, start: int) -> int | None:
    """First n from ``start`` whose exact power reaches the target (exact power
    saw-tooths in n, so later n can dip below again)."""
    for n in range(max(1, start), 4 * start + 50):
        if exact_binomial_power(n, p0, p1, alpha) >= power:
            return n
    return None


def null_floor_imbalance(n: int, p: float = 0.5) -> float:
    """E|k/n - 0.5| when the true share is p: what HEIM's imbalance shows for a
    perfectly balanced model at n images (0.137 at n = 8)."""
    ks = np.arange(n + 1)
    return float((stats.binom.pmf(ks, n, p) * np.abs(ks / n - 0.5)).sum())


def plan(*, p0: float, p1: float, alpha: float = 0.05, power: float = 0.8) -> Plan:
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    from audit.stats.intervals import binomial_ci

    for name, value in (("p0", p0), ("p1", p1)):
        if not 0 < value < 1:
            raise ValueError(f"{name} must be strictly between 0 and 1, got {value}")
    if p0 == p1:
        raise ValueError("p1 must differ from p0")
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError("alpha and power must be strictly between 0 and 1")
    n_float = float(NormalIndPower().solve_power(
        effect_size=abs(proportion_effectsize(p1, p0)), alpha=alpha, power=power, ratio=0,
        alternative="two-sided"))
    n = math.ceil(n_float)
    low, high = binomial_ci(round(p1 * n), n)
    return Plan(p0=p0, p1=p1, alpha=alpha, power=power, n=n, n_unrounded=n_float,
                exact_power_at_n=exact_binomial_power(n, p0, p1, alpha),
                n_exact=smallest_exact_n(p0, p1, alpha, power, n),
                ci_half_width_at_n=(high - low) / 2,
                null_floor_imbalance_at_n=null_floor_imbalance(n))
