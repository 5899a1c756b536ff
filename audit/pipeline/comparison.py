"""``audit.compare``: two runs on the same prompts and seeds, paired image by
image (two models, two checkpoints, or one model before and after a change)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from audit.api.scorer import ABSTAIN
from audit.errors import UsageError


@dataclass(frozen=True)
class CompareResult:
    runs: tuple[Path, Path]  # A and B: differences are share(A) - share(B)
    answers: tuple[dict[str, str], dict[str, str]]  # the scorer answering each attribute
    table: pd.DataFrame  # one row per (attribute, category, item_id); see compare_paired_runs


def _confident(run: Path, answers: dict[str, str] | None) -> tuple[pd.DataFrame, dict[str, str]]:
    """(item_id, seed, attribute, label) of the answering scorer's confident labels."""
    from audit.data_files import default_answers
    from audit.rundir import RunDir
    from audit.stats.run_tables import chosen, resolve_answers

    rundir = RunDir(Path(run)).require()
    decisions = rundir.read_scores().decisions
    suite = rundir.card().suite
    picked = resolve_answers(decisions, requested={**suite.answers, **(answers or {})},
                             defaults=default_answers(), where=str(rundir.scores.decisions),
                             needed=suite.attributes or None)
    labels = chosen(decisions, picked)
    labels = labels[~labels.label.isin(ABSTAIN)]
    images = rundir.read_images()[["image_id", "item_id", "seed"]]
    return labels.merge(images, on="image_id")[["item_id", "seed", "attribute", "label"]], picked


def compare(*, runs: list[Path], answers: dict[str, str] | None = None, alpha: float = 0.05,
            correction: str = "bh") -> CompareResult:
    """Paired comparisons of two runs: for every prompt both ran at the same
    seeds, attribute and category, the difference in shares (A - B) with an
    Agresti-Min interval and an exact McNemar test, p-values adjusted across
    the table (``correction``: bh or holm). ``answers`` names the scorer
    whose decisions count for an attribute, in both runs."""
    from audit.stats.compare import compare_paired_runs

    if len(runs) != 2:
        raise UsageError(f"compare takes two runs (A and B), got {len(runs)}")
    if correction not in ("bh", "holm"):
        raise UsageError(f"unknown correction '{correction}' (bh, holm)")
    (a, answers_a), (b, answers_b) = (_confident(Path(r), answers) for r in runs)
    table = compare_paired_runs(a, b, alpha=alpha, correction=correction)
    return CompareResult((Path(runs[0]), Path(runs[1])), (answers_a, answers_b), table)
