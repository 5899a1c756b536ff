"""A reference that is a small survey: the test's level and the difference
interval's coverage.

The population share is p; the reference is a survey of m people (its
standard error from its own share, as a user computes it); the model draws
n images at exactly p (the null). Printed: the rejection rate of the test
``audit stats`` runs (now: the two-proportion score test; before: the
beta-binomial around the reference) and the coverage of the MOVER interval
for share - reference (now: Wilson for the reference; before: normal).

    python benchmarks/reference_error.py [--reps 4000]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audit.stats.goodness import (  # noqa: E402
    _two_sided,
    difference_interval,
    fit_with_reference_error,
)
from audit.stats.intervals import binomial_ci  # noqa: E402


def before_test(k: int, n: int, p: float, se: float) -> float:
    """The beta-binomial test with the reference's mean and variance."""
    concentration = p * (1 - p) / se ** 2 - 1
    pmf = stats.betabinom.pmf(np.arange(n + 1), n, p * concentration, (1 - p) * concentration)
    return _two_sided(pmf, k)


def before_interval(estimate: float, interval: tuple[float, float], p: float, se: float
                    ) -> tuple[float, float]:
    low1, high1 = interval
    low2, high2 = max(0.0, p - 1.96 * se), min(1.0, p + 1.96 * se)
    d = estimate - p
    return (d - math.hypot(estimate - low1, high2 - p), d + math.hypot(high1 - estimate, p - low2))


def simulate(share: float, *, survey: int, images: int, reps: int, seed: int
             ) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    counts = {"level_now": 0, "level_before": 0, "cover_now": 0, "cover_before": 0}
    used = 0
    for _ in range(reps):
        surveyed = rng.binomial(survey, share)
        if surveyed in (0, survey):  # a survey share of 0 or 1 has no standard error
            continue
        used += 1
        p = surveyed / survey
        se = math.sqrt(p * (1 - p) / survey)
        k = int(rng.binomial(images, share))
        test = fit_with_reference_error([k, images - k], [p, 1 - p], [se, se])
        counts["level_now"] += test.p_value <= 0.05
        counts["level_before"] += before_test(k, images, p, se) <= 0.05
        interval = binomial_ci(k, images)
        for name, (low, high) in (
                ("cover_now", difference_interval(k / images, interval, p, se)),
                ("cover_before", before_interval(k / images, interval, p, se))):
            counts[name] += low <= 0 <= high
    return {name: value / used for name, value in counts.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=4000)
    args = parser.parse_args()
    print(f"{'share':>5s} {'survey':>6s} {'images':>6s} {'level now':>9s} {'before':>6s} "
          f"{'cover now':>9s} {'before':>6s}")
    for i, (share, survey, images) in enumerate(
            (s, m, n) for s in (0.1, 0.2, 0.3, 0.5) for m, n in ((30, 400), (100, 400),
                                                                  (30, 50))):
        row = simulate(share, survey=survey, images=images, reps=args.reps, seed=i)
        print(f"{share:5.1f} {survey:6d} {images:6d} {row['level_now']:9.3f} "
              f"{row['level_before']:6.3f} {row['cover_now']:9.3f} {row['cover_before']:6.3f}",
              flush=True)
    print(f"Monte-Carlo s.e. of a level near 0.05: {(0.05 * 0.95 / args.reps) ** 0.5:.4f}")


if __name__ == "__main__":
    main()
