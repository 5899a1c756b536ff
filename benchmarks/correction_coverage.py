"""Coverage and width of corrected shares (classifier error corrected with a
confusion matrix from few human labels), by simulation on the design the
audit uses: one prompt's images, a classifier that abstains ('unclear'), a
confusion matrix from L labelled images per true class.

    python benchmarks/correction_coverage.py               # 1000 replicates per cell
    python benchmarks/correction_coverage.py --reps 200

Prints, per number of categories and labels per class: coverage of the 95%
interval for every category's true share (Monte-Carlo standard error beside
it) and mean width. The cases are the ones issue 28 measured the old
bootstrap on (two categories: accuracy 0.87, 5% unclear, true share 0.1,
200 images).
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from audit.stats.correction import correct_with_interval


def classifier(categories: int, accuracy: float, unclear: float) -> np.ndarray:
    """P(outcome | true class): right with ``accuracy``, wrong evenly, and
    'unclear' (the last column) with probability ``unclear``."""
    wrong = (1 - accuracy) / (categories - 1)
    matrix = np.full((categories, categories), wrong)
    np.fill_diagonal(matrix, accuracy)
    return np.hstack([matrix * (1 - unclear), np.full((categories, 1), unclear)])


def coverage(truth: np.ndarray, *, labels: int, images: int, accuracy: float, unclear: float,
             reps: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    k = len(truth)
    matrix = classifier(k, accuracy, unclear)
    names = [f"c{i}" for i in range(k)]
    covered, widths = np.zeros(k), np.zeros(k)
    for r in range(reps):
        counts = rng.multinomial(images, truth)
        observed = sum(rng.multinomial(counts[i], matrix[i]) for i in range(k))
        confusion = np.stack([rng.multinomial(labels, matrix[i]) for i in range(k)])
        out = correct_with_interval(names, observed, confusion, outcomes=[*names, "unclear"],
                                    seed=r)
        covered += (out.ci_low <= truth) & (truth <= out.ci_high)
        widths += out.ci_high - out.ci_low
    return covered / reps, widths / reps


CASES = {2: (np.array([0.1, 0.9]), 0.87), 3: (np.array([0.15, 0.35, 0.5]), 0.85)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1000)
    args = parser.parse_args()
    print("categories  labels/class  coverage per category (MC s.e.)        mean width")
    for k, (truth, accuracy) in CASES.items():
        for labels in (5, 10, 20, 50):
            cov, width = coverage(truth, labels=labels, images=200, accuracy=accuracy,
                                  unclear=0.05, reps=args.reps)
            se = [math.sqrt(c * (1 - c) / args.reps) for c in cov]
            shown = ", ".join(f"{c:.3f} ({s:.3f})" for c, s in zip(cov, se, strict=True))
            print(f"{k:>10}  {labels:>12}  {shown:40s}  "
                  + ", ".join(f"{w:.3f}" for w in width), flush=True)


if __name__ == "__main__":
    main()
