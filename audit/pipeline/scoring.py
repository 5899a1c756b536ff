"""``audit.score``: images (a run's, or any folder) -> the score tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audit.common.progress import Progress
from audit.errors import UsageError

if TYPE_CHECKING:
    from audit.options import ScoringOptions
    from audit.rundir.layout import ScorePaths


@dataclass(frozen=True)
class ScoreResult:
    tables: ScorePaths  # where decisions, measurements and inputs were written
    scorers: list[str]
    images: int
    decisions: int
    measurements: int
    statuses: dict[str, int]
    fused: dict[str, int] | None = None  # images scored while generating / from their PNGs
    notes: list[str] = field(default_factory=list)  # defaults decided here, said once

    def read(self) -> Any:
        """The three tables as DataFrames (``ScoreTables``)."""
        from audit.rundir.score_tables import read_tables

        return read_tables(self.tables.as_dict())


def _result(paths: Any, names: list[str], summary: dict[str, Any],
            notes: list[str]) -> ScoreResult:
    return ScoreResult(paths, list(names), summary["images"], summary["decisions"],
                       summary["measurements"], dict(summary["statuses"]),
                       summary.get("fused"), list(notes))


CLIP_SCORERS = ("clip", "clip_concepts")  # share one encoder when they share a model


def resolve_scorers(names: list[str], options: dict[str, dict[str, Any]], *, named: bool
                    ) -> tuple[list[str], dict[str, dict[str, Any]], list[str]]:
    """(scorers, their options, notes) as they will run here.

    A calibration file names the CLIP it was made for: ``clip`` uses that
    model unless one is given (adherence too). clip_concepts and adherence
    use clip's model and weights unless they have their own (one ``-S
    clip.model=`` configures all three). A default scorer the caller neither
    named nor configured whose CLIP weights are not on this machine is left
    out, and a note says which and how to add them; a scorer the caller
    asked for stays, and its loading error stops the run."""
    from audit.scorers.clip_model import weights_missing

    options = {k: dict(v) for k, v in options.items()}
    notes: list[str] = []
    for name in ("clip", "adherence"):
        mine = options.get(name, {})
        if name in names and mine.get("calibration") and "model" not in mine:
            from audit.calibration.file import read_calibration

            made = read_calibration(Path(mine["calibration"]))["model"]
            mine["model"] = made["name"]
            notes.append(f"{name} uses {made['name']}, the CLIP the calibration file "
                         f"{Path(mine['calibration']).name} was made for")
    clip = options.get("clip", {})
    for other in ("clip_concepts", "adherence"):
        if other in names:
            for key in ("model", "pretrained"):
                if key in clip and key not in options.get(other, {}):
                    options.setdefault(other, {})[key] = clip[key]
    if named:
        return names, options, notes
    unset = [n for n in CLIP_SCORERS if n in names and not options.get(n)]
    why = weights_missing("ViT-L-14", "default") if unset else None  # the scorers' default
    left_out = unset if why else []
    if why:
        names = [n for n in names if n not in left_out]
        if not names:
            raise UsageError(why)
        notes.append(f"left out {', '.join(left_out)}: {why.split(';')[0]}; add weights with "
                     "-S clip.model=NAME -S clip.pretrained=FILE (or name the scorers with "
                     "--scorers to make this an error)")
    return names, options, notes


def _with_suite_options(names: list[str], suite_options: dict[str, dict[str, Any]],
                        options: dict[str, dict[str, Any]] | None
                        ) -> dict[str, dict[str, Any]]:
    """The suite's scorer options for the scorers being run, under the caller's."""
    merged = {k: dict(v) for k, v in suite_options.items() if k in names}
    for scorer, values in (options or {}).items():
        merged.setdefault(scorer, {}).update(values)
    return merged


@dataclass(frozen=True)
class ScoringPlan:
    """Scoring while generating (``audit.run``): names and options checked
    when the plan is made, scorers built once the suite is known."""

    options: ScoringOptions
    progress: Progress | None = None
    always: bool = False  # also beside a model computing on this machine's CPU

    @classmethod
    def make(cls, options: ScoringOptions, progress: Progress | None, *,
             always: bool = False) -> ScoringPlan:
        return cls(options, progress, always)

    def build(self, suite_options: dict[str, dict[str, Any]], run_dir: Path,
              prompts: Any = None) -> BuiltScorers:
        """The scorers, with the options they were built with (the suite's
        under the caller's); ``prompts``: the suite's PromptBook."""
        from audit.rundir import RunDir
        from audit.scorers import make_scorers

        names, options, notes = resolve_scorers(
            self.options.names, _with_suite_options(self.options.names, suite_options,
                                                    self.options.scorer_options),
            named=self.options.named)
        return BuiltScorers(make_scorers(names, options=options, device=self.options.device,
                                         cache_folder=RunDir(run_dir).embeddings,
                                         batch_size=self.options.batch_size, prompts=prompts),
                            names, options, notes)

    def finish(self, run_dir: Path, built: BuiltScorers, fused: Any) -> ScoreResult:
        """The score tables: images scored while generating, the rest from PNG."""
        from audit.rundir import RunDir
        from audit.stages.score import run_score

        rundir = RunDir(run_dir)
        summary = run_score(rundir, built.scorers, progress=self.progress, fused=fused,
                            options={k: dict(v) for k, v in built.options.items()})
        return _result(rundir.scores, built.names, summary, built.notes)


@dataclass(frozen=True)
class BuiltScorers:
    scorers: list[Any]
    names: list[str]
    options: dict[str, dict[str, Any]]
    notes: list[str]


def score(*, run: Path | None = None, images: Path | None = None, out: Path | None = None,
          scorers: list[str] | None = None,
          scorer_options: dict[str, dict[str, Any]] | None = None, device: str = "auto",
          batch_size: int | None = None, progress: Progress | None = None,
          ray: str | None = None, ray_actors: int | None = None) -> ScoreResult:
    """Score a run directory (``run``) or any folder of images (``images``
    with ``out``: the decision table's path; the other tables go beside it).

    ``scorers`` defaults to clip, skin_tone, clip_concepts, and
    face_attributes and nudenet when their extras are installed;
    ``scorer_options`` maps a scorer name to its options, e.g.
    ``{"clip": {"model": "toyworld-clip"}}``. ``ray`` (a run only) scores
    on a pool of Ray actors (``ray_actors`` of them); the tables are the
    same as without it.
    """
    from audit.options import ScoringOptions

    options = ScoringOptions.of(locals())
    return score_with(options, run=run, images=images, out=out, progress=progress)


def score_with(options: ScoringOptions, *, run: Path | None = None, images: Path | None = None,
               out: Path | None = None, progress: Progress | None = None) -> ScoreResult:
    """``score`` on options already built and checked."""
    from audit.api.scorer import ScorerPool
    from audit.common.devices import quiet_libraries
    from audit.rundir import RunDir, ScorePaths
    from audit.scorers import make_scorers
    from audit.stages.score import run_score, score_folder

    if (run is None) == (images is None):
        raise UsageError("give either a run directory or an images folder (not both)")
    if options.ray and images is not None:
        raise UsageError("--ray scores run directories; score a folder here, or import it "
                         "first (audit import)")
    names, scorer_options = options.names, options.scorer_options or {}
    device, batch_size, ray = options.device, options.batch_size, options.ray
    quiet_libraries()
    if run is not None:
        if out is not None:
            raise UsageError("out goes with images; a run's scores go to RUN/scores/")
        rundir = RunDir(Path(run)).require()
        suite_options = rundir.card().suite.scorer_options
        scorer_options = _with_suite_options(names, suite_options, scorer_options)
        names, scorer_options, notes = resolve_scorers(names, scorer_options,
                                                       named=options.named)
        if ray:
            from audit.stages.ray_pool import RayScorers

            if "adherence" in names:
                raise UsageError("the adherence scorer does not run on Ray yet; score it "
                                 "here (audit score RUN --scorers adherence)")

            built: list[Any] | RayScorers = RayScorers(
                names, options=scorer_options or {}, device=device,
                cache_folder=rundir.embeddings, batch_size=batch_size, address=ray,
                actors=options.ray_actors)
        else:
            from audit.scorers.prompt_book import PromptBook

            built = make_scorers(names, options=scorer_options, device=device,
                                 cache_folder=rundir.embeddings, batch_size=batch_size,
                                 prompts=PromptBook.of_run(rundir))
        try:
            with rundir.lock():
                summary = run_score(rundir, built, progress=progress,
                                    options={k: dict(v) for k, v in
                                             (scorer_options or {}).items()})
        finally:
            if isinstance(built, ScorerPool):
                built.close()
        paths = rundir.scores
    else:
        folder = Path(images)
        if not folder.is_dir():
            raise UsageError("not a folder", where=str(folder))
        if out is None:
            raise UsageError("scoring a folder needs an output path for the decision table "
                             "(--out SCORES.parquet)")
        paths = ScorePaths.beside(Path(out))
        names, scorer_options, notes = resolve_scorers(names, scorer_options,
                                                       named=options.named)
        built = make_scorers(names, options=scorer_options, device=device,
                             cache_folder=paths.decisions.with_name(
                                 paths.decisions.name.removesuffix(".parquet")
                                 + ".embeddings"),
                             batch_size=batch_size)
        summary = score_folder(folder, paths, built, progress=progress)
    return _result(paths, names, summary, notes)
