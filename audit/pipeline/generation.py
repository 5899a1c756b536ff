"""``audit.generate``: a suite and a model -> images in a run directory."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audit.common.progress import Progress
from audit.errors import UsageError

if TYPE_CHECKING:
    from audit.options import GenerationOptions
    from audit.pipeline.scoring import ScoreResult, ScoringPlan

@dataclass(frozen=True)
class GenerateResult:
    run_dir: Path
    suite: str
    model: str
    requested: int
    skipped: int
    generated: int
    statuses: dict[str, int]
    content_warning: str | None = field(default=None, repr=False)
    cost: dict[str, Any] | None = None  # paid backends: USD estimated before, spent after
    energy: dict[str, Any] | None = None  # this invocation's GPU and CPU joules, Wh per image
    scored: ScoreResult | None = None  # when scored while generating (``scoring``)
    # what a quick run took from the model's own settings (Generator.suite_defaults)
    model_defaults: dict[str, Any] | None = None

    def images(self) -> Any:
        """images.parquet as a DataFrame (one row per requested image)."""
        from audit.rundir import RunDir

        return RunDir(self.run_dir).read_images()


def default_run_dir(suite: str, model: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9.]+", "-", Path(model).name if "/" in model else model)
    return Path("runs") / f"{suite}__{slug.strip('-')}"


def _drawn_seed(run_dir: Path) -> int:
    """The seed drawn for a run asked with seed -1: the one run.json
    recorded when resuming, else a new one."""
    import secrets

    from audit.rundir import RunDir

    run = RunDir(run_dir)
    if run.exists():
        config = run.card().config
        if config.get("seed_drawn"):
            return int(config["seed"])
    return secrets.randbelow(2**32)


def generate(*, model: str, suite: str | Path | None = None, prompts: list[str] | None = None,
             templates: list[str] | None = None, slots: dict[str, list[str]] | None = None,
             negative_prompt: str | None = None, seed: int | None = None,
             styles: list[str] | None = None, styles_file: Path | None = None,
             sweep: dict[str, list[Any]] | None = None, n: int | None = None,
             out: Path | None = None, batch_size: int | None = None, device: str = "auto",
             dtype: str = "auto", generation: dict[str, Any] | None = None,
             model_options: dict[str, Any] | None = None, progress: Progress | None = None,
             max_cost: float | None = None, confirm_cost: bool = False,
             ray: str | None = None, ray_actors: int | None = None,
             scoring: ScoringPlan | None = None, command: str = "") -> GenerateResult:
    """Generate every item x seed of ``suite`` with ``model`` into ``out``
    (default runs/SUITE__MODEL); rerunning resumes.

    Instead of a suite, ``prompts`` and/or ``templates`` (suite syntax, with
    ``slots`` such as {"occupation": ["doctor", "nurse"]}) make a quick run;
    its suite is written into the run as suite.yaml. ``seed`` overrides the
    suite's first seed; -1 draws one (recorded, reused when resuming).
    ``negative_prompt`` overrides the suite's default negative prompt.
    ``styles`` are names in a WebUI ``styles_file`` (styles.csv), applied to
    every prompt as WebUI applies them and recorded in run.json. ``sweep``
    ({"steps": [10, 20, 30]} or {"guidance": [...]}) makes every item once
    per value (items ITEM--steps-10, ...), with the same seeds.
    ``generation`` overrides the suite's steps, guidance, width, height or
    scheduler; ``model_options`` are the backend's own (see ``audit
    generate --help``), e.g. ``{"revision": "main"}``. A paid API backend
    (``openai:...``, ``stability:...``) refuses to start when the estimated
    cost of the images still to request is above ``max_cost`` (default USD
    5) unless ``confirm_cost``. ``ray`` ("local", "auto" or a cluster
    address) runs the batches on a pool of Ray actors, one per GPU (CPU
    actors where there is none; ``ray_actors`` sets the number); the files
    are the same as without it. ``scoring`` (an
    ``audit.pipeline.scoring.ScoringPlan``) scores each batch from its
    pixels as it is stored, as ``audit.run`` does; the result's ``scored``
    holds the tables it wrote (beside a model computing on this machine's
    CPU, the images are scored from their PNGs once generated).
    """
    from audit.options import GenerationOptions

    options = GenerationOptions.of(locals())
    return generate_with(options, progress=progress, scoring=scoring, command=command)


def _quick_suite(o: GenerationOptions) -> tuple[Path, Path]:
    """A quick run's suite, written into its run directory as suite.yaml
    (rewritten only when it changed): (suite file, run directory)."""
    import yaml

    from audit.generators import generator_class
    from audit.rundir.atomic import write_text
    from audit.suites.adhoc import adhoc_suite

    data = adhoc_suite(prompts=list(o.prompts or []), templates=list(o.templates or []),
                       slots=dict(o.slots or {}), negative_prompt=o.negative_prompt, n=o.n,
                       seed=o.seed, defaults=generator_class(o.model).suite_defaults)
    out = Path(o.out) if o.out is not None else default_run_dir(data["name"], o.model)
    suite = out / "suite.yaml"
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    if not (suite.is_file() and suite.read_text(encoding="utf-8") == text):
        write_text(suite, text)
    return suite, out


def generate_with(o: GenerationOptions, *, progress: Progress | None = None,
                  scoring: ScoringPlan | None = None, command: str = "") -> GenerateResult:
    """``generate`` on options already built and checked (``audit.run`` builds
    every stage's options before the first stage starts)."""
    from audit.common.devices import quiet_libraries
    from audit.generators import generator_class, make_generator
    from audit.rundir import RunDir
    from audit.stages.fused import FusedScoring
    from audit.stages.generate import check_cost, first_seeds, pending_requests, run_generate
    from audit.suites import expand, load_suite
    from audit.suites.load import RANDOM_SEED, check_seed_range

    model = o.model
    assert model is not None  # GenerationOptions requires it
    quick = bool(o.prompts or o.templates)
    suite, out = _quick_suite(o) if quick else (o.suite, o.out)
    loaded = load_suite(suite)
    if o.negative_prompt is not None and not quick:  # a quick run's is in its suite
        loaded = replace(loaded, data={**loaded.data, "negative_prompt": o.negative_prompt})
    if o.seed is not None:
        loaded = replace(loaded, data={**loaded.data, "seed": o.seed})
    applied: list[dict[str, str]] = []
    if o.styles:
        from audit.suites.styles import styled

        data, applied = styled(loaded.data, list(o.styles), Path(o.styles_file))
        loaded = replace(loaded, data=data)
    run_dir = Path(out) if out is not None else default_run_dir(loaded.name, model)
    seed_drawn = loaded.seed == RANDOM_SEED
    if seed_drawn:
        loaded = replace(loaded, data={**loaded.data, "seed": _drawn_seed(run_dir)})
    check_seed_range(loaded.seed, max(first_seeds(loaded, expand(loaded)).values())
                     + (o.n or loaded.images_per_item) - 1, fix="lower the suite's seed or --n")
    if o.generation:
        loaded = replace(loaded, data={**loaded.data,
                                       "generation": {**loaded.generation, **o.generation}})
    if run_dir.exists() and not run_dir.is_dir():
        raise UsageError("is a file, not a run directory; give a folder for --out",
                         where=str(run_dir))
    quiet_libraries()
    swept = o.swept
    config = {**({"seed_drawn": True} if seed_drawn else {}),
              **({"styles": applied} if applied else {}), **({"sweep": swept} if swept else {})}
    if o.ray:
        from audit.api.generator import HostedGenerator
        from audit.stages.ray_pool import RayGenerator

        if issubclass(generator_class(model), HostedGenerator):
            raise UsageError("--ray is for models that run here; a paid API runs from this "
                             "machine with --concurrency")
        generator: Any = RayGenerator(model, address=o.ray, actors=o.ray_actors,
                                      device=o.device, dtype=o.dtype, options=o.model_options)
        config["ray"] = generator.cluster
    else:
        generator = make_generator(model, device=o.device, dtype=o.dtype,
                                   options=o.model_options)
    try:
        cost = check_cost(generator, pending_requests(loaded, run_dir, o.n, config),
                          max_cost=o.max_cost, confirmed=o.confirm_cost)  # before any write
        scored = None
        if scoring is not None:  # built before any image: one that cannot load stops here
            from audit.scorers.prompt_book import PromptBook

            built = scoring.build(loaded.scorer_options(), run_dir,
                                  prompts=PromptBook.of_suite(loaded, RunDir(run_dir)))
        # beside a model computing on this CPU, scoring would only take its cores:
        # then every image is scored from its PNG after generation (same tables)
        beside = scoring is not None and (scoring.always or not generator.computes_on_cpu())
        with RunDir(run_dir).lock(), (FusedScoring(built.scorers) if beside
                                      else contextlib.nullcontext()) as fused:
            summary = run_generate(loaded, generator, run_dir, n=o.n, batch_size=o.batch_size,
                                   command=command, progress=progress, config=config,
                                   cost=cost, on_stored=fused.submit if fused else None)
            if fused is not None:
                fused.close()
            if scoring is not None:
                scored = scoring.finish(run_dir, built, fused)
    finally:
        generator.close()
    return GenerateResult(run_dir, loaded.name, model, summary.requested, summary.skipped,
                          summary.generated, dict(summary.statuses), loaded.content_warning,
                          summary.cost, summary.energy, scored,
                          _taken_from_model(o) if quick else None)


def _taken_from_model(o: GenerationOptions) -> dict[str, Any] | None:
    """The model's suite defaults a quick run used: those the caller did not
    override."""
    from audit.generators import generator_class

    defaults = dict(generator_class(str(o.model)).suite_defaults)
    generation = {k: v for k, v in defaults.get("generation", {}).items()
                  if k not in (o.generation or {})}
    taken = {**defaults, "generation": generation} if generation else {
        k: v for k, v in defaults.items() if k != "generation"}
    return taken or None
