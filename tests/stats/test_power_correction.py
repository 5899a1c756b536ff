import numpy as np
import pytest
from scipy import stats

from audit.stats.correction import (
    correct_shares,
    correct_with_interval,
    rogan_gladen,
)
from audit.stats.power import (
    binomial_p_values,
    null_floor_imbalance,
    plan,
)


def brute_power(n, p0, p1, alpha):
    """Exact power by the definition of binomtest's two-sided p-value (the
    sum of outcomes no more likely than k), every pair of outcomes compared."""
    if n == 0:
        return 0.0
    pmf = stats.binom.pmf(np.arange(n + 1), n, p0)
    p_values = (pmf[None, :] * (pmf[None, :] <= pmf[:, None] * (1 + 1e-7))).sum(axis=1)
    return stats.binom.pmf(np.arange(n + 1), n, p1)[p_values <= alpha].sum()


def test_brute_power_is_binomtest():
    n, p0, p1 = 40, 0.3, 0.5
    by_scipy = sum(stats.binom.pmf(k, n, p1) for k in range(n + 1)
                   if stats.binomtest(k, n, p0).pvalue <= 0.05)
    assert brute_power(n, p0, p1, 0.05) == pytest.approx(by_scipy, abs=1e-12)


def brute_search(p0, p1, alpha, power, limit):
    curve = [brute_power(n, p0, p1, alpha) for n in range(limit + 1)]
    first = next(n for n, value in enumerate(curve) if value >= power)
    stays = max(n for n, value in enumerate(curve) if value < power) + 1
    return first, stays, curve


@pytest.mark.parametrize(("p0", "p1", "extra"), [
    (0.2, 0.35, {}), (0.9, 0.75, {}), (0.1, 0.3, {}), (0.5, 0.65, {}), (0.3, 0.1, {}),
    (0.5, 0.7, {"tests": 10, "correction": "bonferroni"}),
    (0.5, 0.7, {"tests": 10, "correction": "bh", "effects": 5}),
    (0.4, 0.6, {"sensitivity": 0.9, "specificity": 0.85}),
])
def test_plan_agrees_with_a_brute_force_exact_search(p0, p1, extra):
    """Smallest n from the bottom (the normal approximation overshoots it:
    66/44/25 for the first three, not 69/49/30) and the n from which power
    stays above target, equal to a search with scipy.stats.binomtest."""
    result = plan(p0=p0, p1=p1, **extra)
    level = 0.05
    if "tests" in extra:
        level = 0.05 * extra.get("effects", 1) / extra["tests"]
    se, sp = extra.get("sensitivity", 1.0), extra.get("specificity", 1.0)
    q0, q1 = se * p0 + (1 - sp) * (1 - p0), se * p1 + (1 - sp) * (1 - p1)
    first, stays, _ = brute_search(q0, q1, level, 0.8, result.limit)
    assert (result.n_first, result.n_stays, result.generate) == (first, stays, stays)
    assert result.alpha_per_test == pytest.approx(level)


def test_the_issue_cases_first_and_sustained():
    assert [plan(p0=a, p1=b).n_first for a, b in ((0.2, 0.35), (0.9, 0.75), (0.1, 0.3))] \
        == [66, 44, 25]
    result = plan(p0=0.5, p1=0.65)
    assert (result.n_first, result.n_stays) == (90, 97)
    assert round(result.n_normal) == 85  # statsmodels, kept for comparison
    assert round(plan(p0=0.5, p1=0.65, tests=55).n_normal) == 186
    assert round(plan(p0=0.5, p1=0.65, sensitivity=0.9, specificity=0.9).n_normal) == 134


def test_losses_are_planned_by_expected_power_over_the_confident_count():
    result = plan(p0=0.5, p1=0.65, loss=0.1)
    _, _, curve = brute_search(0.5, 0.65, 0.05, 0.8, result.limit)

    def expected(generated):
        return sum(stats.binom.pmf(k, generated, 0.9) * curve[k] for k in range(generated + 1))

    assert expected(result.generate) >= 0.8
    assert expected(result.generate - 1) < 0.8
    assert all(expected(g) >= 0.8 for g in range(result.generate, result.generate + 40))
    assert result.generate > result.n_stays


def test_vectorised_binomial_p_values_equal_scipy():
    for n, p in [(20, 0.45), (85, 0.5), (13, 0.1)]:
        expected = [stats.binomtest(k, n, p).pvalue for k in range(n + 1)]
        assert binomial_p_values(n, p) == pytest.approx(expected, abs=1e-12)


def test_null_floor_at_8_images_is_0137():
    assert null_floor_imbalance(8) == pytest.approx(35 / 256)
    assert round(null_floor_imbalance(8), 3) == 0.137


def test_plan_rejects_impossible_inputs():
    with pytest.raises(ValueError):
        plan(p0=0.5, p1=0.5)
    with pytest.raises(ValueError):
        plan(p0=0.0, p1=0.5)
    with pytest.raises(ValueError, match="better than chance"):
        plan(p0=0.5, p1=0.6, sensitivity=0.4, specificity=0.5)
    with pytest.raises(ValueError, match="loss"):
        plan(p0=0.5, p1=0.6, loss=1.0)


def test_rogan_gladen_by_hand_and_as_the_two_class_case():
    assert rogan_gladen(0.3, 0.9, 0.95) == pytest.approx((0.3 + 0.95 - 1) / 0.85)
    confusion = np.array([[90, 10], [5, 95]])  # rows: true female, true male
    observed = np.array([30, 70])
    shares = correct_shares(observed, confusion)
    assert shares[0] == pytest.approx(rogan_gladen(0.3, 0.9, 0.95))


def test_matrix_inversion_recovers_the_truth_from_exact_expected_counts():
    truth = np.array([0.6, 0.3, 0.1])
    confusion = np.array([[80, 15, 5], [10, 85, 5], [5, 5, 90]])
    m = confusion / confusion.sum(axis=1, keepdims=True)
    observed = 100000 * (m.T @ truth)
    assert correct_shares(observed, confusion) == pytest.approx(truth, abs=1e-9)


def test_correction_with_abstention_columns_is_the_constrained_least_squares_optimum():
    """Checked against a general-purpose optimiser (SLSQP) on the simplex."""
    from scipy.optimize import minimize

    rng = np.random.default_rng(3)
    for _ in range(20):
        confusion = rng.integers(1, 60, size=(3, 5))
        observed = rng.integers(0, 40, size=5)
        m = confusion / confusion.sum(axis=1, keepdims=True)
        q = observed / observed.sum()
        best = minimize(lambda p, m=m, q=q: np.sum((m.T @ p - q) ** 2), np.full(3, 1 / 3),
                        method="SLSQP", bounds=[(0, 1)] * 3, options={"ftol": 1e-14},
                        constraints={"type": "eq", "fun": lambda p: p.sum() - 1})
        assert correct_shares(observed, confusion) == pytest.approx(best.x, abs=1e-5)


def test_corrected_interval_is_wider_than_the_observed_one():
    out = correct_with_interval(["female", "male"], np.array([30, 70]),
                                np.array([[90, 10], [5, 95]]), draws=1000, seed=0)
    assert out.ci_low[0] < out.corrected[0] < out.ci_high[0]
    observed_low, observed_high = stats.binomtest(30, 100).proportion_ci()
    assert out.ci_high[0] - out.ci_low[0] > observed_high - observed_low
    assert "Rogan-Gladen" in out.ci_method
