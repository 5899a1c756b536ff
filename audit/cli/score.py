"""``audit score``: a thin shell over ``audit.score``; its options are
generated from ``audit.options.ScoringOptions``."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from audit.cli import options as cli_options
from audit.options import ScoringOptions

console = Console()


def scoring_keywords(values: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """``audit.score``'s keywords (``scorers``, ``scorer_options``, ``device``,
    ``batch_size``, ``ray``, ``ray_actors``) from the flags over the config
    file. Alias flags (--clip-model, ...) apply to the scorers being run."""
    from audit.scorers import default_scorers

    names = cli_options.flags_layer(ScoringOptions, {"scorers": values.get("scorers")}).get(
        "scorers") or config.get("scorers") or default_scorers()
    flags = cli_options.flags_layer(ScoringOptions, values, running=names)
    return ScoringOptions.merge(flags=flags, config=config)


def print_scored(result: Any) -> None:
    for note in result.notes:
        console.print(f"note: {note}", markup=False, style="yellow")
    console.print(f"{result.tables.decisions}: {result.decisions} decisions, "
                  f"{result.measurements} measurements from {', '.join(result.scorers)}; "
                  "images: " + ", ".join(f"{count} {status}" for status, count
                                         in sorted(result.statuses.items())), markup=False)
    if result.fused:
        console.print(f"scored {result.fused['while_generating']} images while generating "
                      f"and {result.fused['from_png']} from their PNGs", markup=False)


def score(**values: Any) -> None:
    """Score images into the decision and measurement tables. Raw numbers are
    kept; unreadable images get status 'error'.

    Examples: audit score runs/smoke__tiny -S clip.model=tiny-random -S clip.pretrained=none ;
    audit score --images downloaded/ --out scores.parquet
    """
    import audit
    from audit.cli.progress import Reporter

    config, _ = cli_options.split_config(values.get("config"))
    kwargs = scoring_keywords(values, config)
    run, images = values.get("run"), values.get("images")
    with Reporter("audit score") as reporter:
        result = audit.score(run=run, images=images, out=values.get("out"), **kwargs,
                             progress=reporter.stage(f"scoring {run or images}"))
    print_scored(result)


_OWN = [
    inspect.Parameter("run", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Path | None,
                      default=typer.Argument(None, help="Run directory (writes RUN/scores/).")),
    inspect.Parameter("images", inspect.Parameter.KEYWORD_ONLY, annotation=Path | None,
                      default=typer.Option(None, "--images", help="Any folder of images "
                                           "instead of a run; image_id is the file's path in "
                                           "the folder.")),
    inspect.Parameter("out", inspect.Parameter.KEYWORD_ONLY, annotation=Path | None,
                      default=typer.Option(None, "--out", "-o", help="With --images: the "
                                           "decision table to write (FILE.parquet); the "
                                           "measurements and input statuses go beside it.")),
]
score.__signature__, score.__annotations__ = cli_options.signature(  # type: ignore[attr-defined]
    _OWN, cli_options.parameters(ScoringOptions), [cli_options.ConfigParameter])


def register(app: typer.Typer) -> None:
    app.command(cls=cli_options.SectionedCommand)(score)
