"""``audit.demo``: a real audit of the bundled toy-world model, end to end,
with what only a world with known truth allows: the pixels read back, so the
model's own skew is separated from off-class images and the classifier."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from audit.common.progress import Progress
from audit.errors import UsageError
from audit.pipeline.full_run import RunResult


@dataclass(frozen=True)
class DemoResult:
    run: RunResult
    # per occupation, attribute and category: on-class rate, model share among
    # readable on-class images, data share, amplification, and the off-class,
    # classifier and unreadable terms (audit.toyworld.ground_truth.separated_terms)
    terms: pd.DataFrame
    amplification: dict[str, dict[str, Any]]  # per attribute: value, interval, occupations


def demo(*, n: int = 25, out: Path = Path("runs/demo"), weights: Path | None = None,
         progress: dict[str, Progress] | None = None) -> DemoResult:
    """Generate ``n`` images per occupation with the bundled toy-world model
    (or a rebuilt ``weights`` folder), score them with its CLIP, test against
    the world's true shares, write report.html, and read every image back
    from its pixels to split what the audit reports into the model's own
    deviation (directional bias amplification), off-class images, the
    classifier's error and unreadable images."""
    from audit.pipeline.full_run import run
    from audit.pipeline.reporting import report
    from audit.rundir import RunDir
    from audit.rundir.atomic import write_json
    from audit.toyworld.ground_truth import bias_amplification, read_run, separated_terms
    from audit.toyworld.model import WEIGHTS, weights_sources
    from audit.toyworld.train import data_shares

    folder = Path(weights) if weights is not None else WEIGHTS
    if not (folder / "training.json").is_file():
        raise UsageError(f"{folder}: not a toy-world weights folder (no training.json)")
    model, clip = weights_sources(weights)
    result = run(suite="toyworld", model=model, n=n, out=out, scorers=["clip"],
                 scorer_options={"clip": {"model": "toyworld-clip", "pretrained": clip}},
                 progress=progress, command="audit demo", report=False)
    training = json.loads((folder / "training.json").read_text())
    data = data_shares(training["preset"]["images_per_occupation"], training["seed"])
    readings = read_run(result.run_dir)
    rundir = RunDir(result.run_dir)
    decisions = rundir.read_scores().decisions
    said = decisions[decisions.scorer == "clip"][["image_id", "attribute", "label"]]
    terms = separated_terms(readings, said, data)
    amplification = bias_amplification(readings, data)
    write_json(rundir.ground_truth_json, {
        "format": "t2i-audit-ground-truth/1", "training": str(folder / "training.json"),
        "terms": json.loads(terms.to_json(orient="records")), "amplification": amplification})
    page = report(run=result.run_dir)  # with the ground truth in it
    return DemoResult(replace(result, report=page), terms, amplification)
