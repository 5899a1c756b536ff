"""Does the test ``audit stats`` runs have the power ``audit plan`` promised?

For each case: ``audit.plan`` gives n (confident images per prompt); counts
are then simulated at that n from the true shares seen through the
classifier (every prompt one group of a counts table) and tested by
``audit.assess`` itself, with the confusion file the plan read. Printed:
the rejection rate under the null (target <= 0.055) and under the
alternative (target >= the plan's 0.8), with their Monte-Carlo standard
errors; and the level when the labelled images are themselves a fresh draw
each time (the confusion file's counts redrawn from the classifier's rates).

    python benchmarks/plan_vs_stats.py [--reps 1000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import audit  # noqa: E402
from audit.stats.through_classifier import fit_through_confusion  # noqa: E402

# name, null shares, alternative shares, confusion counts (true x outcomes; None: no
# classifier error) and its outcome names; the first category is the one planned for
CASES = {
    "0.2 vs 0.35, sens/spec 0.9, 100 labels per class": (
        [0.2, 0.8], [0.35, 0.65], [[90, 10], [10, 90]], ["a", "b"]),
    "0.5 vs 0.65, sens 0.95 spec 0.85, 100 labels per class": (
        [0.5, 0.5], [0.65, 0.35], [[95, 5], [15, 85]], ["a", "b"]),
    "0.45 vs 0.3, sens/spec 0.9, 5% unclear, 100 labels per class": (
        [0.45, 0.55], [0.3, 0.7], [[86, 9, 5], [9, 86, 5]], ["a", "b", "unclear"]),
    "3 categories, 0.3 vs 0.45, no classifier error": (
        [0.3, 0.35, 0.35], [0.45, 0.275, 0.275], None, None),
    "3 categories, 0.3 vs 0.45, 85% accurate, 100 labels per class": (
        [0.3, 0.35, 0.35], [0.45, 0.275, 0.275],
        [[85, 8, 7], [7, 85, 8], [8, 7, 85]], ["a", "b", "c"]),
}


def categories_of(null: list[float]) -> list[str]:
    return list("abc")[:len(null)]


def planned(case: str, folder: Path) -> tuple[int, Path | None]:
    null, alternative, counts, outcomes = CASES[case]
    confusion = None
    if counts is not None:
        confusion = folder / "confusion.json"
        confusion.write_text(json.dumps({"attributes": {"x": {
            "true": categories_of(null), "predicted": outcomes, "confusion": counts}}}))
    result = audit.plan(p0=null, p1=alternative, categories=len(null), confusion=confusion,
                        attribute="x" if confusion else None,
                        category="a" if confusion else None)
    return result.n_stays, confusion


def outcome_shares(truth: list[float], counts: list[list[int]] | None) -> np.ndarray:
    if counts is None:
        return np.asarray(truth)
    matrix = np.asarray(counts, dtype=float)
    return np.asarray(truth) @ (matrix / matrix.sum(axis=1, keepdims=True))


def rejection(case: str, truth: list[float], n: int, confusion: Path | None, folder: Path, *,
              reps: int, seed: int) -> float:
    """Share of ``reps`` simulated prompts whose test (by audit.assess)
    rejects at 0.05, when ``n`` confident images are expected per prompt."""
    null, _, counts, outcomes = CASES[case]
    names = outcomes or categories_of(null)
    shares = outcome_shares(truth, counts)
    confident = [names.index(c) for c in categories_of(null)]
    # n confident images expected: the images generated are n over the confident share
    generated = round(n / shares[confident].sum())
    rng = np.random.default_rng(seed)
    drawn = rng.multinomial(generated, shares, size=reps)
    table = pd.DataFrame([{"group": f"p{r}", "category": c, "count": int(drawn[r, j])}
                          for r in range(reps) for j, c in enumerate(names)])
    reference = folder / "reference.csv"
    pd.DataFrame({"group": "*", "category": categories_of(null), "proportion": null}).to_csv(
        reference, index=False)
    result = audit.assess(counts=table, reference=reference, confusion=confusion,
                          attribute="x")
    p = result.proportions.drop_duplicates("group").p_value
    return float((p <= 0.05).mean())


def level_with_fresh_labels(case: str, n: int, *, reps: int, seed: int) -> float:
    """The level when the labelled images are a new draw each time too."""
    null, _, counts, outcomes = CASES[case]
    matrix = np.asarray(counts, dtype=float)
    rates = matrix / matrix.sum(axis=1, keepdims=True)
    rows = matrix.sum(axis=1).astype(int)
    confident = [outcomes.index(c) for c in categories_of(null)]
    shares = np.asarray(null) @ rates
    generated = round(n / shares[confident].sum())
    rng = np.random.default_rng(seed)
    rejected = 0
    for r in range(reps):
        labelled = np.array([rng.multinomial(k, row) for k, row in zip(rows, rates, strict=True)])
        observed = rng.multinomial(generated, shares)[confident]
        rejected += fit_through_confusion(observed, null, labelled, confident, mc_draws=4000,
                                          seed=r).p_value <= 0.05
    return rejected / reps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1000)
    args = parser.parse_args()
    se = lambda p: (p * (1 - p) / args.reps) ** 0.5  # noqa: E731
    print(f"{'case':62s} {'plan n':>6s} {'level':>13s} {'power':>13s} {'level, fresh labels':>19s}")
    for i, case in enumerate(CASES):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            n, confusion = planned(case, folder)
            null, alternative = CASES[case][:2]
            level = rejection(case, null, n, confusion, folder, reps=args.reps, seed=2 * i)
            power = rejection(case, alternative, n, confusion, folder, reps=args.reps,
                              seed=2 * i + 1)
            fresh = ("-" if confusion is None else
                     f"{level_with_fresh_labels(case, n, reps=args.reps, seed=i):.3f}")
            print(f"{case:62s} {n:6d} {level:.3f} ± {se(level):.3f} "
                  f"{power:.3f} ± {se(power):.3f} {fresh:>19s}", flush=True)


if __name__ == "__main__":
    main()
