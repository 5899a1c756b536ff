"""The options of each stage, declared once.

Every option is a field of a frozen dataclass (``GenerationOptions``,
``ScoringOptions``, ``StatsOptions``, ``ReportOptions``) with a ``Spec``
saying what it means, its command-line flags and its JSON Schema. From
these declarations come the Python API's keywords, the ``--config`` file's
schema (``schemas/run-config.schema.json`` is generated: ``python -m
audit.options``) and the commands' options (``audit/cli/options.py``), so
the three cannot disagree. Layers resolve in one place, ``merge``: flags
over the config file over the built-in defaults; the stage then builds the
frozen object, whose ``__post_init__`` is the one place its values are
checked, before anything loads.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

from audit.errors import UsageError

DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?|xpu(:\d+)?)$")
GENERATION_KEYS = ("steps", "guidance", "width", "height", "scheduler")
MAX_STEPS = 1000  # the training timesteps of every diffusers scheduler the audit uses
MAX_SIZE = 8192  # pixels per side: past the native sizes of every model the audit knows
MAX_SWEEP = 50  # values of one --sweep
MAX_SEED = 2**63 - 1  # a torch generator's largest seed
DTYPES = ("auto", "fp16", "bf16", "fp32")


@dataclass(frozen=True)
class Spec:
    """One option: its help, its flags (none: Python and config file only),
    the type the command line parses, how a flag's text becomes the value,
    and its JSON Schema in a config file (None: not in the file)."""

    help: str
    flags: tuple[str, ...] = ()
    cli_type: Any = str
    parse: Callable[[Any], Any] | None = None
    schema: dict[str, Any] | None = None
    config_key: str | None = None  # the config file's name when it is not the field's
    cli_default: Any = None
    minimum: float | None = None
    argument: bool = False  # a positional argument rather than a flag


@dataclass(frozen=True)
class Alias:
    """A flag that sets one key of a mapping option (``--steps`` sets
    ``generation["steps"]``, ``--clip-model`` sets ``scorer_options["clip"]
    ["model"]``): kept so older command lines go on working."""

    dest: str
    flags: tuple[str, ...]
    help: str
    into: str  # the mapping field it writes into
    key: str
    scopes: tuple[str, ...] = ()  # for scorer_options: the scorers it applies to (if run)
    cli_type: Any = str
    parse: Callable[[Any], Any] | None = None
    minimum: float | None = None


def opt(default: Any, help: str, *flags: str, **spec: Any) -> Any:
    return field(default=default, metadata={"spec": Spec(help, tuple(flags), **spec)})


def spec_of(f: Any) -> Spec:
    return f.metadata["spec"]


# -- parsers for command-line text -------------------------------------------------


def parse_pairs(values: list[str] | None, *, flag: str) -> dict[str, Any]:
    """``["key=value", ...]`` -> ``{"key": value}``, values read as YAML scalars."""
    import yaml

    def scalar(text: str) -> Any:
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            return text
        return value if isinstance(value, str | int | float | bool) or value is None else text

    out: dict[str, Any] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{flag} takes KEY=VALUE, got '{item}'")
        out[key.strip()] = scalar(value.strip())
    return out


def parse_scoped(values: list[str] | None, *, flag: str) -> dict[str, dict[str, Any]]:
    """``["clip.model=X", ...]`` -> ``{"clip": {"model": "X"}}``."""
    out: dict[str, dict[str, Any]] = {}
    for key, value in parse_pairs(values, flag=flag).items():
        scope, dot, name = key.partition(".")
        if not dot or not scope or not name:
            raise UsageError(f"{flag} takes SCORER.KEY=VALUE (e.g. clip.model=ViT-L-14), "
                             f"got '{key}'")
        out.setdefault(scope, {})[name] = value
    return out


def parse_size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)x(\d+)", text)
    if not match:
        raise UsageError(f"--size must be WIDTHxHEIGHT in multiples of 8, got '{text}'")
    return int(match[1]), int(match[2])


def parse_sweep(text: str) -> dict[str, list[str]]:
    key, sep, values = text.partition("=")
    if not sep or not values.strip():
        raise UsageError(f"--sweep must be KEY=V1,V2,... (e.g. steps=10,20,30), got '{text}'")
    return {key.strip(): [v.strip() for v in values.split(",") if v.strip()]}


def parse_slots(values: list[str]) -> dict[str, list[str]]:
    """``NAME=V1,V2`` (repeatable) -> {NAME: [V1, V2]}."""
    out: dict[str, list[str]] = {}
    for value in values:
        name, sep, rest = value.partition("=")
        name = name.strip()
        items = [v.strip() for v in rest.split(",") if v.strip()]
        if not sep or not name or not items:
            raise UsageError(f"--slot '{value}' must be NAME=VALUE[,VALUE...]")
        out.setdefault(name, []).extend(items)
    return out


def _names(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def _listed(values: list[str]) -> list[str] | None:
    return list(values) or None


def check_device(device: str) -> str:
    """A device name torch knows, checked before anything loads."""
    if not DEVICE.match(str(device)):
        raise UsageError(f"unknown device '{device}' (auto, cpu, cuda, cuda:N, mps, xpu)")
    return device


def check_generation(generation: dict[str, Any]) -> dict[str, Any]:
    """Overrides of the suite's generation parameters."""
    from audit.generators.schedulers import check_scheduler

    unknown = [k for k in generation if k not in GENERATION_KEYS]
    if unknown:
        raise UsageError(f"unknown generation parameter(s) {', '.join(unknown)} "
                         f"(known: {', '.join(GENERATION_KEYS)})")
    out = dict(generation)
    if "guidance" in out and not math.isfinite(float(out["guidance"])):
        raise UsageError(f"guidance must be a finite number, got {out['guidance']}")
    if "guidance" in out and float(out["guidance"]) < 0:
        raise UsageError(f"guidance must be at least 0, got {out['guidance']}")
    if "steps" in out and not 1 <= int(out["steps"]) <= MAX_STEPS:
        raise UsageError(f"steps must be between 1 and {MAX_STEPS} (a scheduler's training "
                         f"steps), got {out['steps']}")
    if out.get("scheduler"):
        out["scheduler"] = check_scheduler(out["scheduler"])
    for key in ("width", "height"):
        if key in out and (int(out[key]) <= 0 or int(out[key]) % 8):
            raise UsageError(f"{key} must be a positive multiple of 8, got {str(out[key])[:40]}")
        if key in out and int(out[key]) > MAX_SIZE:
            raise UsageError(f"{key} must be at most {MAX_SIZE} pixels (past any model's "
                             f"sizes), got {str(out[key])[:40]}")
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
    if len(values) > MAX_SWEEP:
        raise UsageError(f"--sweep {key}: {len(values)} values; more than {MAX_SWEEP} is "
                         "refused (each is a full run of the suite)")
    try:
        values = [int(v) if key == "steps" else float(v) for v in values]
    except (TypeError, ValueError):
        raise UsageError(f"--sweep {key}: values must be numbers, got "
                         f"{str(values)[:80]}") from None
    if not values or len(set(values)) < len(values):
        raise UsageError(f"--sweep {key}: give distinct values, e.g. {key}=10,20,30")
    for value in values:
        check_generation({key: value})
    return {"key": key, "values": values}


def _at_least(name: str, value: float | None, low: float) -> None:
    if value is not None and not value >= low:
        raise UsageError(f"{name} must be at least {low:g}, got {value}")


# -- the stages' options -------------------------------------------------------------


class StageOptions:
    """Shared behaviour: layers, keywords, schema, aliases."""

    aliases: ClassVar[tuple[Alias, ...]] = ()
    section: ClassVar[str] = "Options"  # the heading of its flags in --help

    @classmethod
    def merge(cls, *, flags: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
        """Keywords for the stage: a flag given (not None) over the config
        file's value over the built-in default; mappings merge key by key."""
        out: dict[str, Any] = {}
        for f in fields(cls):  # type: ignore[arg-type]
            key = spec_of(f).config_key or f.name
            value = config.get(key)
            given = flags.get(f.name)
            if isinstance(value, dict) or isinstance(given, dict):
                merged = _merge_mappings(value or {}, given or {})
                out[f.name] = merged if merged else None
            elif given is not None:
                out[f.name] = given
            elif value is not None:
                out[f.name] = value
        return out

    @classmethod
    def of(cls, keywords: dict[str, Any]) -> Any:
        """The options among a function's keywords (``locals()`` of an API
        function): each field by its config-file name (``score_device``) or,
        failing that, its own (``device``)."""
        picked = {}
        for f in fields(cls):  # type: ignore[arg-type]
            key = spec_of(f).config_key
            if key in keywords:
                picked[f.name] = keywords[key]
            elif f.name in keywords:
                picked[f.name] = keywords[f.name]
        return cls(**picked)

    def keywords(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]

    @classmethod
    def schema_properties(cls) -> dict[str, Any]:
        return {spec_of(f).config_key or f.name: {"description": _sentence(spec_of(f).help),
                                                  **spec_of(f).schema}
                for f in fields(cls) if spec_of(f).schema is not None}  # type: ignore[arg-type]


def _merge_mappings(low: dict[str, Any], high: dict[str, Any]) -> dict[str, Any]:
    out = dict(low)
    for key, value in high.items():
        out[key] = (_merge_mappings(out[key], value)
                    if isinstance(value, dict) and isinstance(out.get(key), dict) else value)
    return out


def _sentence(text: str) -> str:
    return " ".join(text.split())


STRING = {"type": "string"}
STRINGS = {"type": "array", "items": {"type": "string"}, "minItems": 1}


@dataclass(frozen=True, kw_only=True)
class GenerationOptions(StageOptions):
    """``audit generate`` / ``audit.generate``."""

    section: ClassVar[str] = "Generation"

    model: str | None = opt(
        None, "'toyworld' (bundled, trained), 'tiny' (random, for tests), an alias (SDv1.5, "
        "SDv2.1, SDXL, SD3, FLUX-schnell), a hub id, a local pipeline folder, a "
        ".safetensors/.ckpt file, or a paid API: openai:dall-e-3 (also dall-e-2, "
        "gpt-image-1), stability:core (also ultra, sd3, sd3-turbo, sd3.5-large, ...).",
        "--model", "-m", schema=STRING)
    suite: str | None = opt(
        None, "Bundled suite name (see 'audit probes list') or a .yaml path (or 'suite:' in "
        "--config).", argument=True, schema=STRING)
    prompts: list[str] | None = opt(
        None, "A prompt for a quick run without a suite (repeatable); its suite is written "
        "into the run as suite.yaml.", "--prompt", cli_type=list[str], parse=_listed,
        schema=STRINGS)
    templates: list[str] | None = opt(
        None, "A template for a quick run, e.g. 'a photo of {occupation|a}' (repeatable; "
        "with --slot).", "--template", cli_type=list[str], parse=_listed, schema=STRINGS)
    slots: dict[str, list[str]] | None = opt(
        None, "Slot values of --template, NAME=V1,V2,... (repeatable).", "--slot",
        cli_type=list[str], parse=parse_slots,
        schema={"type": "object", "additionalProperties": STRINGS})
    negative_prompt: str | None = opt(
        None, "Negative prompt (overrides the suite's default).", "--negative-prompt",
        schema=STRING)
    seed: int | None = opt(
        None, "First seed of every item (overrides the suite's); -1 draws one, recorded in "
        "run.json and reused on resume.", "--seed", cli_type=int, minimum=-1,
        schema={"type": "integer", "minimum": -1})
    styles: list[str] | None = opt(
        None, "A style of --styles (WebUI's styles.csv) applied to every prompt and negative "
        "prompt (repeatable, in order).", "--style", cli_type=list[str], parse=_listed,
        schema=STRINGS)
    styles_file: Path | None = opt(
        None, "WebUI styles.csv (name, prompt, negative_prompt; '{prompt}' marks where the "
        "prompt goes).", "--styles", cli_type=Path, schema=STRING)
    sweep: dict[str, list[Any]] | None = opt(
        None, "steps=10,20,30 or guidance=3,5,7.5: every item once per value (items "
        "ITEM--steps-10, ...), same seeds.", "--sweep", parse=parse_sweep,
        schema={"type": "object", "maxProperties": 1, "additionalProperties": {
            "type": "array", "items": {"type": ["number", "string"]}, "minItems": 1}})
    n: int | None = opt(
        None, "Images per item (default: the suite's).", "--n", "-n", cli_type=int, minimum=1,
        schema={"type": "integer", "minimum": 1})
    out: Path | None = opt(
        None, "Run directory (default runs/SUITE__MODEL). Rerunning into the same directory "
        "resumes.", "--out", "-o", cli_type=Path, schema=STRING)
    batch_size: int | None = opt(
        None, "Images per pipeline call (default: from free device memory).", "--batch-size",
        cli_type=int, minimum=1, schema={"type": "integer", "minimum": 1})
    device: str = opt("auto", "auto, cpu, cuda, cuda:1, ...", "--device", cli_default="auto",
                      schema=STRING)
    dtype: str = opt("auto", "auto (fp16 on GPU, fp32 on CPU), fp16, bf16, fp32.", "--dtype",
                     cli_default="auto", schema={"enum": list(DTYPES)})
    generation: dict[str, Any] | None = opt(
        None, "Overrides of the suite's steps, guidance, width, height and scheduler.",
        schema={"type": "object", "additionalProperties": False, "properties": {
            "steps": {"type": "integer", "minimum": 1},
            "guidance": {"type": "number", "minimum": 0},
            "width": {"type": "integer", "minimum": 8, "multipleOf": 8},
            "height": {"type": "integer", "minimum": 8, "multipleOf": 8},
            "scheduler": STRING}})
    model_options: dict[str, Any] | None = opt(
        None, "A backend option, KEY=VALUE (repeatable), e.g. -M revision=main; the flags "
        "below are aliases.", "--model-option", "-M", cli_type=list[str],
        parse=lambda v: parse_pairs(v, flag="--model-option"), schema={"type": "object"})
    max_cost: float | None = opt(
        None, "For paid APIs: refuse to start when the estimated cost (USD) of the images "
        "still to request is above this (default 5).", "--max-cost", cli_type=float,
        minimum=0.0, schema={"type": "number", "minimum": 0})
    confirm_cost: bool = opt(False, "Start a paid run even above --max-cost.", "--yes",
                             cli_type=bool, cli_default=False, schema={"type": "boolean"})
    ray: str | None = opt(
        None, "Run the batches on Ray actors: 'local' (a Ray instance on this machine), "
        "'auto' (the cluster this machine is in) or an address; one actor per GPU. Needs the "
        "[ray] extra.", "--ray", schema=STRING)
    ray_actors: int | None = opt(
        None, "With --ray: how many actors (default: one per GPU, else one per CPU core "
        "group).", "--ray-actors", cli_type=int, minimum=1,
        schema={"type": "integer", "minimum": 1})

    aliases: ClassVar[tuple[Alias, ...]] = (
        Alias("revision", ("--revision",), "Hub revision (branch, tag or commit).",
              "model_options", "revision"),
        Alias("safety_checker", ("--safety-checker/--no-safety-checker",), "Keep the model's "
              "safety checker; blocked images get status 'filtered' (off by default: an audit "
              "wants to see raw output).", "model_options", "safety_checker", cli_type=bool),
        Alias("generator_device", ("--generator-device",), "Device of the per-image "
              "torch.Generator (default cpu: seeds give the same latents on any machine).",
              "model_options", "generator_device"),
        Alias("compile", ("--compile",), "torch.compile the denoiser (QKV projections "
              "fused): 1.5x faster on an H100 after a minute or more of compiling, cached for "
              "later runs; rounding differs slightly from eager (recorded). -M "
              "compile_mode=... picks the mode.", "model_options", "compile", cli_type=bool),
        Alias("scheduler", ("--scheduler",), "Override the suite's scheduler: euler, euler_a, "
              "ddim, dpm++_2m, dpm++_2m_karras, pndm, unipc, ... or as WebUI names them "
              "('Euler a', 'DPM++ 2M Karras', 'DDIM'; any case).", "generation", "scheduler"),
        Alias("steps", ("--steps",), "Override the suite's steps.", "generation", "steps",
              cli_type=int, minimum=1),
        Alias("guidance", ("--guidance",), "Override the suite's guidance (CFG) scale.",
              "generation", "guidance", cli_type=float, minimum=0.0),
        Alias("size", ("--size",), "Override the suite's size, WIDTHxHEIGHT.", "generation",
              "size", parse=parse_size),
        Alias("latents", ("--latents",), "Alias of -M latents=FILE.pt: one starting latent "
              "for every image instead of seeded noise.", "model_options", "latents",
              cli_type=Path, parse=str),
        Alias("refiner", ("--refiner",), "Alias of -M refiner=ID: an SDXL refiner finishing "
              "the SDXL base's images (ensemble of experts).", "model_options", "refiner"),
        Alias("refiner_frac", ("--refiner-frac",), "Alias of -M refiner_frac: the fraction "
              "of steps the base does (default 0.8).", "model_options", "refiner_frac",
              cli_type=float),
        Alias("concurrency", ("--concurrency",), "Alias of -M concurrency: requests in "
              "flight at once for openai:/stability: models.", "model_options", "concurrency",
              cli_type=int, minimum=1),
    )

    @classmethod
    def merge(cls, *, flags: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
        """As ``StageOptions.merge``; a quick run's prompts on the command line
        replace the config file's suite, and a suite given there replaces a
        config file's quick-run prompts."""
        quick = bool(flags.get("prompts") or flags.get("templates"))
        if quick:
            config = {k: v for k, v in config.items() if k != "suite"}
        elif flags.get("suite"):
            config = {k: v for k, v in config.items() if k not in ("prompts", "templates")}
        return super().merge(flags=flags, config=config)

    def __post_init__(self) -> None:
        from audit.generators import check_model_options, generator_class

        if self.suite is not None:
            object.__setattr__(self, "suite", str(self.suite))  # a Path from Python
        check_device(self.device)
        if self.dtype not in DTYPES:
            raise UsageError(f"unknown dtype '{self.dtype}' ({', '.join(DTYPES)})")
        quick = bool(self.prompts or self.templates)
        if quick and self.suite is not None:
            raise UsageError("give a SUITE, or --prompt / --template for a quick run (not both)")
        if not (self.suite or quick) or not self.model:
            raise UsageError("give a SUITE (or --prompt / --template) and --model (or 'suite:' "
                             "and 'model:' in --config)")
        if self.templates and not self.slots:
            raise UsageError("--template needs --slot NAME=VALUE,VALUE")
        if self.styles and self.styles_file is None:
            raise UsageError("--style needs --styles FILE (WebUI's styles.csv)")
        for name, low in (("n", 1), ("batch_size", 1), ("max_cost", 0), ("ray_actors", 1),
                          ("seed", -1)):
            _at_least(name, getattr(self, name), low)
        if self.seed is not None and self.seed > MAX_SEED:
            raise UsageError(f"seed must be at most {MAX_SEED} (what a torch generator takes), "
                             f"got {str(self.seed)[:40]}")
        object.__setattr__(self, "generation", check_generation(self.generation or {}))
        object.__setattr__(self, "model_options", dict(self.model_options or {}))
        check_sweep(self.sweep)
        check_model_options(generator_class(self.model), self.model_options)  # before torch

    @property
    def swept(self) -> dict[str, Any] | None:
        return check_sweep(self.sweep)


@dataclass(frozen=True, kw_only=True)
class ScoringOptions(StageOptions):
    """``audit score`` / ``audit.score`` (and the scoring part of ``audit run``)."""

    section: ClassVar[str] = "Scoring"

    scorers: list[str] | None = opt(
        None, "Comma-separated: clip, skin_tone, face_attributes, nudenet, clip_concepts, "
        "sd_safety_checker (default: clip, skin_tone, clip_concepts, and face_attributes and "
        "nudenet when their extras are installed).", "--scorers", parse=_names,
        schema=STRINGS)
    scorer_options: dict[str, dict[str, Any]] | None = opt(
        None, "A scorer option, SCORER.KEY=VALUE, e.g. -S clip.model=ViT-B-32 -S "
        "nudenet.threshold=0.5 (repeatable).", "--set", "-S", cli_type=list[str],
        parse=lambda v: parse_scoped(v, flag="--set"),
        schema={"type": "object", "additionalProperties": {"type": "object"}})
    device: str = opt("auto", "auto, cpu, cuda, ...", "--score-device", cli_default="auto",
                      config_key="score_device", schema=STRING)
    batch_size: int | None = opt(
        None, "Images per CLIP forward pass (default 256 GPU / 32 CPU).", "--score-batch-size",
        cli_type=int, minimum=1, config_key="score_batch_size",
        schema={"type": "integer", "minimum": 1})
    ray: str | None = opt(
        None, "Score on Ray actors: 'local', 'auto' or a cluster address (a run only; [ray] "
        "extra).", "--ray", schema=STRING)
    ray_actors: int | None = opt(None, "With --ray: how many actors.", "--ray-actors",
                                 cli_type=int, minimum=1,
                                 schema={"type": "integer", "minimum": 1})

    aliases: ClassVar[tuple[Alias, ...]] = (
        Alias("clip_model", ("--clip-model",), "Alias of -S clip.model=... (and "
              "clip_concepts.model, adherence.model): an open_clip name, a JSON model config, "
              "'toyworld-clip' or 'tiny-random'. Default ViT-L-14.", "scorer_options", "model",
              scopes=("clip", "clip_concepts", "adherence")),
        Alias("clip_pretrained", ("--clip-pretrained",), "Alias of -S clip.pretrained=...: a "
              "pretrained tag (needs the hub or its cache), a local checkpoint file, 'none' "
              "(random) or 'default' (a named model's own weights, else 'openai').",
              "scorer_options", "pretrained", scopes=("clip", "clip_concepts", "adherence")),
        Alias("attributes", ("--attributes",), "Alias of -S clip.attributes=FILE.yaml.",
              "scorer_options", "attributes", scopes=("clip",), cli_type=Path, parse=str),
        Alias("concepts", ("--concepts",), "Alias of -S clip_concepts.concepts=FILE.",
              "scorer_options", "concepts", scopes=("clip_concepts",), cli_type=Path,
              parse=str),
        Alias("checker", ("--checker",), "Alias of -S sd_safety_checker.checker=DIR.",
              "scorer_options", "checker", scopes=("sd_safety_checker",), cli_type=Path,
              parse=str),
        Alias("calibration", ("--calibration",), "Alias of -S clip.calibration=FILE (and "
              "adherence.calibration): abstention thresholds from 'audit calibrate' for this "
              "CLIP model and attribute file (and on_class for the adherence scorer).",
              "scorer_options", "calibration", scopes=("clip", "adherence"), cli_type=Path,
              parse=str),
    )

    def __post_init__(self) -> None:
        from audit.scorers import check_names, check_options, default_scorers

        check_device(self.device)
        _at_least("score batch size", self.batch_size, 1)
        _at_least("ray_actors", self.ray_actors, 1)
        names = list(self.scorers) if self.scorers else default_scorers()
        check_names(names)
        check_options(names, self.scorer_options or {})
        object.__setattr__(self, "scorers", list(self.scorers) if self.scorers else None)
        object.__setattr__(self, "scorer_options",
                           {k: dict(v) for k, v in (self.scorer_options or {}).items()})


    @property
    def names(self) -> list[str]:
        """The scorers to run: those named, else the defaults this machine has."""
        from audit.scorers import default_scorers

        return list(self.scorers) if self.scorers else default_scorers()

    @property
    def named(self) -> bool:
        """Whether the caller chose the scorers (then none is left out)."""
        return bool(self.scorers)


@dataclass(frozen=True, kw_only=True)
class StatsOptions(StageOptions):
    """``audit stats`` / ``audit.assess`` (the ``stats:`` mapping of a config file)."""

    section: ClassVar[str] = "Statistics"

    ci: str = opt("wilson", "Interval: wilson (default), clopper-pearson, jeffreys.", "--ci",
                  schema={"enum": ["wilson", "clopper-pearson", "jeffreys"]})
    simultaneous: str | None = opt(
        None, "For more than two categories: goodman or sison-glaz simultaneous intervals.",
        "--simultaneous", schema={"enum": ["goodman", "sison-glaz", None]})
    correction: str = opt(
        "bh", "Multiplicity: bh (Benjamini-Hochberg, default), holm, none; applied across "
        "every finding of the file.", "--correction", schema={"enum": ["bh", "holm", "none"]})
    alpha: float = opt(0.05, "1 - confidence level, and test level (default 0.05).", "--alpha",
                       cli_type=float,
                       schema={"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1})
    seed: int = opt(0, "Seed for bootstrap and Monte-Carlo tests (default 0).", "--seed",
                    cli_type=int, schema={"type": "integer"})
    confusion: Path | None = opt(
        None, "JSON confusion matrices of the scorer (rows true, columns predicted): adds "
        "shares corrected for classifier error and tests the true shares through it (with "
        "--counts: of --attribute).", "--confusion", cli_type=Path,
        schema=STRING)
    answers: dict[str, str] | None = opt(
        None, "ATTRIBUTE=SCORER: whose decisions count for an attribute several scorers "
        "decide (overrides the suite's 'answers'; repeatable).", "--answer",
        cli_type=list[str],
        parse=lambda v: {k: str(x) for k, x in parse_pairs(v, flag="--answer").items()},
        schema={"type": "object", "additionalProperties": STRING})
    labels: bool = opt(True, "Use the run's human labels (RUN/labels.parquet; the "
                       "default), or ignore them.", "--labels/--no-labels", cli_type=bool,
                       schema={"type": "boolean"})

    def __post_init__(self) -> None:
        if self.simultaneous not in (None, "goodman", "sison-glaz"):
            raise UsageError(f"unknown simultaneous interval '{self.simultaneous}' "
                             "(goodman, sison-glaz)")
        if self.confusion is not None:
            object.__setattr__(self, "confusion", Path(self.confusion))
        self.settings()  # checks ci, alpha and correction

    def settings(self) -> Any:
        from audit.stats.assess import Settings
        from audit.stats.multiplicity import METHODS

        if self.correction not in METHODS:
            raise UsageError(f"unknown correction '{self.correction}' "
                             f"(known: {', '.join(METHODS)})")
        try:
            return Settings(alpha=self.alpha, ci_method=self.ci, simultaneous=self.simultaneous,
                            correction=self.correction, seed=self.seed)
        except ValueError as exc:
            raise UsageError(str(exc)) from None


@dataclass(frozen=True, kw_only=True)
class ReportOptions(StageOptions):
    """``audit report`` / ``audit.report``."""

    section: ClassVar[str] = "Output"

    grid_intensity: float | None = opt(
        None, "Grid carbon intensity in g CO2e per kWh, to turn the run's energy into CO2e "
        "(default 480, the 2023 world average).", "--grid-intensity", cli_type=float,
        schema={"type": "number", "minimum": 0})

    def __post_init__(self) -> None:
        value = self.grid_intensity
        if value is not None and (not math.isfinite(float(value)) or float(value) < 0):
            raise UsageError(f"grid intensity must be a non-negative number of g CO2e per "
                             f"kWh, got {value}")


# Keywords of audit.run that are about the whole run rather than one stage.
RUN_ONLY = {
    "report": {"type": "boolean", "description": "Write report.html (default true)."},
    "fused": {"type": ["boolean", "null"], "description": "Score each batch from its pixels "
              "while the next generates: true always; null (default) unless the model computes "
              "on this machine's CPU, where scoring beside it only takes its cores; false "
              "scores the PNGs afterwards. The tables are the same."},
}


def config_schema() -> dict[str, Any]:
    """The ``--config`` file's JSON Schema: every keyword of ``audit.run``
    (but the progress reporters and the command line), from the options."""
    properties = {**GenerationOptions.schema_properties(), **ScoringOptions.schema_properties(),
                  "stats": {"type": "object", "additionalProperties": False,
                            "description": "audit.assess keywords.",
                            "properties": StatsOptions.schema_properties()},
                  "grid_intensity": ReportOptions.schema_properties()["grid_intensity"],
                  **RUN_ONLY}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://t2i-audit/schemas/run-config.schema.json",
            "title": "audit run/generate/score --config FILE: the Python API's keyword "
                     "arguments (generated from audit/options.py; do not edit)",
            "type": "object", "additionalProperties": False, "properties": properties}


def read_config(path: Path) -> dict[str, Any]:
    """A run configuration file: the Python API's keywords as YAML, checked
    against the generated schema; command-line flags override it."""
    from audit.data_files import check, read_yaml

    data = read_yaml(Path(path), what="config file")
    check(data, "run-config.schema.json", path)
    return data


if __name__ == "__main__":
    print(json.dumps(config_schema(), indent=2))
