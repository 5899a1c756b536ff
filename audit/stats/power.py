"""How many images per prompt an audit needs, and what n buys.

The audit's test of one prompt's share is the two-sided exact binomial test,
so the plan searches exact power from n = 1 upwards. Exact power saw-tooths
in n: the plan gives the first n that reaches the target and the n from
which it stays there (checked up to ``limit``). Around that core: the
per-test level the correction leaves (many prompts are tested together),
classifier error (a share seen through sensitivity and specificity is pulled
towards the middle), and the images lost before counting (failed, no person,
unclear), which make the confident count a binomial draw from what was
generated.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

CORRECTIONS = ("none", "bonferroni", "holm", "bh")


@dataclass(frozen=True)
class Plan:
    p0: float
    p1: float
    alpha: float
    power: float
    tests: int
    correction: str
    alpha_per_test: float
    sensitivity: float
    specificity: float
    observed_p0: float  # what the classifier reports when the truth is p0
    observed_p1: float
    loss: float
    n_normal: float  # statsmodels' normal approximation at alpha_per_test, observed scale
    n_first: int | None  # smallest confident n whose exact power reaches the target
    n_stays: int | None  # from here on exact power stays >= target (up to limit)
    generate: int | None  # images to generate per prompt: expected power >= target from here
    limit: int
    exact_power_at_n: float
    ci_half_width_at_n: float
    null_floor_imbalance_at_n: float

    def to_dict(self) -> dict[str, Any]:
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
    if n == 0:
        return 0.0
    ks = np.arange(n + 1)
    return float(stats.binom.pmf(ks[binomial_p_values(n, p0) <= alpha], n, p1).sum())


def power_curve(p0: float, p1: float, alpha: float, limit: int) -> np.ndarray:
    """Exact power at n = 0..limit."""
    return np.array([exact_binomial_power(n, p0, p1, alpha) for n in range(limit + 1)])


def first_and_sustained(curve: np.ndarray, target: float) -> tuple[int | None, int | None]:
    """(first n reaching target, n from which every later n up to the curve's
    end reaches it); None where the curve never gets there."""
    reached = curve >= target
    if not reached.any():
        return None, None
    first = int(np.argmax(reached))
    below = np.flatnonzero(~reached)
    sustained = int(below[-1]) + 1 if len(below) else 0
    return first, (sustained if sustained < len(curve) else None)


def expected_power(curve: np.ndarray, generated: int, kept: float) -> float:
    """Power averaged over the confident count K ~ Binomial(generated, kept)."""
    ks = np.arange(generated + 1)
    return float((stats.binom.pmf(ks, generated, kept) * curve[:generated + 1]).sum())


def per_test_alpha(alpha: float, tests: int, correction: str, effects: int = 1) -> float:
    """The level one prompt's test must reach. Bonferroni and Holm (whose
    first step is Bonferroni's): alpha / tests. BH with ``effects`` prompts
    truly off the reference rejects them at about alpha * effects / tests."""
    if correction not in CORRECTIONS:
        raise ValueError(f"unknown correction '{correction}' (known: {', '.join(CORRECTIONS)})")
    if tests < 1 or not 1 <= effects <= tests:
        raise ValueError("tests must be >= 1 and effects between 1 and tests")
    if correction == "none" or tests == 1:
        return alpha
    return alpha * effects / tests if correction == "bh" else alpha / tests


def seen_through(p: float, sensitivity: float, specificity: float) -> float:
    """The share a classifier reports when the true share is p."""
    return sensitivity * p + (1 - specificity) * (1 - p)


def rates_from_confusion(spec: dict[str, Any], category: str) -> tuple[float, float, float]:
    """(sensitivity, specificity, abstention rate) for one category from a
    confusion file's attribute (rows true, columns predicted; predicted
    labels that are not true labels, such as unclear, are abstentions)."""
    true, predicted = spec["true"], spec["predicted"]
    matrix = np.asarray(spec["confusion"], dtype=float)
    if category not in true:
        raise ValueError(f"category '{category}' is not a true label of the confusion "
                         f"matrix (has: {', '.join(true)})")
    confident = [predicted.index(t) for t in true]
    decided = matrix[:, confident]
    row = true.index(category)
    sensitivity = decided[row, row] / decided[row].sum()
    others = np.delete(decided, row, axis=0)
    specificity = 1 - others[:, row].sum() / others.sum()
    abstention = 1 - decided.sum() / matrix.sum()
    return float(sensitivity), float(specificity), float(abstention)


def null_floor_imbalance(n: int, p: float = 0.5) -> float:
    """E|k/n - 0.5| when the true share is p: what HEIM's imbalance shows for a
    perfectly balanced model at n images (0.137 at n = 8)."""
    ks = np.arange(n + 1)
    return float((stats.binom.pmf(ks, n, p) * np.abs(ks / n - 0.5)).sum())


def plan(*, p0: float, p1: float, alpha: float = 0.05, power: float = 0.8, tests: int = 1,
         correction: str = "bonferroni", effects: int = 1, sensitivity: float = 1.0,
         specificity: float = 1.0, loss: float = 0.0, limit: int | None = None) -> Plan:
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
    if not (0 < sensitivity <= 1 and 0 < specificity <= 1 and sensitivity + specificity > 1):
        raise ValueError("sensitivity and specificity must be in (0, 1] with a sum above 1 "
                         "(a classifier better than chance)")
    if not 0 <= loss < 1:
        raise ValueError("loss must be in [0, 1)")
    level = per_test_alpha(alpha, tests, correction, effects)
    q0, q1 = (seen_through(p, sensitivity, specificity) for p in (p0, p1))
    n_normal = float(NormalIndPower().solve_power(
        effect_size=abs(proportion_effectsize(q1, q0)), alpha=level, power=power, ratio=0,
        alternative="two-sided"))
    limit = limit or max(200, math.ceil(3 * n_normal / (1 - loss)) + 50)
    curve = power_curve(q0, q1, level, limit)
    n_first, n_stays = first_and_sustained(curve, power)
    generate = None
    if n_stays is not None:
        kept = 1 - loss
        expected = np.array([expected_power(curve, g, kept) for g in range(limit + 1)])
        generate = first_and_sustained(expected, power)[1]
    n = n_stays or math.ceil(n_normal)
    low, high = binomial_ci(round(q1 * n), n)
    return Plan(p0=p0, p1=p1, alpha=alpha, power=power, tests=tests, correction=correction,
                alpha_per_test=level, sensitivity=sensitivity, specificity=specificity,
                observed_p0=q0, observed_p1=q1, loss=loss, n_normal=n_normal,
                n_first=n_first, n_stays=n_stays, generate=generate, limit=limit,
                exact_power_at_n=exact_binomial_power(n, q0, q1, level),
                ci_half_width_at_n=(high - low) / 2,
                null_floor_imbalance_at_n=null_floor_imbalance(n))
