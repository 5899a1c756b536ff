"""``audit.run``: generate, score, assess and report in one call."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.common.progress import Progress
from audit.errors import UsageError
from audit.pipeline.assessment import AssessResult, assess_with
from audit.pipeline.generation import GenerateResult, generate_with
from audit.pipeline.reporting import report as write_report
from audit.pipeline.scoring import ScoreResult, ScoringPlan, score_with


@dataclass(frozen=True)
class RunResult:
    run_dir: Path
    generated: GenerateResult
    scored: ScoreResult
    assessed: AssessResult
    report: Path | None


def run(*, model: str, suite: str | Path | None = None, prompts: list[str] | None = None,
        templates: list[str] | None = None, slots: dict[str, list[str]] | None = None,
        negative_prompt: str | None = None, seed: int | None = None,
        styles: list[str] | None = None, styles_file: Path | None = None,
        sweep: dict[str, list[Any]] | None = None, n: int | None = None,
        out: Path | None = None,
        batch_size: int | None = None, device: str = "auto", dtype: str = "auto",
        generation: dict[str, Any] | None = None, model_options: dict[str, Any] | None = None,
        scorers: list[str] | None = None,
        scorer_options: dict[str, dict[str, Any]] | None = None, score_device: str = "auto",
        score_batch_size: int | None = None, stats: dict[str, Any] | None = None,
        report: bool = True, grid_intensity: float | None = None,
        progress: dict[str, Progress] | None = None,
        max_cost: float | None = None, confirm_cost: bool = False, ray: str | None = None,
        ray_actors: int | None = None, fused: bool | None = None,
        command: str = "") -> RunResult:
    """Every stage on one run directory; rerunning resumes generation.

    ``suite`` or a quick run's ``prompts`` / ``templates`` + ``slots``, and
    ``seed``, as ``audit.generate`` takes them.
    ``stats`` holds ``audit.assess`` keywords (ci, simultaneous, correction,
    alpha, seed, confusion, answers, labels); ``grid_intensity`` is the
    report's; ``progress`` maps "generate" and "score" to progress
    reporters. Every stage's options are checked before the first image.

    ``fused``: each batch is scored from the pixels its PNGs were written
    from while the next one generates, and images stored by an earlier
    invocation are scored from their PNGs; the tables equal ``audit.score``
    of the finished run. None (default): fused unless the model computes on
    this machine's CPU, where the images are scored from their PNGs once
    generated (scoring beside it would only take its cores: the demo's 73 s
    fell to 40 s on 2 cores); True: always fused; False: scored afterwards,
    from the PNGs. With ``ray`` the scoring always comes afterwards, on the
    pool. Either way the scorers are built before the first image.
    """
    from audit.options import GenerationOptions, ReportOptions, ScoringOptions, StatsOptions

    keywords = locals()
    progress = progress or {}
    generating = GenerationOptions.of(keywords)
    scoring = ScoringOptions.of(keywords)  # score_device, score_batch_size
    try:
        statistics = StatsOptions(**(stats or {}))
    except TypeError as exc:  # an unknown key in ``stats``
        raise UsageError(f"stats: {exc}") from None
    ReportOptions(grid_intensity=grid_intensity)
    plan = (ScoringPlan.make(scoring, progress.get("score"), always=fused is True)
            if fused is not False and not ray else None)
    generated = generate_with(generating, progress=progress.get("generate"), scoring=plan,
                              command=command)
    scored = generated.scored if plan is not None else score_with(
        scoring, run=generated.run_dir, progress=progress.get("score"))
    assert scored is not None
    assessed = assess_with(statistics, run=generated.run_dir)
    page = write_report(run=generated.run_dir, grid_intensity=grid_intensity) if report else None
    return RunResult(generated.run_dir, generated, scored, assessed, page)
