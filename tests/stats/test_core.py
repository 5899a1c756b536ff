"""Intervals, tests and effects against scipy/statsmodels or hand formulas."""

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from audit.stats import effects
from audit.stats.compare import homogeneity, linear_trend, paired_difference
from audit.stats.goodness import goodness_of_fit
from audit.stats.intervals import binomial_ci, multinomial_ci
from audit.stats.multiplicity import adjust

Z = stats.norm.ppf(0.975)


def wilson_by_hand(k, n):
    p = k / n
    centre = (p + Z**2 / (2 * n)) / (1 + Z**2 / n)
    half = Z / (1 + Z**2 / n) * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2))
    return centre - half, centre + half


@pytest.mark.parametrize("k,n", [(0, 10), (5, 20), (13, 20), (50, 200), (200, 200)])
def test_intervals_match_hand_formulas(k, n):
    assert binomial_ci(k, n) == pytest.approx(wilson_by_hand(k, n), abs=1e-9)
    cp_low = stats.beta.ppf(0.025, k, n - k + 1) if k > 0 else 0.0
    cp_high = stats.beta.ppf(0.975, k + 1, n - k) if k < n else 1.0
    assert binomial_ci(k, n, method="clopper-pearson") == pytest.approx((cp_low, cp_high),
                                                                        abs=1e-9)
    jeffreys = stats.beta.ppf([0.025, 0.975], k + 0.5, n - k + 0.5)
    # Brown, Cai & DasGupta (2001): the Jeffreys bound is 0 at k = 0 and 1 at k = n
    jeffreys = (0.0 if k == 0 else jeffreys[0], 1.0 if k == n else jeffreys[1])
    assert binomial_ci(k, n, method="jeffreys") == pytest.approx(jeffreys, abs=1e-9)


def test_goodman_simultaneous_intervals_by_hand():
    counts = np.array([10, 5, 5])
    n, k = counts.sum(), len(counts)
    chi = stats.chi2.ppf(1 - 0.05 / k, 1)
    expected = []
    for c in counts:
        delta = chi**2 + 4 * c * chi * (n - c) / n
        expected.append(((chi + 2 * c - math.sqrt(delta)) / (2 * (chi + n)),
                         (chi + 2 * c + math.sqrt(delta)) / (2 * (chi + n))))
    assert multinomial_ci(counts) == pytest.approx(np.array(expected), abs=1e-9)
    wide = multinomial_ci(counts, method="sison-glaz")
    assert (wide[:, 0] <= counts / n).all() and (wide[:, 1] >= counts / n).all()


def test_binomial_and_chi_square_tests():
    result = goodness_of_fit([5, 15], [0.45, 0.55])
    assert result.test == "exact binomial"
    assert result.p_value == pytest.approx(stats.binomtest(5, 20, 0.45).pvalue, abs=1e-12)
    observed, p = np.array([30, 40, 30]), np.array([0.2, 0.5, 0.3])
    expected = observed.sum() * p
    by_hand = ((observed - expected) ** 2 / expected).sum()
    result = goodness_of_fit(observed, p)
    assert result.test == "chi-square goodness of fit"
    assert result.statistic == pytest.approx(by_hand, abs=1e-9)
    assert result.p_value == pytest.approx(stats.chi2.sf(by_hand, 2), abs=1e-9)
    g = goodness_of_fit(observed, p, statistic="g")
    assert g.statistic == pytest.approx(2 * (observed * np.log(observed / expected)).sum(),
                                        abs=1e-9)


def exact_multinomial_p(observed, p):
    """Sum of P(x) over all tables with Pearson X^2 >= observed X^2, by enumeration."""
    n, k = sum(observed), len(observed)
    expected = n * np.asarray(p)
    x2_obs = (((np.asarray(observed) - expected) ** 2) / expected).sum()
    total = 0.0
    for cut in itertools.combinations(range(n + k - 1), k - 1):
        parts = np.diff([-1, *cut, n + k - 1]) - 1
        x2 = (((parts - expected) ** 2) / expected).sum()
        if x2 >= x2_obs - 1e-9:
            total += stats.multinomial.pmf(parts, n, p)
    return total


def test_small_counts_switch_to_monte_carlo_and_agree_with_exact():
    observed, p = [6, 1, 1], [1 / 3, 1 / 3, 1 / 3]
    result = goodness_of_fit(observed, p, mc_draws=40000, seed=1)
    assert result.test.startswith("Monte-Carlo")
    exact = exact_multinomial_p(observed, p)
    assert result.p_value == pytest.approx(exact, abs=3 * math.sqrt(exact * (1 - exact) / 40000))


def test_effect_sizes_by_hand():
    lo, low, high = effects.log_odds_vs_reference(5, 20, 0.45)
    by_hand = math.log(5.5 / 15.5) - math.log(0.45 / 0.55)
    half = Z * math.sqrt(1 / 5.5 + 1 / 15.5)
    assert (lo, low, high) == pytest.approx((by_hand, by_hand - half, by_hand + half), abs=1e-12)
    assert effects.cohens_h(0.25, 0.45) == pytest.approx(
        2 * math.asin(math.sqrt(0.25)) - 2 * math.asin(math.sqrt(0.45)), abs=1e-12)
    assert effects.representation_ratio(0.25, (0.1, 0.5), 0.5) == (0.5, 0.2, 1.0)
    assert effects.heim_imbalance(0.25) == 0.25
    assert effects.mad_from_uniform(np.array([0.5, 0.25, 0.25])) == pytest.approx(1 / 9)
    assert effects.one_minus_normalised_entropy(np.array([0.5, 0.5])) == pytest.approx(0)
    assert effects.one_minus_normalised_entropy(np.array([1.0, 0.0])) == pytest.approx(1)


def test_ordinal_shift_and_wasserstein():
    levels = np.arange(1, 11)
    reference = np.full(10, 0.1)
    counts = np.zeros(10)
    counts[[1, 2]] = [10, 10]  # tones 2 and 3 only
    out = effects.ordinal_shift(levels, counts, reference)
    assert out["mean_shift"] == pytest.approx(2.5 - 5.5)
    sample = np.repeat(levels, counts.astype(int))
    assert out["wasserstein"] == pytest.approx(
        stats.wasserstein_distance(sample, levels), abs=1e-12)
    half = stats.t.ppf(0.975, 19) * sample.std(ddof=1) / math.sqrt(20)
    assert out["mean_shift_ci_high"] - out["mean_shift"] == pytest.approx(half)


def test_homogeneity_uses_fisher_for_2x2_and_chi_square_otherwise():
    two = np.array([[8, 2], [1, 5]])
    assert homogeneity(two).test == "Fisher exact"
    assert homogeneity(two).p_value == pytest.approx(stats.fisher_exact(two)[1], abs=1e-12)
    three = np.array([[10, 5, 5], [3, 9, 8]])
    chi2, pval, _, _ = stats.chi2_contingency(three, correction=False)
    result = homogeneity(three)
    assert (result.statistic, result.p_value) == pytest.approx((chi2, pval), abs=1e-12)


def test_paired_difference_mcnemar_and_agresti_min():
    a = np.array([1] * 10 + [1] * 9 + [0] * 3 + [0] * 8, dtype=bool)
    b = np.array([1] * 10 + [0] * 9 + [1] * 3 + [0] * 8, dtype=bool)
    out = paired_difference(a, b)
    assert (out["only_a"], out["only_b"], out["n_pairs"]) == (9, 3, 30)
    assert out["p_value"] == pytest.approx(stats.binomtest(3, 12, 0.5).pvalue, abs=1e-12)
    m = 32.0
    diff = (9.5 - 3.5) / m
    var = ((9.5 + 3.5) - (9.5 - 3.5) ** 2 / m) / m**2
    assert (out["ci_low"], out["ci_high"]) == pytest.approx(
        (diff - Z * math.sqrt(var), diff + Z * math.sqrt(var)), abs=1e-12)
    assert out["difference"] == pytest.approx(6 / 30)


def test_linear_trend_is_n_minus_1_r_squared():
    table = np.array([[8, 5, 2], [4, 6, 5], [1, 5, 9]])
    rows, cols = np.nonzero(np.ones_like(table))
    u = np.repeat(rows, table.ravel())
    v = np.repeat(cols, table.ravel())
    r = np.corrcoef(u, v)[0, 1]
    result = linear_trend(table)
    assert result.statistic == pytest.approx((table.sum() - 1) * r**2, abs=1e-9)
    assert result.p_value == pytest.approx(stats.chi2.sf(result.statistic, 1), abs=1e-12)


def test_benjamini_hochberg_and_holm_by_hand():
    p = np.array([0.01, 0.04, 0.03, 0.2, np.nan])
    bh = adjust(p)
    ordered = np.array([0.01, 0.03, 0.04, 0.2])
    raw = ordered * 4 / np.arange(1, 5)
    by_hand = np.minimum.accumulate(raw[::-1])[::-1]
    assert bh[[0, 2, 1, 3]] == pytest.approx(by_hand, abs=1e-12)
    assert np.isnan(bh[4])
    holm = adjust(p, method="holm")
    assert holm[0] == pytest.approx(0.04) and holm[2] == pytest.approx(0.09)
    assert holm[1] == pytest.approx(0.09) and holm[3] == pytest.approx(0.2)


def test_intervals_contain_the_estimate_at_0_of_n_and_n_of_n():
    """statsmodels' Wilson bound lands ~1e-17 on the wrong side at many n; the
    bounds every table and chart uses never do."""
    from audit.stats.intervals import binomial_ci

    for method in ("wilson", "clopper-pearson", "jeffreys"):
        for n in range(1, 101):
            for k in (0, n):
                low, high = binomial_ci(k, n, method=method)
                assert 0.0 <= low <= k / n <= high <= 1.0, (method, k, n)
