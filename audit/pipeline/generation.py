"""``audit.generate``: a suite and a model -> images in a run directory."""

from __future__ import annotations

import contextlib
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audit.common.progress import Progress
from audit.errors import UsageError

if TYPE_CHECKING:
    from audit.pipeline.scoring import ScoreResult, ScoringPlan

GENERATION_KEYS = ("steps", "guidance", "width", "height", "scheduler")


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

    def images(self) -> Any:
        """images.parquet as a DataFrame (one row per requested image)."""
        from audit.rundir import RunDir

        return RunDir(self.run_dir).read_images()


def default_run_dir(suite: str, model: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9.]+", "-", Path(model).name if "/" in model else model)
    return Path("runs") / f"{suite}__{slug.strip('-')}"


def check_generation(generation: dict[str, Any]) -> dict[str, Any]:
    """Overrides of the suite's generation parameters, checked before any
    model loads."""
    from audit.generators.schedulers import check_scheduler

    unknown = [k for k in generation if k not in GENERATION_KEYS]
    if unknown:
        raise UsageError(f"unknown generation parameter(s) {', '.join(unknown)} "
                         f"(known: {', '.join(GENERATION_KEYS)})")
    out = dict(generation)
    if "guidance" in out and not math.isfinite(float(out["guidance"])):
        raise UsageError(f"guidance must be a finite number, got {out['guidance']}")
    if "steps" in out and int(out["steps"]) < 1:
        raise UsageError(f"steps must be at least 1, got {out['steps']}")
    if out.get("scheduler"):
        out["scheduler"] = check_scheduler(out["scheduler"])
    for key in ("width", "height"):
        if key in out and (int(out[key]) <= 0 or int(out[key]) % 8):
            raise UsageError(f"{key} must be a positive multiple of 8, got {out[key]}")
    return out


def check_sweep(sweep: dict[str, list[Any]] | None) -> dict[str, Any] | None:
    """One parameter (steps or guidance) and its values, checked."""
    if not sweep:
        return None
    if len(sweep) != 1:
        raise UsageError(f"sweep one parameter at a time (got {', '.join(sweep)})")
    ((key, values),) = sweep.items()
    if key not in ("steps", "guidance"):
        raise UsageError(f"--sweep {key}: only steps or guidance can be swept")
    try:
        values = [int(v) if key == "steps" else float(v) for v in values]
    except (TypeError, ValueError):
        raise UsageError(f"--sweep {key}: values must be numbers, got {values}") from None
    if not values or len(set(values)) < len(values):
        raise UsageError(f"--sweep {key}: give distinct values, e.g. {key}=10,20,30")
    for value in values:
        check_generation({key: value})
    return {"key": key, "values": values}


DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?|xpu(:\d+)?)$")


def check_device(device: str) -> str:
    """A device name torch knows, checked before anything loads."""
    if not DEVICE.match(device):
        raise UsageError(f"unknown device '{device}' (auto, cpu, cuda, cuda:N, mps, xpu)")
    return device


def _drawn_seed(run_dir: Path) -> int:
    """The seed drawn for a run asked with seed -1: the one run.json
    recorded when resuming, else a new one."""
    import secrets

    from audit.rundir import RunDir

    run = RunDir(run_dir)
    if run.exists():
        config = run.read_card().get("config", {})
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
    holds the tables it wrote.
    """
    from audit.common.devices import quiet_libraries
    from audit.generators import check_model_options, generator_class, make_generator
    from audit.rundir import RunDir
    from audit.stages.fused import FusedScoring
    from audit.stages.generate import check_cost, pending_requests, run_generate
    from audit.suites import load_suite
    from audit.suites.load import MAX_SEED, RANDOM_SEED

    check_device(device)
    quick = bool(prompts or templates)
    if quick == (suite is not None):
        raise UsageError("give a SUITE, or --prompt / --template for a quick run (not both)")
    if quick:
        import yaml

        from audit.rundir.atomic import write_text
        from audit.suites.adhoc import adhoc_suite

        data = adhoc_suite(prompts=list(prompts or []), templates=list(templates or []),
                           slots=dict(slots or {}), negative_prompt=negative_prompt, n=n,
                           seed=seed)
        out = Path(out) if out is not None else default_run_dir(data["name"], model)
        suite = out / "suite.yaml"
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        if not (suite.is_file() and suite.read_text(encoding="utf-8") == text):
            write_text(suite, text)
        negative_prompt = None  # it is in the suite
    loaded = load_suite(suite)
    if negative_prompt is not None:
        loaded = replace(loaded, data={**loaded.data, "negative_prompt": negative_prompt})
    if seed is not None:
        loaded = replace(loaded, data={**loaded.data, "seed": seed})
    applied: list[dict[str, str]] = []
    if styles:
        from audit.suites.styles import styled

        if styles_file is None:
            raise UsageError("--style needs --styles FILE (WebUI's styles.csv)")
        data, applied = styled(loaded.data, list(styles), Path(styles_file))
        loaded = replace(loaded, data=data)
    run_dir = Path(out) if out is not None else default_run_dir(loaded.name, model)
    seed_drawn = loaded.seed == RANDOM_SEED
    if seed_drawn:
        loaded = replace(loaded, data={**loaded.data, "seed": _drawn_seed(run_dir)})
    overrides = check_generation(generation or {})
    swept = check_sweep(sweep)
    from audit.stages.generate import first_seeds
    from audit.suites.expand import expand

    last_seed = max(first_seeds(loaded, expand(loaded)).values()) + (
        n or loaded.images_per_item) - 1
    if last_seed > MAX_SEED:
        raise UsageError(f"seeds {loaded.seed}..{last_seed} go beyond the largest seed a torch "
                         f"generator takes ({MAX_SEED}); lower the suite's seed or --n")
    check_model_options(generator_class(model), model_options or {})  # before torch loads
    if overrides:
        loaded = replace(loaded, data={**loaded.data,
                                       "generation": {**loaded.generation, **overrides}})
    if run_dir.exists() and not run_dir.is_dir():
        raise UsageError("is a file, not a run directory; give a folder for --out",
                         where=str(run_dir))
    quiet_libraries()
    config = {**({"seed_drawn": True} if seed_drawn else {}),
              **({"styles": applied} if applied else {}), **({"sweep": swept} if swept else {})}
    if ray:
        from audit.api.generator import HostedGenerator
        from audit.stages.ray_pool import RayGenerator

        if issubclass(generator_class(model), HostedGenerator):
            raise UsageError("--ray is for models that run here; a paid API runs from this "
                             "machine with --concurrency")
        generator: Any = RayGenerator(model, address=ray, actors=ray_actors, device=device,
                                      dtype=dtype, options=model_options)
        config["ray"] = generator.cluster
    else:
        generator = make_generator(model, device=device, dtype=dtype, options=model_options)
    try:
        cost = check_cost(generator, pending_requests(loaded, run_dir, n, config),
                          max_cost=max_cost, confirmed=confirm_cost)  # before any write
        scored = None
        if scoring is not None:
            scorers, options = scoring.build(loaded.scorer_options(), run_dir)
        with RunDir(run_dir).lock(), (FusedScoring(scorers) if scoring is not None
                                      else contextlib.nullcontext()) as fused:
            summary = run_generate(loaded, generator, run_dir, n=n, batch_size=batch_size,
                                   command=command, progress=progress, config=config,
                                   cost=cost, on_stored=fused.submit if fused else None)
            if fused is not None:
                fused.close()
                scored = scoring.finish(run_dir, scorers, options, fused)
    finally:
        generator.close()
    return GenerateResult(run_dir, loaded.name, model, summary.requested, summary.skipped,
                          summary.generated, dict(summary.statuses), loaded.content_warning,
                          summary.cost, summary.energy, scored)
