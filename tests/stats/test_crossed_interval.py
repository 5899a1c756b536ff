"""The pooled share's interval under shared seeds (issue 28): coverage kept,
width near the oracle's. Fewer replicates than benchmarks/crossed_interval.py
(which prints the whole grid); each bound leaves room for the Monte-Carlo
error stated beside it."""

import numpy as np
import pytest

from audit.stats.bootstrap import crossed_interval, mean_squares
from benchmarks.crossed_interval import simulate

REPS = 400  # s.e. of a coverage near 0.95: 0.011


@pytest.mark.parametrize(("prompts", "prompt_sd", "seed_sd"), [
    (4, 1.0, 0.5), (8, 0.5, 1.0), (16, 0.0, 1.0), (16, 1.0, 0.5)])
def test_covers_and_is_narrower_than_the_pigeonhole_bootstrap(prompts, prompt_sd, seed_sd):
    row = simulate(prompts, 25, prompt_sd, seed_sd, reps=REPS, seed=prompts)
    assert row["now_coverage"] >= 0.93 - 0.02  # 2 s.e.
    assert row["now_ratio"] < row["before_ratio"]
    if prompts == 16:
        assert row["now_ratio"] <= 1.15


def test_mean_squares_by_hand():
    y = np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    rows, seeds, cells = mean_squares(y)
    row_means, column_means, grand = y.mean(1), y.mean(0), y.mean()
    assert rows == pytest.approx(3 * ((row_means - grand) ** 2).sum() / 1)
    assert seeds == pytest.approx(2 * ((column_means - grand) ** 2).sum() / 2)
    residual = y - row_means[:, None] - column_means[None, :] + grand
    assert cells == pytest.approx((residual ** 2).sum() / 2)


def test_too_small_a_grid_has_no_interval():
    result = crossed_interval(np.array([[1.0, 0.0, 1.0]]), np.ones((1, 3)))
    assert result.estimate == pytest.approx(2 / 3) and np.isnan(result.ci_low)
