"""`audit demo` wall time against its 60 s target on this machine, and where
the time goes, in one run.

Three timed runs of the command as a user types it (a fresh interpreter, a
fresh run directory each, so nothing is resumed), then one run of the same
stages in-process with a clock around each: imports, generation, scoring,
statistics, reading the images back from their pixels (ground truth) and
the report. The stage run is sequential, as the demo is on a CPU.

    python benchmarks/demo.py            # median of 3, then the breakdown
    python benchmarks/demo.py --runs 1
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 60.0


def timed_demo(out: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "audit.cli", "demo", "--out", str(out)], check=True,
                   capture_output=True)
    return time.perf_counter() - start


def images_digest(run: Path) -> str:
    import pandas as pd

    table = pd.read_parquet(run / "images.parquet").sort_values("image_id")
    return hashlib.sha256("".join(table.sha256).encode()).hexdigest()[:16]


def stages(out: Path) -> dict[str, float]:
    laps: dict[str, float] = {}
    clock = [time.perf_counter()]

    def lap(name: str) -> None:
        now = time.perf_counter()
        laps[name] = now - clock[0]
        clock[0] = now

    import torch  # noqa: F401  (what every stage needs first)

    import audit
    from audit.rundir import RunDir
    from audit.toyworld.ground_truth import bias_amplification, read_run, separated_terms
    from audit.toyworld.model import WEIGHTS
    from audit.toyworld.train import data_shares

    lap("imports (torch, diffusers)")
    audit.generate(suite="toyworld", model="toyworld", n=25, out=out)
    lap("generation (200 images, 64 px, 20 steps)")
    audit.score(run=out, scorers=["clip"], scorer_options={"clip": {"model": "toyworld-clip"}})
    lap("scoring (toy CLIP)")
    audit.assess(run=out)
    lap("statistics")
    training = json.loads((WEIGHTS / "training.json").read_text())
    data = data_shares(training["preset"]["images_per_occupation"], training["seed"])
    readings = read_run(out)
    decisions = RunDir(out).read_scores().decisions
    said = decisions[decisions.scorer == "clip"][["image_id", "attribute", "label"]]
    separated_terms(readings, said, data)
    bias_amplification(readings, data)
    lap("ground truth (pixel readers, bootstraps)")
    audit.report(run=out)
    lap("report")
    return laps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        walls, digests = [], set()
        for i in range(args.runs):
            out = Path(tmp) / f"demo{i}"
            walls.append(timed_demo(out))
            digests.add(images_digest(out))
            print(f"audit demo run {i + 1}: {walls[-1]:.1f} s", flush=True)
        median = statistics.median(walls)
        print(f"median {median:.1f} s over {args.runs} run(s); target {TARGET_S:.0f} s; "
              f"median/target = {median / TARGET_S:.2f}; images identical across runs: "
              f"{len(digests) == 1} (digest {digests.pop()})")
        laps = stages(Path(tmp) / "stages")
        total = sum(laps.values())
        print(f"where the time goes (one in-process run, {total:.1f} s):")
        for name, seconds in laps.items():
            print(f"  {name:45s} {seconds:6.1f} s  {seconds / total:5.1%}")


if __name__ == "__main__":
    main()
