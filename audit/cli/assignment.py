"""``audit validate`` and ``audit export``: the course assignment's zips."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

console = Console()
TaskOpt = typer.Option(None, "--task", help="bias, story, open-ended or movie-poster "
                       "(default: from the JSON file's name or content).")
AnyModelOpt = typer.Option(False, "--allow-any-model", help="Accept model names other than "
                           "SDv1.5, SDv2.1 and SDXL (with a warning); the course does not.")


def validate(
    path: Path = typer.Argument(..., help="A submission zip, a folder, or a JSON file."),
    task: str | None = TaskOpt,
    as_json: bool = typer.Option(False, "--json", help="Print a machine-readable report."),
    allow_any_model: bool = AnyModelOpt,
) -> None:
    """Check a submission and list every problem at once (exit 0 valid, 1 invalid,
    2 unreadable). Warnings do not make it invalid.

    Example: audit validate bias.zip
    """
    import audit

    result = audit.validate(path=path, task=task, allow_any_model=allow_any_model)
    if as_json:
        typer.echo(json.dumps(result.report, indent=2))
    else:
        from rich.markup import escape

        for finding in result.findings:  # user text may contain [brackets]: escape it
            colour = "red" if finding.level == "error" else "yellow"
            hint = f" [dim]→ {escape(finding.hint)}[/dim]" if finding.hint else ""
            console.print(f"[{colour}]{finding.level}[/{colour}] {escape(finding.where)}: "
                          f"{escape(finding.message)}{hint}", highlight=False, soft_wrap=True)
        verdict = "valid" if result.valid else "INVALID"
        what = f"{result.task} submission" if result.task else "submission (task unknown)"
        console.print(f"{path}: {verdict} {what}, {result.report['errors']} error(s), "
                      f"{result.report['warnings']} warning(s)", markup=False, soft_wrap=True)
    if not result.valid:
        raise typer.Exit(1)


def export(
    task: str = typer.Argument(..., help="bias, story, open-ended or movie-poster."),
    run: Path = typer.Argument(..., help="A finished run directory."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Zip to write (default "
                                    "TASK.zip in the current folder)."),
    select: Path | None = typer.Option(None, "--select", help="For story, open-ended and "
                                       "movie-poster: YAML choosing images by id."),
    pick: list[str] = typer.Option(None, "--pick", help="Instead of --select: an image id "
                                   "(ITEM/SEED, as 'audit labels export' or the viewer shows "
                                   "it), in order (repeatable)."),
    story: str | None = typer.Option(None, "--story", help="With --pick, for story: the "
                                     "story text."),
    goal: str | None = typer.Option(None, "--goal", help="With --pick, for open-ended: the "
                                    "goal text."),
    finding: list[str] = typer.Option(None, "--finding", help="For bias: "
                                      "ITEM:ATTRIBUTE:CATEGORY, four times (default: the "
                                      "strongest corrected results)."),
    harm: list[str] = typer.Option(None, "--harm", help="For bias: harm sentences, in order."),
    images_per_bias: int = typer.Option(6, min=1, help="Images copied per bias."),
    allow_any_model: bool = AnyModelOpt,
    strict: bool = typer.Option(False, "--strict", help="For bias: refuse when fewer than "
                                "four findings hold after correction, or when a --finding "
                                "does not (default: export what holds and say what to "
                                "probe next)."),
) -> None:
    """Write an assignment zip from a run; it passes 'audit validate'. For bias,
    only findings that hold after correction are chosen (ITEM may be a slot
    value such as nurse); with fewer than four, the zip holds those and exits 1.

    Examples: audit export bias runs/occupations__SDXL ;
    audit export story runs/x --select story.yaml ;
    audit export story runs/x --pick photo--nurse/3 --pick photo--nurse/4 --story "..."
    """
    import audit

    result = audit.export(task=task, run=run, out=out, selection=select, picks=pick or None,
                          story=story, goal=goal, findings=finding or None, harms=harm or None,
                          images_per_bias=images_per_bias, allow_any_model=allow_any_model,
                          strict=strict)
    for note in result.notes:
        console.print(f"note {note}", markup=False, style="yellow")
    for item in result.validation.findings:
        console.print(f"{item.level} {item.where}: {item.message}"
                      + (f" -> {item.hint}" if item.hint else ""), markup=False,
                      style="red" if item.level == "error" else "yellow", soft_wrap=True)
    if result.partial:
        console.print(f"wrote {result.out} with what holds; it does not pass audit validate "
                      "until it has 4 biases (see the note above)", markup=False,
                      soft_wrap=True)
        raise typer.Exit(1)
    if not result.written:
        console.print(f"not written: {result.out} would fail audit validate with "
                      f"{len(result.validation.errors)} error(s) (listed above)", markup=False,
                      soft_wrap=True)
        raise typer.Exit(1)
    console.print(f"wrote {result.out}: passes audit validate "
                  f"({len(result.validation.findings)} warning(s))", markup=False)


def register(app: typer.Typer) -> None:
    app.command()(validate)
    app.command()(export)
