"""Generation on Ray against the single-process engine, in one run (prints
img/s and ratios; model load and Ray start-up excluded by timing the stage
from its first batch). On CPU: 1 and 2 actors; on a GPU machine: one actor
per GPU.

    python benchmarks/ray_scaling.py [--model toyworld] [--n 16] [--batch-size 4]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import audit


class Clock:
    """Times from the first stored batch to the last, so loading and Ray's
    start-up do not count; the first batch's images are not counted either."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.last = 0.0
        self.after_first = 0

    def start(self, total: int, done: int) -> None:
        pass

    def advance(self, count: int) -> None:
        now = time.perf_counter()
        if self.first is None:
            self.first = now
        else:
            self.after_first += count
        self.last = now

    def rate(self) -> float:
        return self.after_first / (self.last - self.first) if self.first else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="toyworld")
    parser.add_argument("--suite", default="toyworld")
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--actors", type=int, nargs="*", default=[1, 2])
    args = parser.parse_args()
    rates = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, ray_actors in [("single process", None), *[(f"ray, {a} actor(s)", a)
                                                             for a in args.actors]]:
            clock = Clock()
            audit.generate(suite=args.suite, model=args.model, n=args.n,
                           batch_size=args.batch_size, out=Path(tmp) / label.replace(" ", "_"),
                           ray="local" if ray_actors else None, ray_actors=ray_actors,
                           progress=clock)
            rates[label] = clock.rate()
    base = rates["single process"]
    for label, rate in rates.items():
        print(f"{label:20s} {rate:6.2f} img/s  {rate / base:5.2f}x single process")


if __name__ == "__main__":
    main()
