"""Corrected shares keep their coverage with few human labels (issue 28's
cases: the old bootstrap covered 0.72 at 10 labels per class). Fewer
replicates than benchmarks/correction_coverage.py; the bound leaves room for
the Monte-Carlo error stated beside it."""

import numpy as np
import pytest

from audit.stats.correction import MIN_LABELS, correct_with_interval
from benchmarks.correction_coverage import CASES, coverage

REPS = 200  # Monte-Carlo s.e. of a coverage near 0.95: 0.015


@pytest.mark.parametrize("categories", [2, 3])
def test_ten_labels_per_class_cover(categories):
    truth, accuracy = CASES[categories]
    covered, width = coverage(truth, labels=10, images=200, accuracy=accuracy, unclear=0.05,
                              reps=REPS, seed=categories)
    assert covered.min() >= 0.91, covered  # 0.93 target minus 1.3 s.e.
    assert width.max() < 0.6


def test_a_zero_cell_is_not_a_certainty():
    """Issue 28's example: counts [31, 159, 10] (female, male, unclear) that a
    share of 0.10 produced, and a matrix with zero cells from ten labels per
    class. The bootstrap gave [0.140, 0.281], excluding 0.10."""
    out = correct_with_interval(["female", "male"], np.array([31, 159, 10]),
                                np.array([[9, 1, 0], [0, 10, 0]]),
                                outcomes=["female", "male", "unclear"])
    assert out.ci_low[0] <= 0.10 <= out.ci_high[0]
    assert out.ci_low[0] <= out.corrected[0] <= out.ci_high[0]
    assert "Dirichlet(0.5) prior per confusion row" in out.ci_method


def test_too_few_labels_give_the_interval_only():
    out = correct_with_interval(["female", "male"], np.array([40, 60]),
                                np.array([[MIN_LABELS - 1, 0], [1, 9]]))
    assert np.isnan(out.corrected).all()
    assert (out.ci_low < out.ci_high).all() and out.ci_low[0] < 0.4 < out.ci_high[0]
