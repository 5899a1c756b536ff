"""``audit generate``: a thin shell over ``audit.generate``; its options are
generated from ``audit.options.GenerationOptions``."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console

from audit.cli import options as cli_options
from audit.cli.render import print_table
from audit.options import GenerationOptions

console = Console()


def generation_keywords(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``audit.generate``'s keywords from the flags over the config file, and
    the config file itself."""
    config, folder = cli_options.split_config(values.get("config"))
    flags = cli_options.flags_layer(GenerationOptions, values)
    if folder is not None:
        flags["model_options"] = {"config": folder, **(flags.get("model_options") or {})}
    return GenerationOptions.merge(flags=flags, config=config), config


def print_generated(result: Any) -> None:
    taken = result.model_defaults
    if taken:
        said = []
        generation = taken.get("generation", {})
        if {"width", "height"} <= set(generation):
            said.append(f"{generation['width']}x{generation['height']}")
        said += [f"{k} {generation[k]}" for k in ("steps", "guidance", "scheduler")
                 if k in generation]
        if taken.get("attributes"):
            said.append("attributes " + ", ".join(taken["attributes"]))
        if taken.get("reference"):
            said.append(f"reference {taken['reference']}")
        clip = taken.get("scorer_options", {}).get("clip", {}).get("model")
        if clip:
            said.append(f"CLIP {clip}")
        console.print(f"quick run with {result.model}'s own settings: {'; '.join(said)} "
                      "(flags such as --size or -S override them)", markup=False)
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


def warn_content(kwargs: dict[str, Any]) -> None:
    from audit.cli.progress import stderr
    from audit.suites import load_suite

    suite = kwargs.get("suite")
    if suite is None or kwargs.get("prompts") or kwargs.get("templates"):
        return  # a quick run (or a conflict the API reports)
    warning = load_suite(suite).content_warning
    if warning:
        stderr.print(f"content warning: {warning}", markup=False, style="yellow")


def generate(**values: Any) -> None:
    """Generate seeded images for every item of a suite into a run directory.

    Examples: audit generate smoke --model tiny --out runs/smoke ;
    audit generate --prompt "a photo of a doctor" --n 20 --seed 42 --model SDXL ;
    audit generate --template "a photo of {occupation|a}" --slot occupation=doctor,nurse -m SDXL
    """
    import audit
    from audit.cli.progress import Reporter

    kwargs, _ = generation_keywords(values)
    warn_content(kwargs)
    with Reporter("audit generate") as reporter:
        result = audit.generate(**kwargs, command=cli_options.command_line(),
                                progress=reporter.stage(
                                    f"generating {kwargs.get('suite') or 'a quick run'} on "
                                    f"{kwargs.get('model')}"))
    print_generated(result)


generate.__signature__, generate.__annotations__ = cli_options.signature(  # type: ignore[attr-defined]
    cli_options.parameters(GenerationOptions), [cli_options.ConfigParameter])


def register(app: typer.Typer) -> None:
    app.command(cls=cli_options.SectionedCommand)(generate)
