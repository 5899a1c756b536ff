"""Does `audit calibrate`'s threshold keep its accuracy target on fresh images?

Simulated labelled sets of n images whose cosine margins follow Beta(1.5, 4)
and whose top label is right with probability a - (a - 0.5) exp(-margin /
0.08) (accuracy rising with the margin to a plateau a). For each set the
threshold is chosen as `audit calibrate` chooses it (target 0.95), and its
accuracy on fresh images is the exact conditional accuracy above it (a
sample of 400,000 margins). Two rules: the raw accuracy on the labelled set
(the old rule) and the fixed-sequence binomial tests at confidence 0.9 (the
rule now).

    python benchmarks/calibration_fresh.py            # 1000 labelled sets per cell
    python benchmarks/calibration_fresh.py --reps 300

Prints per cell: how often the target is declared met, P(fresh >= target |
met), and the risk P(met and fresh < target), which the fixed-sequence rule
keeps at or below 1 - confidence whatever the labelled set.
"""

from __future__ import annotations

import argparse

import numpy as np

from audit.calibration.fit import choose_threshold

TARGET = 0.95


def accuracy(margins: np.ndarray, plateau: float) -> np.ndarray:
    return plateau - (plateau - 0.5) * np.exp(-margins / 0.08)


def raw_threshold(margins: np.ndarray, right: np.ndarray, min_decided: int = 10
                  ) -> float | None:
    """The old rule: the lowest threshold whose decided labelled images are
    at least TARGET accurate (None: none is)."""
    order = np.argsort(-margins, kind="stable")
    m, c = margins[order], right[order]
    k = np.arange(1, len(m) + 1)
    ok = (k >= min_decided) & (np.cumsum(c) / k >= TARGET)
    return float(m[np.nonzero(ok)[0][-1]]) if ok.any() else None


def simulate(*, n: int, plateau: float, confidence: float | None, reps: int, seed: int = 0,
             fresh_size: int = 400_000) -> dict[str, float]:
    """``confidence`` None: the raw rule (the labelled set's accuracy)."""
    rng = np.random.default_rng(seed)
    fresh = np.sort(rng.beta(1.5, 4, fresh_size))
    fresh_right = accuracy(fresh, plateau)
    above = np.cumsum(fresh_right[::-1])[::-1] / np.arange(fresh_size, 0, -1)  # mean above
    met = short = 0
    for _ in range(reps):
        margins = rng.beta(1.5, 4, n)
        right = rng.random(n) < accuracy(margins, plateau)
        if confidence is None:
            threshold = raw_threshold(margins, right)
        else:
            fitted = choose_threshold(margins, right, target=TARGET, min_decided=10,
                                      confidence=confidence)
            threshold = fitted.threshold if fitted.target_met else None
        if threshold is None:
            continue
        met += 1
        start = np.searchsorted(fresh, threshold)
        short += above[min(start, fresh_size - 1)] < TARGET
    return {"met": met / reps, "fresh_ok_given_met": 1 - short / met if met else float("nan"),
            "risk": short / reps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1000)
    args = parser.parse_args()
    print("rule                 n  plateau  P(met)  P(fresh>=0.95 | met)  P(met, fresh<0.95)")
    for rule, confidence in (("raw accuracy", None), ("fixed sequence 0.9", 0.9)):
        for plateau in (0.99, 0.97):
            for n in (96, 200):
                r = simulate(n=n, plateau=plateau, confidence=confidence, reps=args.reps)
                print(f"{rule:18s} {n:>3}  {plateau:>7}  {r['met']:6.3f}  "
                      f"{r['fresh_ok_given_met']:20.3f}  {r['risk']:18.3f}", flush=True)


if __name__ == "__main__":
    main()
