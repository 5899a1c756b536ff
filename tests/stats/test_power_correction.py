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
    exact_binomial_power,
    null_floor_imbalance,
    plan,
)


def test_plan_gives_85_for_the_issue_case():
    result = plan(p0=0.5, p1=0.65, alpha=0.05, power=0.8)
    assert result.n == 85
    z_a, z_b = stats.norm.ppf(0.975), stats.norm.ppf(0.8)
    classic = ((z_a * 0.5 + z_b * np.sqrt(0.65 * 0.35)) / 0.15) ** 2
    assert int(np.ceil(classic)) == 85  # the textbook formula agrees
    assert result.exact_power_at_n == pytest.approx(exact_binomial_power(85, 0.5, 0.65, 0.05))
    assert result.n_exact >= 85
    assert exact_binomial_power(result.n_exact, 0.5, 0.65, 0.05) >= 0.8


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
