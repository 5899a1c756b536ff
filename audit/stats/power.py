"""How many images per prompt an audit needs, and what n buys.

The plan powers the test ``audit stats`` runs on one prompt's shares: with
two categories the two-sided exact binomial test, or, when the classifier's
error comes from labelled images, the beta-binomial test through its
confusion (``audit.stats.through_classifier``); with more, the chi-square
test (Monte-Carlo power, the null simulated where ``audit stats`` simulates
it). Power is searched from n = 1 upwards. Exact power saw-tooths
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
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

CORRECTIONS = ("none", "bonferroni", "holm", "bh")
MAX_IMAGES = 5000  # per prompt: beyond it the search would run for minutes


@dataclass(frozen=True)
class Plan:
    p0: float  # the focal category's share under the null
    p1: float
    null: list[float]  # every category's share under the null ...
    alternative: list[float]  # ... and under the alternative
    test: str  # the test powered, as audit stats names it
    alpha: float
    power: float
    tests: int
    correction: str
    alpha_per_test: float
    sensitivity: float
    specificity: float
    labels: int | None  # labelled images behind the classifier's rates (None: rates exact)
    observed_p0: float  # what the classifier reports when the truth is p0
    observed_p1: float
    loss: float
    n_normal: float  # normal (two categories) or noncentral chi-square approximation
    n_first: int | None  # smallest confident n whose exact power reaches the target
    n_stays: int | None  # from here on exact power stays >= target (up to limit)
    generate: int | None  # images to generate per prompt: expected power >= target from here
    limit: int
    exact_power_at_n: float  # Monte-Carlo for more than two categories
    ci_half_width_at_n: float
    null_floor_imbalance_at_n: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def binomial_p_values(n: int, p0: float) -> np.ndarray:
    """Two-sided exact binomial p-value for every k in 0..n at once, by the same
    rule as scipy.stats.binomtest (sum of outcomes no more likely than k)."""
    return two_sided_p_values(stats.binom.pmf(np.arange(n + 1), n, p0))


def two_sided_p_values(pmf: np.ndarray) -> np.ndarray:
    """Every outcome's two-sided p-value under ``pmf``: the sum of outcomes
    no more likely than it."""
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


def share_vectors(p0: float | Sequence[float], p1: float | Sequence[float], categories: int,
                  focal: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Every category's share under the null and the alternative. A single
    p0 is the focal category's, the others share the rest evenly; a single
    p1 takes the others down in proportion."""
    def vector(value: float | Sequence[float], name: str) -> np.ndarray | None:
        if isinstance(value, int | float):
            if not 0 < value < 1:
                raise ValueError(f"{name} must be strictly between 0 and 1, got {value}")
            return None
        shares = np.asarray(value, dtype=float)
        if len(shares) != categories:
            raise ValueError(f"{name} has {len(shares)} shares for {categories} categories")
        if not ((shares > 0).all() and (shares < 1).all()
                and math.isclose(shares.sum(), 1, abs_tol=1e-6)):
            raise ValueError(f"{name}'s shares must each be in (0, 1) and sum to 1")
        return shares / shares.sum()

    if categories < 2:
        raise ValueError("a test needs at least two categories")
    null, alternative = vector(p0, "p0"), vector(p1, "p1")
    if null is None:
        null = np.full(categories, (1 - float(p0)) / (categories - 1))
        null[focal] = float(p0)
    if alternative is None:
        alternative = null * (1 - float(p1)) / (1 - null[focal])
        alternative[focal] = float(p1)
    if np.allclose(null, alternative):
        raise ValueError("p1 must differ from p0")
    return null, alternative


def labelled_from_rates(sensitivity: float, specificity: float, labels: int) -> np.ndarray:
    """The confusion counts that ``labels`` images per class show at these rates."""
    hits, rejections = round(sensitivity * labels), round(specificity * labels)
    return np.array([[hits, labels - hits], [labels - rejections, rejections]])


def beta_binomial_curve(a: float, b: float, q1: float, alpha: float, limit: int) -> np.ndarray:
    """Power at n = 0..limit of the test through a confusion, when the
    classifier's confident share is q1."""
    from audit.stats.through_classifier import beta_binomial_p_values

    curve = np.zeros(limit + 1)
    for n in range(1, limit + 1):
        rejected = np.flatnonzero(beta_binomial_p_values(n, a, b) <= alpha)
        curve[n] = stats.binom.pmf(rejected, n, q1).sum()
    return curve


def pearson_curve(null: np.ndarray, q1: np.ndarray, alpha: float, limit: int, *,
                  draws: int, seed: int, null_draws: np.ndarray | None = None,
                  start: int = 1) -> np.ndarray:
    """Monte-Carlo power at n = 0..limit of the K-category test ``audit stats``
    runs: chi-square when every expected count is at least 5, else Pearson's
    statistic against its simulated null; through a confusion, the null's
    shares are ``null_draws`` (one per simulated count). Below ``start``
    the power is left at 0 (far below the target; it saves the time)."""
    from audit.stats.goodness import MIN_EXPECTED, _pearson
    from audit.stats.through_classifier import pearson_null

    rng = np.random.default_rng(seed)
    # the (m+1)-th largest simulated statistic: above it, (exceed + 1) / (draws + 1) <= alpha
    m = math.floor(alpha * (draws + 1) - 1)
    curve = np.zeros(limit + 1)
    for n in range(max(1, start), limit + 1):
        center = null_draws.mean(axis=0) if null_draws is not None else null
        expected = n * center
        if null_draws is None and (expected >= MIN_EXPECTED).all():
            critical = float(stats.chi2.ppf(1 - alpha, len(null) - 1))
        else:
            simulated = (pearson_null(n, null_draws, rng) if null_draws is not None
                         else _pearson(rng.multinomial(n, null, size=draws), expected))
            if m < 0:
                continue  # too few draws to reach alpha
            critical = float(np.sort(simulated)[::-1][m]) * (1 + 1e-9)
        curve[n] = float((_pearson(rng.multinomial(n, q1, size=draws), expected)
                          > critical).mean())
    return curve


def noncentral_n(q0: np.ndarray, q1: np.ndarray, alpha: float, power: float) -> float:
    """Images where the chi-square's noncentral approximation reaches power."""
    from scipy.optimize import brentq

    w2 = float(((q1 - q0) ** 2 / q0).sum())
    df = len(q0) - 1
    critical = stats.chi2.ppf(1 - alpha, df)
    return float(brentq(lambda n: stats.ncx2.sf(critical, df, n * w2) - power, 1e-6, 1e7))


def plan(*, p0: float | Sequence[float], p1: float | Sequence[float], categories: int = 2,
         focal: int = 0, alpha: float = 0.05, power: float = 0.8, tests: int = 1,
         correction: str = "bonferroni", effects: int = 1, sensitivity: float = 1.0,
         specificity: float = 1.0, labels: int | None = None,
         labelled: np.ndarray | None = None, confident: Sequence[int] | None = None,
         loss: float = 0.0, limit: int | None = None, draws: int = 20000,
         seed: int = 0) -> Plan:
    """The plan for one prompt's test. Classifier error is given either as
    ``sensitivity``/``specificity`` (two categories; exact rates unless
    ``labels`` says how many images per class they were measured on) or as
    ``labelled`` confusion counts (true classes x outcomes, ``confident``
    the outcome column of each class), whose empirical rates are taken as
    the classifier's and whose size sets the test's uncertainty."""
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    from audit.stats.intervals import binomial_ci
    from audit.stats.through_classifier import beta_of, null_shares

    if labelled is not None:
        categories = len(labelled)
    null, alternative = share_vectors(p0, p1, categories, focal)
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError("alpha and power must be strictly between 0 and 1")
    if not (0 < sensitivity <= 1 and 0 < specificity <= 1 and sensitivity + specificity > 1):
        raise ValueError("sensitivity and specificity must be in (0, 1] with a sum above 1 "
                         "(a classifier better than chance)")
    if not 0 <= loss < 1:
        raise ValueError("loss must be in [0, 1)")
    rates_given = (sensitivity, specificity) != (1.0, 1.0)
    if rates_given and categories > 2:
        raise ValueError("with more than two categories, give the classifier's error as a "
                         "confusion file")
    if labels is not None:
        if labels < 1 or not rates_given:
            raise ValueError("labels (per class) goes with sensitivity/specificity and is >= 1")
        labelled = labelled_from_rates(sensitivity, specificity, labels)
    level = per_test_alpha(alpha, tests, correction, effects)
    if labelled is not None:
        labelled = np.asarray(labelled, dtype=float)
        confident = list(confident if confident is not None else range(categories))
        if (labelled.sum(axis=1) == 0).any():
            raise ValueError("every true class of the confusion needs labelled images")
        rates = labelled / labelled.sum(axis=1, keepdims=True)
        q0, q1 = ((v @ rates)[confident] / (v @ rates)[confident].sum()
                  for v in (null, alternative))
        if categories == 2:  # the focal category's, among confident outcomes
            sensitivity, specificity = (
                float(rates[i, confident[i]] / rates[i, confident].sum())
                for i in (focal, 1 - focal))
    else:
        q0, q1 = null.copy(), alternative.copy()
        if categories == 2:  # the rates are the focal category's
            for q, truth in ((q0, null), (q1, alternative)):
                q[focal] = seen_through(truth[focal], sensitivity, specificity)
                q[1 - focal] = 1 - q[focal]
    if categories == 2:
        n_normal = float(NormalIndPower().solve_power(
            effect_size=abs(proportion_effectsize(q1[focal], q0[focal])), alpha=level,
            power=power, ratio=0, alternative="two-sided"))
    else:
        n_normal = noncentral_n(q0, q1, level, power)
    if n_normal > MAX_IMAGES:
        raise ValueError(f"p1 is too close to p0 for a plan: about {n_normal:.0f} confident "
                         f"images per prompt by the approximation, and the search stops at "
                         f"{MAX_IMAGES}")
    limit = limit or min(MAX_IMAGES, max(200, math.ceil(3 * n_normal / (1 - loss)) + 50))
    if labelled is not None:
        draws_ = null_shares(null, labelled, confident, draws=draws, seed=seed)
        if categories == 2:
            test = "beta-binomial exact through the confusion"
            shift = [focal, 1 - focal]
            curve = beta_binomial_curve(*beta_of(draws_[:, shift]), float(q1[focal]), level,
                                        limit)
        else:
            test = "Monte-Carlo chi-square through the confusion"
            curve = pearson_curve(q0, q1, level, limit, draws=draws, seed=seed,
                                  null_draws=draws_, start=math.floor(n_normal / 2))
    elif categories == 2:
        test = "exact binomial"
        curve = power_curve(float(q0[focal]), float(q1[focal]), level, limit)
    else:
        test = "chi-square goodness of fit (Monte-Carlo where an expected count is below 5)"
        curve = pearson_curve(q0, q1, level, limit, draws=draws, seed=seed,
                              start=math.floor(n_normal / 2))
    reach = curve
    if test.startswith(("chi-square", "Monte-Carlo")):  # simulated power: its lower 2-s.e. bound
        reach = curve - 2 * np.sqrt(curve * (1 - curve) / draws)
    n_first, n_stays = first_and_sustained(reach, power)
    generate = None
    if n_stays is not None:
        kept = 1 - loss
        expected = np.array([expected_power(reach, g, kept) for g in range(limit + 1)])
        generate = first_and_sustained(expected, power)[1]
    n = n_stays or math.ceil(n_normal)
    low, high = binomial_ci(round(float(q1[focal]) * n), n)
    return Plan(p0=float(null[focal]), p1=float(alternative[focal]), null=null.tolist(),
                alternative=alternative.tolist(), test=test, alpha=alpha, power=power,
                tests=tests, correction=correction, alpha_per_test=level,
                sensitivity=sensitivity, specificity=specificity,
                labels=int(labelled.sum()) if labelled is not None else None,
                observed_p0=float(q0[focal]), observed_p1=float(q1[focal]), loss=loss,
                n_normal=n_normal, n_first=n_first, n_stays=n_stays, generate=generate,
                limit=limit, exact_power_at_n=float(curve[n]) if n <= limit else float("nan"),
                ci_half_width_at_n=(high - low) / 2,
                null_floor_imbalance_at_n=null_floor_imbalance(n))
