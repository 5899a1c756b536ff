"""``audit generate`` and ``audit run``."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from audit.cli.score import (
    AttributesOpt,
    CheckerOpt,
    ClipModelOpt,
    ClipPretrainedOpt,
    ConceptsOpt,
    ScoreBatchOpt,
    ScoreDeviceOpt,
    ScorersOpt,
)

console = Console()

SuiteArg = typer.Argument(..., help="Bundled suite name (see 'audit probes list') or a .yaml path.")
ModelOpt = typer.Option(..., "--model", "-m", help="'toyworld' (bundled, trained), 'tiny' (random, "
                        "for tests), an alias (SDv1.5, SDv2.1, SDXL, "
                        "SD3, FLUX-schnell), a hub id, a local pipeline folder, or a "
                        ".safetensors/.ckpt file.")
NOpt = typer.Option(None, "--n", "-n", min=1, help="Images per item (default: the suite's).")
OutOpt = typer.Option(None, "--out", "-o", help="Run directory (default runs/SUITE__MODEL). "
                      "Rerunning into the same directory resumes.")
BatchOpt = typer.Option(None, "--batch-size", min=1,
                        help="Images per pipeline call (default: from free device memory).")
DeviceOpt = typer.Option("auto", help="auto, cpu, cuda, cuda:1, ...")
DtypeOpt = typer.Option("auto", help="auto (fp16 on GPU, fp32 on CPU), fp16, bf16, fp32.")
RevisionOpt = typer.Option(None, help="Hub revision (branch, tag or commit).")
ConfigOpt = typer.Option(None, help="Diffusers folder with the pipeline config for a "
                         "single-file checkpoint (needed offline).")
SafetyOpt = typer.Option(False, "--safety-checker/--no-safety-checker",
                         help="Keep the model's safety checker; blocked images get status "
                         "'filtered' (off by default: an audit wants to see raw output).")
GenDeviceOpt = typer.Option("cpu", help="Device of the per-image torch.Generator; 'cpu' makes "
                            "seeds give the same latents on any machine.")
CompileOpt = typer.Option(False, "--compile", help="torch.compile the denoiser on CUDA: "
                          "about 1.5x faster on large runs after a minute of compiling.")
SchedulerOpt = typer.Option(None, help="Override the suite's scheduler: euler, euler_a, ddim, "
                            "dpm++_2m, dpm++_2m_karras, pndm, unipc, ...")
StepsOpt = typer.Option(None, min=1, help="Override the suite's steps.")
GuidanceOpt = typer.Option(None, min=0.0, help="Override the suite's guidance (CFG) scale.")
SizeOpt = typer.Option(None, help="Override the suite's size, WIDTHxHEIGHT.")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", Path(text).name if "/" in text else text).strip("-")


def _overrides(scheduler: str | None, steps: int | None, guidance: float | None,
               size: str | None) -> dict[str, Any]:
    from audit.errors import UsageError
    from audit.generators.schedulers import check_scheduler

    out: dict[str, Any] = {}
    if scheduler:
        out["scheduler"] = check_scheduler(scheduler)
    if steps:
        out["steps"] = steps
    if guidance is not None:
        out["guidance"] = guidance
    if size:
        match = re.fullmatch(r"(\d+)x(\d+)", size)
        if not match or int(match[1]) % 8 or int(match[2]) % 8:
            raise UsageError(f"--size must be WIDTHxHEIGHT in multiples of 8, got '{size}'")
        out["width"], out["height"] = int(match[1]), int(match[2])
    return out


def do_generate(suite: str, model: str, n: int | None, out: Path | None,
                batch_size: int | None, device: str, dtype: str, revision: str | None,
                config: str | None, safety_checker: bool, generator_device: str,
                compile: bool, overrides: dict[str, Any]) -> Path:
    from dataclasses import replace

    from audit.cli.progress import ImageProgress, stderr
    from audit.generators import make_generator
    from audit.stages.generate import run_generate
    from audit.suites import load_suite

    loaded = load_suite(suite)
    if overrides:
        loaded = replace(loaded, data={**loaded.data,
                                       "generation": {**loaded.generation, **overrides}})
    run_dir = out or Path("runs") / f"{loaded.name}__{_slug(model)}"
    if loaded.content_warning:
        stderr.print(f"[yellow]content warning:[/yellow] {loaded.content_warning}")
    from audit.generators.diffusers_backend import quiet_libraries

    quiet_libraries()
    with stderr.status(f"loading model {model}"):
        generator = make_generator(model, device=device, dtype=dtype, revision=revision,
                                   config=config, safety_checker=safety_checker,
                                   generator_device=generator_device, compile=compile)
    progress = ImageProgress(f"{loaded.name} on {model}")
    command = "audit " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    try:
        summary = run_generate(loaded, generator, run_dir, n=n, batch_size=batch_size,
                               command=command, progress=progress)
    finally:
        progress.stop()
    table = Table("status", "images")
    for status, count in sorted(summary.statuses.items()):
        table.add_row(status, str(count))
    console.print(table)
    console.print(f"{run_dir}: {summary.generated} generated, {summary.skipped} already done")
    return run_dir


def generate(suite: str = SuiteArg, model: str = ModelOpt, n: int | None = NOpt,
             out: Path | None = OutOpt, batch_size: int | None = BatchOpt,
             device: str = DeviceOpt, dtype: str = DtypeOpt,
             revision: str | None = RevisionOpt, config: str | None = ConfigOpt,
             safety_checker: bool = SafetyOpt, generator_device: str = GenDeviceOpt,
             compile: bool = CompileOpt, scheduler: str | None = SchedulerOpt,
             steps: int | None = StepsOpt, guidance: float | None = GuidanceOpt,
             size: str | None = SizeOpt) -> Path:
    """Generate seeded images for every item of a suite into a run directory.

    Example: audit generate smoke --model tiny --out runs/smoke
    """
    return do_generate(suite, model, n, out, batch_size, device, dtype, revision, config,
                       safety_checker, generator_device, compile,
                       _overrides(scheduler, steps, guidance, size))


def run(suite: str = SuiteArg, model: str = ModelOpt, n: int | None = NOpt,
        out: Path | None = OutOpt, batch_size: int | None = BatchOpt,
        device: str = DeviceOpt, dtype: str = DtypeOpt,
        revision: str | None = RevisionOpt, config: str | None = ConfigOpt,
        safety_checker: bool = SafetyOpt, generator_device: str = GenDeviceOpt,
        compile: bool = CompileOpt, scheduler: str | None = SchedulerOpt,
        steps: int | None = StepsOpt, guidance: float | None = GuidanceOpt,
        size: str | None = SizeOpt, scorers: str | None = ScorersOpt,
        clip_model: str = ClipModelOpt, clip_pretrained: str = ClipPretrainedOpt,
        attributes: Path | None = AttributesOpt, concepts: Path | None = ConceptsOpt,
        checker: Path | None = CheckerOpt, score_device: str = ScoreDeviceOpt,
        score_batch_size: int | None = ScoreBatchOpt) -> None:
    """Generate, score and stats in one go (then `audit report RUN`). Rerunning resumes.

    Example: audit run smoke --model tiny --clip-model tiny-random --clip-pretrained none
    """
    from audit.cli.score import do_score
    from audit.cli.stats import write_run_stats

    run_dir = generate(suite, model, n, out, batch_size, device, dtype, revision, config,
                       safety_checker, generator_device, compile, scheduler, steps, guidance,
                       size)
    do_score(run_dir, scorers, clip_model, clip_pretrained, attributes, concepts, checker,
             score_device, score_batch_size)
    write_run_stats(run_dir)


def register(app: typer.Typer) -> None:
    app.command()(generate)
    app.command("run")(run)
