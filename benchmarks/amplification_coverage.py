"""Coverage of the toy world's bias-amplification interval at audit sizes.

The toy world's training-data shares (its card's occupations, the bundled
weights' training seed); a model whose shares exaggerate them (each share
to the power 1.5, renormalised); n readable on-class images per occupation
drawn from the model's shares (also at the demo's unequal counts). The
truth is the amplification of those model shares. Printed per attribute
and n: the coverage of
``bias_amplification``'s 95% interval (now) and of the percentile bootstrap
over each prompt's images it replaced (before, re-implemented here).

    python benchmarks/amplification_coverage.py [--reps 1000]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audit.toyworld.ground_truth import (  # noqa: E402
    ATTRIBUTES,
    _direction,
    bias_amplification,
    overall_shares,
)
from audit.toyworld.train import data_shares  # noqa: E402

TRAINING_SEED, PER_OCCUPATION = 20261123, 3000  # audit/toyworld/weights/training.json


def world() -> tuple[dict, list[str]]:
    data = data_shares(PER_OCCUPATION, TRAINING_SEED)
    return data, sorted({occupation for occupation, _, _ in data})


def model_shares(data: dict, occupation: str, attribute: str) -> np.ndarray:
    shares = np.array([data[(occupation, attribute, c)] for c in ATTRIBUTES[attribute]])
    exaggerated = np.maximum(shares, 1e-3) ** 1.5
    return exaggerated / exaggerated.sum()


def truth(data: dict, occupations: list[str], attribute: str) -> float:
    overall = overall_shares(data)
    return float(np.mean([
        _direction(data, overall, o, attribute, c)
        * (model_shares(data, o, attribute)[i] - data[(o, attribute, c)])
        for o in occupations for i, c in enumerate(ATTRIBUTES[attribute])]))


def bootstrap_before(frame: pd.DataFrame, data: dict, attribute: str, *, draws: int,
                     rng: np.random.Generator) -> tuple[float, float]:
    """The percentile bootstrap over each prompt's images, as it was."""
    overall = overall_shares(data)
    cells = []
    for occupation, mine in frame.groupby("prompted", sort=False):
        values = mine[attribute].to_numpy()
        picks = values[rng.integers(0, len(values), size=(draws, len(values)))]
        for c in ATTRIBUTES[attribute]:
            sign = _direction(data, overall, occupation, attribute, c)
            cells.append(sign * ((picks == c).mean(axis=1) - data[(occupation, attribute, c)]))
    low, high = np.quantile(np.mean(cells, axis=0), [0.025, 0.975])
    return float(low), float(high)


# readable on-class images per occupation in `audit demo` (25 generated each)
DEMO = {"ceo": 24, "chef": 24, "doctor": 24, "firefighter": 13, "janitor": 23, "nurse": 22,
        "pilot": 22, "teacher": 4}


def coverage(n: int | dict[str, int], *, reps: int, seed: int, before: bool = True
             ) -> dict[str, dict]:
    """``n``: images per occupation, the same for all or per occupation."""
    data, occupations = world()
    sizes = n if isinstance(n, dict) else dict.fromkeys(occupations, n)
    target = {a: truth(data, occupations, a) for a in ATTRIBUTES}
    rng = np.random.default_rng(seed)
    hits = {a: {"now": 0, "before": 0} for a in ATTRIBUTES}
    for _ in range(reps):
        frame = pd.DataFrame({"prompted": [o for o in occupations for _ in range(sizes[o])]})
        frame["drawn"], frame["readable"] = frame.prompted, True
        for attribute, categories in ATTRIBUTES.items():
            frame[attribute] = np.concatenate([
                rng.choice(categories, size=sizes[o], p=model_shares(data, o, attribute))
                for o in occupations])
        now = bias_amplification(frame, data)
        for attribute in ATTRIBUTES:
            hits[attribute]["now"] += now[attribute]["ci_low"] <= target[attribute] \
                <= now[attribute]["ci_high"]
            if before:
                low, high = bootstrap_before(frame, data, attribute, draws=1000, rng=rng)
                hits[attribute]["before"] += low <= target[attribute] <= high
    return {a: {k: v / reps for k, v in h.items()} | {"truth": target[a]}
            for a, h in hits.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1000)
    args = parser.parse_args()
    print(f"{'images/occupation':>17s} {'attribute':>12s} {'truth':>7s} {'now':>6s} "
          f"{'before':>6s}")
    for n in (8, 14, 30, DEMO):
        name = "4-24 (demo)" if isinstance(n, dict) else str(n)
        for attribute, row in coverage(n, reps=args.reps, seed=len(name)).items():
            print(f"{name:>17s} {attribute:>12s} {row['truth']:7.3f} {row['now']:6.3f} "
                  f"{row['before']:6.3f}", flush=True)
    print(f"Monte-Carlo s.e. of a coverage near 0.95: {(0.95 * 0.05 / args.reps) ** 0.5:.3f}")


if __name__ == "__main__":
    main()
