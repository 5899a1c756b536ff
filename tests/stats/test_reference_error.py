"""References with their own uncertainty: a survey share is an estimate, and
a test that treats it as exact rejects too often."""

import json
import math

import numpy as np
import pytest
from scipy import stats

from audit.errors import InvalidInput
from audit.stats.goodness import (
    difference_interval,
    fit_with_reference_error,
    goodness_of_fit,
)
from audit.stats.intervals import binomial_ci
from audit.user_tables import read_reference_csv
from tests.conftest import run_cli


def test_score_test_by_hand_and_exact_binomial_without_error():
    p, se, n, k = 0.3, 0.05, 40, 19
    surveyed = p * (1 - p) / se**2  # 84 people
    pooled = (k + p * surveyed) / (n + surveyed)
    z = (k / n - p) / math.sqrt(pooled * (1 - pooled) * (1 / n + 1 / surveyed))
    result = fit_with_reference_error([k, n - k], [p, 1 - p], [se, se])
    assert result.p_value == pytest.approx(2 * stats.norm.sf(abs(z)), abs=1e-12)
    assert result.test.startswith("two-proportion score test (reference as a survey of 84")
    exact = fit_with_reference_error([k, n - k], [p, 1 - p], [0.0, 0.0])
    assert exact.p_value == pytest.approx(stats.binomtest(k, n, p).pvalue, abs=1e-12)
    assert result.p_value > exact.p_value  # the reference's error widens what is plausible


def test_a_small_survey_against_many_images_holds_the_level():
    """Issue 28: a survey of 30 against 400 images, the survey's se from its
    own share. The beta-binomial around the reference rejected 6.9%
    (MOVER with a normal reference interval covered 0.932)."""
    from benchmarks.reference_error import simulate

    for share in (0.2, 0.3):
        row = simulate(share, survey=30, images=400, reps=2000, seed=int(share * 10))
        assert row["level_now"] <= 0.055 + 0.008  # 1.6 s.e.
        assert row["cover_now"] >= 0.94 - 0.008


def test_a_survey_reference_treated_as_exact_rejects_too_often():
    """Truth 0.3 in the population; the reference is a survey of 150 people;
    the model draws at exactly the population share (the null holds), 200
    images. The exact test against the survey estimate rejects well above
    5%; the test with the survey's standard error holds about 5%, and the
    MOVER interval for share - reference covers the true difference 0."""
    rng = np.random.default_rng(4)
    naive, aware, covered = [], [], []
    for _ in range(2000):
        survey = rng.binomial(150, 0.3) / 150
        se = math.sqrt(survey * (1 - survey) / 150)
        k = int(rng.binomial(200, 0.3))
        naive.append(goodness_of_fit([k, 200 - k], [survey, 1 - survey]).p_value <= 0.05)
        aware.append(fit_with_reference_error([k, 200 - k], [survey, 1 - survey],
                                              [se, se]).p_value <= 0.05)
        low, high = difference_interval(k / 200, binomial_ci(k, 200), survey, se)
        covered.append(low <= 0 <= high)
    assert np.mean(naive) > 0.15
    assert np.mean(aware) <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / 2000)
    assert np.mean(covered) >= 0.93


def test_three_categories_use_monte_carlo_with_the_reference_drawn():
    result = fit_with_reference_error([30, 10, 10], [0.5, 0.3, 0.2], [0.04, 0.04, 0.03],
                                      mc_draws=4000, seed=1)
    assert result.test.startswith("Monte-Carlo chi-square, reference with")
    plain = goodness_of_fit([30, 10, 10], [0.5, 0.3, 0.2])
    assert result.statistic == pytest.approx(plain.statistic)
    assert result.p_value > plain.p_value


def test_difference_interval_without_error_is_the_shifted_interval():
    low, high = binomial_ci(12, 40)
    assert difference_interval(0.3, (low, high), 0.45, 0.0) == pytest.approx(
        (low - 0.45, high - 0.45))


def test_reference_csv_takes_se_or_n_and_names_bad_fields(tmp_path):
    good = tmp_path / "ref.csv"
    good.write_text("group,category,proportion,n\nnurse,female,0.9,400\nnurse,male,0.1,400\n")
    reference = read_reference_csv(good)
    assert reference.se_for_group("nurse")["female"] == pytest.approx(math.sqrt(0.09 / 400))
    bad = tmp_path / "bad.csv"
    bad.write_text("group,category,proportion,se\nnurse,female,0.9,0.5\nnurse,male,0.1,0.01\n")
    with pytest.raises(InvalidInput, match=r"field se") as error:
        read_reference_csv(bad)
    assert f"{bad}:2" in str(error.value)
    both = tmp_path / "both.csv"
    both.write_text("group,category,proportion,se,n\nnurse,female,0.9,0.01,5\n"
                    "nurse,male,0.1,0.01,5\n")
    with pytest.raises(InvalidInput, match="either an 'se' or an 'n'"):
        read_reference_csv(both)


def test_stats_cli_uses_the_reference_error_and_reports_parity(tmp_path):
    counts = tmp_path / "counts.csv"
    counts.write_text("group,category,count\nsurgeon,female,9\nsurgeon,male,31\n")
    reference = tmp_path / "ref.csv"
    reference.write_text("group,category,proportion,se\nsurgeon,female,0.4,0.06\n"
                         "surgeon,male,0.6,0.06\n")
    result = run_cli("stats", "--counts", str(counts), "--reference", str(reference), "--json")
    assert result.returncode == 0, result.stderr
    rows = {r["category"]: r for r in json.loads(result.stdout)["proportions"]}
    female = rows["female"]
    assert female["test"].startswith("two-proportion score test")
    assert female["reference_se"] == 0.06
    assert female["difference"] == pytest.approx(9 / 40 - 0.4)
    assert female["difference_ci_low"] < female["difference"] < female["difference_ci_high"]
    low, high = binomial_ci(9, 40)
    assert (female["parity_ci_low"], female["parity_ci_high"]) == pytest.approx(
        (low - 0.5, high - 0.5))
