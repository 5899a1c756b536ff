"""Coverage and width of the pooled share's interval when prompts share seeds.

Design as the audit has it: R prompts x C shared seeds, one image per cell,
P(perceived category) = expit(base + prompt effect + seed effect) with
normal effects, 10% of images without a confident label. The target is the
pooled share of the population of prompts and seeds. The oracle interval is
estimate +/- 1.96 x the estimator's true SD over fresh designs (prompts,
seeds and images redrawn); the width ratio is the mean width over the
oracle's. Compared: ``crossed_interval`` (now) and the pigeonhole bootstrap
with t(R - 1) it replaced (before, re-implemented here as it was).

    python benchmarks/crossed_interval.py [--reps 1000]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import special, stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audit.stats.bootstrap import crossed_interval  # noqa: E402

PROMPTS = (4, 8, 16)
SEEDS = (20, 30)
EFFECTS = ((0.0, 0.0), (0.5, 0.0), (0.0, 1.0), (0.5, 1.0), (1.0, 0.5))  # prompt sd, seed sd


def pigeonhole_before(k: np.ndarray, n: np.ndarray, *, draws: int = 2000, seed: int = 0,
                      alpha: float = 0.05) -> tuple[float, float]:
    """The interval before: prompts and seeds resampled independently,
    estimate +/- t(R - 1) x bootstrap SE."""
    rng = np.random.default_rng(seed)
    rows, columns = k.shape
    row_weights = rng.multinomial(rows, np.full(rows, 1 / rows), size=draws).astype(float)
    column_weights = rng.multinomial(columns, np.full(columns, 1 / columns),
                                     size=draws).astype(float)
    hits = np.einsum("dr,rc,dc->d", row_weights, k, column_weights)
    totals = np.einsum("dr,rc,dc->d", row_weights, n, column_weights)
    shares = hits[totals > 0] / totals[totals > 0]
    estimate = k.sum() / n.sum()
    half = stats.t.ppf(1 - alpha / 2, rows - 1) * shares.std(ddof=1)
    return max(0.0, estimate - half), min(1.0, estimate + half)


def truth(base: float, prompt_sd: float, seed_sd: float) -> float:
    z = np.random.default_rng(0).normal(size=400_000)
    return float(special.expit(base + np.hypot(prompt_sd, seed_sd) * z).mean())


def simulate(prompts: int, seeds: int, prompt_sd: float, seed_sd: float, *, reps: int,
             seed: int, base: float = 0.0, before: bool = True) -> dict[str, float]:
    """Coverage and width ratio of each interval over ``reps`` designs."""
    rng = np.random.default_rng(seed)
    target = truth(base, prompt_sd, seed_sd)
    estimates, now, old = [], [], []
    for rep in range(reps):
        a = rng.normal(0, prompt_sd, prompts)[:, None]
        b = rng.normal(0, seed_sd, seeds)[None, :]
        y = (rng.random((prompts, seeds)) < special.expit(base + a + b)).astype(float)
        n = (rng.random((prompts, seeds)) > 0.1).astype(float)
        k = y * n
        estimates.append(k.sum() / n.sum())
        result = crossed_interval(k, n, seed=rep)
        now.append((result.ci_low, result.ci_high))
        if before:
            old.append(pigeonhole_before(k, n, seed=rep))
    estimates = np.array(estimates)
    oracle = 2 * 1.96 * estimates.std()
    out = {"oracle_coverage": float(np.mean(np.abs(estimates - target) <= oracle / 2))}
    for name, intervals in (("now", now), ("before", old)):
        if intervals:
            low, high = np.array(intervals).T
            out[f"{name}_coverage"] = float(np.mean((low <= target) & (target <= high)))
            out[f"{name}_ratio"] = float(np.mean(high - low) / oracle)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1000)
    args = parser.parse_args()
    print(f"{'prompts':>7s} {'seeds':>5s} {'prompt sd':>9s} {'seed sd':>7s} {'oracle':>6s} "
          f"{'now cover':>9s} {'now ratio':>9s} {'before cover':>12s} {'before ratio':>12s}")
    case = 0
    for prompts in PROMPTS:
        for seeds in SEEDS:
            for prompt_sd, seed_sd in EFFECTS:
                row = simulate(prompts, seeds, prompt_sd, seed_sd, reps=args.reps, seed=case)
                case += 1
                print(f"{prompts:7d} {seeds:5d} {prompt_sd:9.1f} {seed_sd:7.1f} "
                      f"{row['oracle_coverage']:6.3f} {row['now_coverage']:9.3f} "
                      f"{row['now_ratio']:9.2f} {row['before_coverage']:12.3f} "
                      f"{row['before_ratio']:12.2f}", flush=True)
    print(f"Monte-Carlo s.e. of a coverage near 0.95: {(0.95 * 0.05 / args.reps) ** 0.5:.3f}")


if __name__ == "__main__":
    main()
