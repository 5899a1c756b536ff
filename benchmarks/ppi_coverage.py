"""Prediction-powered shares on the audit's design: coverage and width.

One prompt's N images; a share p of them show category 'f' (the rest 'm')
and 5% no person (people say 'no_person'; the classifier mostly abstains on
them); the classifier is right on 85% of 'f' and 88% of 'm' images and
abstains on 5%. People label a simple random sample of n images (their
label is the truth). Printed: coverage of the 95% interval for the share
of 'f' among images with a person, and its mean width, for PPI++ (now),
the labels alone, and the classifier's own share with a Wilson interval
(what the audit shows without labels: biased).

    python benchmarks/ppi_coverage.py [--reps 2000]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audit.stats.intervals import binomial_ci  # noqa: E402
from audit.stats.ppi import powered_ratio  # noqa: E402

OUTCOMES = ["f", "m", "unclear", "no_person"]
CLASSIFIER = {"f": [0.85, 0.10, 0.05, 0.0], "m": [0.08, 0.88, 0.04, 0.0],
              "no_person": [0.02, 0.03, 0.05, 0.90]}


def draw_prompt(rng: np.random.Generator, images: int, share: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """(truth, classifier outcome) per image."""
    truth = rng.choice(["f", "m", "no_person"], size=images,
                       p=[0.95 * share, 0.95 * (1 - share), 0.05])
    said = np.array([rng.choice(OUTCOMES, p=CLASSIFIER[t]) for t in truth])
    return truth, said


def simulate(*, images: int, labelled: int, share: float, reps: int, seed: int
             ) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    out = {f"{m}_{k}": 0.0 for m in ("ppi", "labels", "classifier") for k in ("cover", "width")}
    for _ in range(reps):
        truth, said = draw_prompt(rng, images, share)
        picked = np.zeros(images, dtype=bool)
        picked[rng.choice(images, size=labelled, replace=False)] = True
        result = powered_ratio(truth[picked] == "f", truth[picked] != "no_person",
                               said[picked] == "f", np.isin(said[picked], ["f", "m"]),
                               said[~picked] == "f", np.isin(said[~picked], ["f", "m"]))
        k, n = int((said == "f").sum()), int(np.isin(said, ["f", "m"]).sum())
        classifier = binomial_ci(k, n)
        for name, (low, high) in (
                ("ppi", (result.ci_low, result.ci_high)),
                ("labels", (result.classical_ci_low, result.classical_ci_high)),
                ("classifier", classifier)):
            out[f"{name}_cover"] += (low <= share <= high) / reps
            out[f"{name}_width"] += (high - low) / reps
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2000)
    args = parser.parse_args()
    print(f"{'images':>6s} {'labelled':>8s} {'share':>5s} {'PPI++ cover':>11s} {'width':>6s} "
          f"{'labels cover':>12s} {'width':>6s} {'classifier cover':>16s} {'width':>6s}")
    for i, (images, labelled, share) in enumerate(
            (N, n, p) for N in (200, 400) for n in (20, 40, 80) for p in (0.1, 0.3)):
        row = simulate(images=images, labelled=labelled, share=share, reps=args.reps, seed=i)
        print(f"{images:6d} {labelled:8d} {share:5.1f} {row['ppi_cover']:11.3f} "
              f"{row['ppi_width']:6.3f} {row['labels_cover']:12.3f} {row['labels_width']:6.3f} "
              f"{row['classifier_cover']:16.3f} {row['classifier_width']:6.3f}", flush=True)
    print(f"Monte-Carlo s.e. of a coverage near 0.95: {(0.95 * 0.05 / args.reps) ** 0.5:.3f}")


if __name__ == "__main__":
    main()
