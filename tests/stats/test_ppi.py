"""Prediction-powered shares (issue 28): PPI++ as ppi_python computes it,
the share of confidently labelled images by the delta method, and coverage
on the audit's design (fewer replicates than benchmarks/ppi_coverage.py)."""

import numpy as np
import pytest
from scipy import stats

from audit.stats.ppi import powered_ratio, tuned_lambda
from benchmarks.ppi_coverage import simulate

ppi_py = pytest.importorskip("ppi_py")  # a dev dependency


def classifier_and_labels(seed, n=60, big_n=400, accuracy=0.85):
    rng = np.random.default_rng(seed)
    truth = rng.random(n + big_n) < 0.3
    said = np.where(rng.random(n + big_n) < accuracy, truth, ~truth)
    return truth[:n].astype(float), said[:n].astype(float), said[n:].astype(float)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_image_counted_is_ppi_mean_ci(seed):
    y, yhat, unlabelled = classifier_and_labels(seed)
    ones = np.ones_like(y)
    result = powered_ratio(y, ones, yhat, ones, unlabelled, np.ones_like(unlabelled))
    low, high = ppi_py.ppi_mean_ci(y, yhat, unlabelled, alpha=0.05)
    point = ppi_py.ppi_mean_pointestimate(y, yhat, unlabelled)
    assert result.estimate == pytest.approx(float(np.ravel(point)[0]), abs=1e-12)
    assert (result.ci_low, result.ci_high) == pytest.approx(
        (float(np.ravel(low)[0]), float(np.ravel(high)[0])), abs=1e-12)
    assert 0 <= result.lam <= 1


def test_lambda_zero_is_the_labels_alone_with_the_delta_method():
    """Share of f among images a person reads f or m: mean(y)/mean(y_any), and
    its Wald interval from the linearised ratio, by hand."""
    y = np.array([1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0], dtype=float)
    y_any = np.array([1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1], dtype=float)
    yhat = y.copy()
    result = powered_ratio(y, y_any, yhat, y_any, np.array([1.0, 0.0]), np.array([1.0, 1.0]))
    share = y.sum() / y_any.sum()
    residual = y - share * y_any
    se = residual.std() / np.sqrt(len(y)) / y_any.mean()
    z = stats.norm.ppf(0.975)
    assert result.classical == pytest.approx(share)
    assert (result.classical_ci_low, result.classical_ci_high) == pytest.approx(
        (share - z * se, share + z * se))


def test_an_uninformative_classifier_gets_lambda_zero():
    rng = np.random.default_rng(4)
    y = (rng.random(50) < 0.3).astype(float)
    assert tuned_lambda(y, np.zeros(50), np.zeros(300)) == 0.0


@pytest.mark.parametrize("labelled", [40, 80])
def test_covers_and_beats_the_labels_alone(labelled):
    """At a share of 0.3 (at 0.1 with 20-80 labels the normal interval covers
    0.82-0.92, like the labels' own Wald interval: the rows say so)."""
    row = simulate(images=200, labelled=labelled, share=0.3, reps=600, seed=labelled)
    assert row["ppi_cover"] >= 0.93 - 0.021  # 2 s.e.
    assert row["ppi_width"] < row["labels_width"]
    assert row["classifier_cover"] < row["ppi_cover"]  # the classifier alone is biased
