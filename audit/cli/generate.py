"""``audit generate`` and ``audit run``: thin shells over ``audit.generate`` / ``audit.run``."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from audit.cli.render import print_table
from audit.errors import UsageError

console = Console()

SuiteArg = typer.Argument(None, help="Bundled suite name (see 'audit probes list') or a .yaml "
                          "path (or 'suite:' in --config).")
ModelOpt = typer.Option(None, "--model", "-m", help="'toyworld' (bundled, trained), 'tiny' "
                        "(random, for tests), an alias (SDv1.5, SDv2.1, SDXL, SD3, "
                        "FLUX-schnell), a hub id, a local pipeline folder, a "
                        ".safetensors/.ckpt file, or a paid API: openai:dall-e-3 (also "
                        "dall-e-2, gpt-image-1), stability:core (also ultra, sd3, sd3-turbo, "
                        "sd3.5-large, ...).")
NOpt = typer.Option(None, "--n", "-n", min=1, help="Images per item (default: the suite's).")
OutOpt = typer.Option(None, "--out", "-o", help="Run directory (default runs/SUITE__MODEL). "
                      "Rerunning into the same directory resumes.")
BatchOpt = typer.Option(None, "--batch-size", min=1,
                        help="Images per pipeline call (default: from free device memory).")
DeviceOpt = typer.Option("auto", help="auto, cpu, cuda, cuda:1, ...")
DtypeOpt = typer.Option("auto", help="auto (fp16 on GPU, fp32 on CPU), fp16, bf16, fp32.")
ModelSetOpt = typer.Option(None, "--model-option", "-M", help="A backend option, KEY=VALUE "
                           "(repeatable), e.g. -M revision=main; the flags below are aliases.")
RevisionOpt = typer.Option(None, help="Hub revision (branch, tag or commit).")
ConfigOpt = typer.Option(None, help="A run configuration .yaml (the Python API's keywords; "
                         "flags win), or, for a single-file checkpoint, the diffusers folder "
                         "with its pipeline config (needed offline).")
SafetyOpt = typer.Option(None, "--safety-checker/--no-safety-checker",
                         help="Keep the model's safety checker; blocked images get status "
                         "'filtered' (off by default: an audit wants to see raw output).")
GenDeviceOpt = typer.Option(None, help="Device of the per-image torch.Generator (default "
                            "cpu: seeds give the same latents on any machine).")
CompileOpt = typer.Option(None, "--compile", help="torch.compile the denoiser (QKV "
                          "projections fused): 1.5x faster on an H100 after a minute or more "
                          "of compiling, cached for later runs; rounding differs slightly "
                          "from eager (recorded). -M compile_mode=... picks the mode.")
SchedulerOpt = typer.Option(None, help="Override the suite's scheduler: euler, euler_a, ddim, "
                            "dpm++_2m, dpm++_2m_karras, pndm, unipc, ... or as WebUI names "
                            "them ('Euler a', 'DPM++ 2M Karras', 'DDIM'; any case).")
StepsOpt = typer.Option(None, min=1, help="Override the suite's steps.")
GuidanceOpt = typer.Option(None, min=0.0, help="Override the suite's guidance (CFG) scale.")
SizeOpt = typer.Option(None, help="Override the suite's size, WIDTHxHEIGHT.")
PromptOpt = typer.Option(None, "--prompt", help="A prompt for a quick run without a suite "
                         "(repeatable); its suite is written into the run as suite.yaml.")
TemplateOpt = typer.Option(None, "--template", help="A template for a quick run, e.g. "
                           "'a photo of {occupation|a}' (repeatable; with --slot).")
SlotOpt = typer.Option(None, "--slot", help="Slot values of --template, NAME=V1,V2,... "
                       "(repeatable).")
NegativeOpt = typer.Option(None, "--negative-prompt", help="Negative prompt (overrides the "
                           "suite's default).")
StyleOpt = typer.Option(None, "--style", help="A style of --styles (WebUI's styles.csv) "
                        "applied to every prompt and negative prompt (repeatable, in order).")
StylesFileOpt = typer.Option(None, "--styles", help="WebUI styles.csv (name, prompt, "
                             "negative_prompt; '{prompt}' marks where the prompt goes).")
RefinerOpt = typer.Option(None, "--refiner", help="Alias of -M refiner=ID: an SDXL refiner "
                          "finishing the SDXL base's images (ensemble of experts).")
RefinerFracOpt = typer.Option(None, "--refiner-frac", help="Alias of -M refiner_frac: the "
                              "fraction of steps the base does (default 0.8).")
LatentsOpt = typer.Option(None, "--latents", help="Alias of -M latents=FILE.pt: one starting "
                          "latent for every image instead of seeded noise.")
SweepOpt = typer.Option(None, "--sweep", help="steps=10,20,30 or guidance=3,5,7.5: every "
                        "item once per value (items ITEM--steps-10, ...), same seeds.")
ConcurrencyOpt = typer.Option(None, "--concurrency", min=1, help="Alias of -M concurrency: "
                              "requests in flight at once for openai:/stability: models.")
MaxCostOpt = typer.Option(None, "--max-cost", min=0.0, help="For paid APIs: refuse to start "
                          "when the estimated cost (USD) of the images still to request is "
                          "above this (default 5).")
YesOpt = typer.Option(False, "--yes", help="Start a paid run even above --max-cost.")
RayOpt = typer.Option(None, "--ray", help="Run the batches on Ray actors: 'local' (a Ray "
                      "instance on this machine), 'auto' (the cluster this machine is in) or "
                      "an address; one actor per GPU. Needs the [ray] extra.")
RayActorsOpt = typer.Option(None, "--ray-actors", min=1, help="With --ray: how many actors "
                            "(default: one per GPU, else one per CPU core group).")
SeedOpt = typer.Option(None, "--seed", min=-1, help="First seed of every item (overrides the "
                       "suite's); -1 draws one, recorded in run.json and reused on resume.")


def command_line() -> str:
    return "audit " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def split_config(config: Path | None) -> tuple[dict[str, Any], str | None]:
    """``--config``: a run configuration YAML, or a diffusers config folder."""
    from audit.cli.score import read_config

    if config is not None and config.suffix in (".yaml", ".yml"):
        return read_config(config), None
    return {}, str(config) if config is not None else None


def generation_overrides(scheduler: str | None, steps: int | None, guidance: float | None,
                         size: str | None, config: dict[str, Any]) -> dict[str, Any]:
    out = dict(config.get("generation") or {})
    if scheduler:
        out["scheduler"] = scheduler
    if steps:
        out["steps"] = steps
    if guidance is not None:
        out["guidance"] = guidance
    if size:
        match = re.fullmatch(r"(\d+)x(\d+)", size)
        if not match:
            raise UsageError(f"--size must be WIDTHxHEIGHT in multiples of 8, got '{size}'")
        out["width"], out["height"] = int(match[1]), int(match[2])
    return out


def parse_sweep(text: str | None) -> dict[str, list[str]] | None:
    if not text:
        return None
    key, sep, values = text.partition("=")
    if not sep or not values.strip():
        raise UsageError(f"--sweep must be KEY=V1,V2,... (e.g. steps=10,20,30), got '{text}'")
    return {key.strip(): [v.strip() for v in values.split(",") if v.strip()]}


def model_settings(model_option: list[str] | None, config: dict[str, Any],
                   folder: str | None, **aliases: Any) -> dict[str, Any]:
    from audit.pipeline.options import parse_pairs

    options = dict(config.get("model_options") or {})
    options.update({k: v for k, v in aliases.items() if v is not None})
    if folder is not None:
        options["config"] = folder
    options.update(parse_pairs(model_option, flag="--model-option"))
    return options


def generate_kwargs(suite: str | None, model: str | None, n: int | None, out: Path | None,
                    batch_size: int | None, device: str, dtype: str,
                    model_option: list[str] | None, revision: str | None,
                    config: Path | None, safety_checker: bool | None,
                    generator_device: str | None, compile: bool | None, scheduler: str | None,
                    steps: int | None, guidance: float | None, size: str | None,
                    prompt: list[str] | None = None, template: list[str] | None = None,
                    slot: list[str] | None = None, negative_prompt: str | None = None,
                    seed: int | None = None, style: list[str] | None = None,
                    styles: Path | None = None, sweep: str | None = None,
                    latents: Path | None = None, refiner: str | None = None,
                    refiner_frac: float | None = None, concurrency: int | None = None,
                    max_cost: float | None = None, yes: bool = False, ray: str | None = None,
                    ray_actors: int | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The keywords of ``audit.generate`` from flags over the config file,
    and the config file itself."""
    from audit.suites.adhoc import parse_slots

    settings, folder = split_config(config)
    quick = bool(prompt or template)
    if quick and suite:
        raise UsageError("give a SUITE, or --prompt / --template for a quick run (not both)")
    suite = None if quick else (suite or settings.get("suite"))
    model = model or settings.get("model")
    if not (suite or quick) or not model:
        raise UsageError("give a SUITE (or --prompt / --template) and --model (or 'suite:' "
                         "and 'model:' in --config)")
    if quick and slot is None and template:
        raise UsageError("--template needs --slot NAME=VALUE,VALUE")
    kwargs = {
        "suite": suite, "model": model, "n": n or settings.get("n"),
        "prompts": list(prompt or []) or None, "templates": list(template or []) or None,
        "slots": parse_slots(slot) or None, "negative_prompt": negative_prompt, "seed": seed,
        "styles": list(style or []) or None, "styles_file": styles,
        "sweep": parse_sweep(sweep),
        "out": out or (Path(settings["out"]) if settings.get("out") else None),
        "batch_size": batch_size or settings.get("batch_size"),
        "device": settings.get("device", device) if device == "auto" else device,
        "dtype": settings.get("dtype", dtype) if dtype == "auto" else dtype,
        "generation": generation_overrides(scheduler, steps, guidance, size, settings),
        "model_options": model_settings(model_option, settings, folder, revision=revision,
                                        latents=str(latents) if latents else None,
                                        refiner=refiner, refiner_frac=refiner_frac,
                                        safety_checker=safety_checker,
                                        generator_device=generator_device, compile=compile,
                                        concurrency=concurrency),
        "max_cost": max_cost if max_cost is not None else settings.get("max_cost"),
        "confirm_cost": yes,
        "ray": ray or settings.get("ray"), "ray_actors": ray_actors,
        "command": command_line(),
    }
    return kwargs, settings


def print_generated(result: Any) -> None:
    print_table(console, ("status", "images"), sorted(result.statuses.items()))
    console.print(f"{result.run_dir}: {result.generated} generated, {result.skipped} already "
                  "done", markup=False)
    if result.cost:
        cost = result.cost
        console.print(f"cost: USD {cost['spent']:.2f} spent (estimated {cost['estimated']:.2f} "
                      f"for {cost['images_requested']} images; prices are estimates from "
                      "the price table)", markup=False)
    line = energy_line(result.energy)
    if line:
        console.print(line, markup=False)


def energy_line(energy: dict[str, Any] | None) -> str | None:
    """'energy: GPU 12.1 Wh (nvml energy counter), CPU 0.8 Wh (estimate); 0.05 Wh per image'."""
    if not energy or not energy.get("images"):
        return None
    gpu, cpu = energy["gpu"], energy["cpu"]
    parts = [f"GPU {gpu['joules'] / 3600:.3g} Wh ({gpu['source']})"
             if gpu["joules"] is not None else f"GPU not measured ({gpu['why_not']})",
             f"CPU {cpu['joules'] / 3600:.3g} Wh "
             f"({'estimate' if cpu['source'].startswith('estimate') else cpu['source']})"]
    total = ((gpu["joules"] or 0.0) + cpu["joules"]) / 3600 / energy["images"]
    return f"energy: {', '.join(parts)}; {total:.3g} Wh per image generated"


def warn_content(suite: str | None) -> None:
    from audit.cli.progress import stderr
    from audit.suites import load_suite

    if suite is None:  # a quick run: prompts from the command line
        return
    warning = load_suite(suite).content_warning
    if warning:
        stderr.print(f"content warning: {warning}", markup=False, style="yellow")


def generate(suite: str | None = SuiteArg, model: str | None = ModelOpt, n: int | None = NOpt,
             out: Path | None = OutOpt, batch_size: int | None = BatchOpt,
             device: str = DeviceOpt, dtype: str = DtypeOpt,
             model_option: list[str] | None = ModelSetOpt, revision: str | None = RevisionOpt,
             config: Path | None = ConfigOpt, safety_checker: bool | None = SafetyOpt,
             generator_device: str | None = GenDeviceOpt, compile: bool | None = CompileOpt,
             scheduler: str | None = SchedulerOpt, steps: int | None = StepsOpt,
             guidance: float | None = GuidanceOpt, size: str | None = SizeOpt,
             prompt: list[str] | None = PromptOpt, template: list[str] | None = TemplateOpt,
             slot: list[str] | None = SlotOpt, negative_prompt: str | None = NegativeOpt,
             image_seed: int | None = SeedOpt, style: list[str] | None = StyleOpt,
             styles: Path | None = StylesFileOpt, sweep: str | None = SweepOpt,
             latents: Path | None = LatentsOpt, refiner: str | None = RefinerOpt,
             refiner_frac: float | None = RefinerFracOpt,
             concurrency: int | None = ConcurrencyOpt, max_cost: float | None = MaxCostOpt,
             yes: bool = YesOpt, ray: str | None = RayOpt,
             ray_actors: int | None = RayActorsOpt) -> None:
    """Generate seeded images for every item of a suite into a run directory.

    Examples: audit generate smoke --model tiny --out runs/smoke ;
    audit generate --prompt "a photo of a doctor" --n 20 --seed 42 --model SDXL ;
    audit generate --template "a photo of {occupation|a}" --slot occupation=doctor,nurse -m SDXL
    """
    import audit
    from audit.cli.progress import Reporter

    kwargs, _ = generate_kwargs(suite, model, n, out, batch_size, device, dtype, model_option,
                                revision, config, safety_checker, generator_device, compile,
                                scheduler, steps, guidance, size, prompt, template, slot,
                                negative_prompt, image_seed, style, styles, sweep, latents,
                                refiner, refiner_frac, concurrency, max_cost, yes, ray,
                                ray_actors)
    warn_content(kwargs["suite"])
    with Reporter("audit generate") as reporter:
        result = audit.generate(**kwargs, progress=reporter.stage(
            f"generating {kwargs['suite'] or 'a quick run'} on {kwargs['model']}"))
    print_generated(result)


def register(app: typer.Typer) -> None:
    app.command()(generate)
