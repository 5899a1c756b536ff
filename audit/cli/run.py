"""``audit run``: every stage in one command. Its options are those of
``audit generate``, ``audit score`` and ``audit stats``, taken from their
signatures rather than declared a second time."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from audit.cli import generate as gen
from audit.cli import score as sc
from audit.cli import stats as st

# Parameters of the single-stage commands that make no sense for a whole run.
_DROP = {"run", "images", "counts", "reference", "attribute", "as_json", "as_csv"}


# Flags two stages both call --seed: in a whole run, the statistics' is --stats-seed.
_RENAMED = {"seed": typer.Option(None, "--stats-seed", help="Seed for bootstrap and "
                                 "Monte-Carlo tests (default 0); --seed is the images' seed.")}


# What only a whole run has: how scoring meets generation.
_OWN = [inspect.Parameter(
    "score_after", inspect.Parameter.KEYWORD_ONLY, annotation=bool,
    default=typer.Option(False, "--score-after", help="Score from the stored PNGs after "
                         "generating (as audit score does) instead of from each batch's "
                         "pixels while the next one generates. The tables are the same."))]


def _compose(*commands: Callable[..., Any]) -> tuple[inspect.Signature, dict[str, Any]]:
    params: dict[str, inspect.Parameter] = {p.name: p for p in _OWN}
    hints: dict[str, Any] = {p.name: p.annotation for p in _OWN}
    for command in commands:
        types = typing.get_type_hints(command)
        for name, param in inspect.signature(command).parameters.items():
            if name in _DROP or name in params:
                continue
            if command is st.stats and name in _RENAMED:
                param = param.replace(default=_RENAMED[name])
            params[name] = param.replace(kind=inspect.Parameter.KEYWORD_ONLY)
            hints[name] = types[name]
    return inspect.Signature(list(params.values())), hints


def run(**options: Any) -> None:
    """Generate, score, assess and write the report in one go. Rerunning resumes.

    Example: audit run smoke --model tiny -S clip.model=tiny-random -S clip.pretrained=none
    """
    import audit
    from audit.cli.progress import Reporter
    from audit.cli.render import print_findings

    o = options
    kwargs, settings = gen.generate_kwargs(
        o["suite"], o["model"], o["n"], o["out"], o["batch_size"], o["device"], o["dtype"],
        o["model_option"], o["revision"], o["config"], o["safety_checker"],
        o["generator_device"], o["compile"], o["scheduler"], o["steps"], o["guidance"],
        o["size"], o["prompt"], o["template"], o["slot"], o["negative_prompt"],
        o["image_seed"], o["style"], o["styles"], o["sweep"], o["latents"], o["refiner"],
        o["refiner_frac"], o["concurrency"], o["max_cost"], o["yes"], o["ray"],
        o["ray_actors"])
    names, scorer_options = sc.scorer_settings(o["scorers"], o["set_"], o["clip_model"],
                                               o["clip_pretrained"], o["attributes"],
                                               o["concepts"], o["checker"], settings,
                                               o["calibration"])
    stats = {**(settings.get("stats") or {}),
             **st.stats_kwargs(o["ci"], o["simultaneous"], o["correction"], o["alpha"],
                               o["seed"], o["confusion"], o["answer"], o["no_labels"])}
    if stats.get("confusion") is not None:
        stats["confusion"] = Path(stats["confusion"])
    gen.warn_content(kwargs["suite"])
    what = kwargs["suite"] or "a quick run"
    with Reporter("audit run") as reporter:
        result = audit.run(**kwargs, scorers=names, scorer_options=scorer_options,
                           score_device=o["score_device"],
                           score_batch_size=o["score_batch_size"], stats=stats,
                           fused=not o["score_after"],
                           progress={"generate": reporter.stage(
                               f"generating {what} on {kwargs['model']}"),
                               "score": reporter.stage("scoring")})
    gen.print_generated(result.generated)
    sc.print_scored(result.scored)
    print_findings(result.assessed.document, st.console)
    st.console.print(f"wrote {result.assessed.path} (every table: audit stats "
                     f"{result.run_dir}) and {result.report}", markup=False)


run.__signature__, run.__annotations__ = _compose(gen.generate, sc.score, st.stats)


def register(app: typer.Typer) -> None:
    app.command("run")(run)
