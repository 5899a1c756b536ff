"""``audit probes list|show|validate``."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from audit.errors import InvalidInput

app = typer.Typer(help="List, inspect and validate probe suites (YAML).", no_args_is_help=True)
console = Console()


@app.command("list")
def list_() -> None:
    """Bundled suites with their version, size and attributes."""
    from audit.suites import expand, list_suites

    table = Table("suite", "version", "items", "images/item", "attributes", "reference")
    for suite in list_suites():
        table.add_row(suite.name, suite.version, str(len(expand(suite))),
                      str(suite.images_per_item), ", ".join(suite.attributes),
                      suite.reference or "uniform")
    console.print(table)


@app.command()
def show(
    suite: str = typer.Argument(..., help="Bundled suite name or path to a .yaml file."),
    as_json: bool = typer.Option(False, "--json", help="Print the expanded items as JSON."),
) -> None:
    """A suite's settings and every expanded item with its prompt."""
    from audit.suites import expand, load_suite

    loaded = load_suite(suite)
    items = expand(loaded)
    if as_json:
        typer.echo(json.dumps({"name": loaded.name, "version": loaded.version,
                               "sha256": loaded.sha256, "suite": loaded.data,
                               "items": [vars(i) for i in items]}, indent=2))
        return
    console.print(f"[bold]{loaded.name}[/bold] {loaded.version}  ({loaded.path})")
    console.print(loaded.description)
    if loaded.content_warning:
        console.print(f"[yellow]content warning:[/yellow] {loaded.content_warning}")
    console.print(f"{len(items)} items x {loaded.images_per_item} images, seeds "
                  f"{loaded.seed}..{loaded.seed + loaded.images_per_item - 1}; "
                  f"generation {loaded.generation}; reference {loaded.reference or 'uniform'}")
    table = Table("item_id", "role", "prompt", "expected", "group")
    for item in items:
        table.add_row(item.item_id, item.role, item.prompt,
                      json.dumps(item.expected) if item.expected else "",
                      item.counterfactual_group or "")
    console.print(table)


@app.command()
def validate(
    paths: list[Path] = typer.Argument(None, help="Suite files; all bundled suites if omitted."),
) -> None:
    """Check suites against schemas/probe-suite.schema.json; lists every problem."""
    from audit.paths import probes_dir
    from audit.suites import suite_problems

    files = paths or sorted(p for p in probes_dir().glob("*.yaml") if not p.name.startswith("_"))
    problems = [line for path in files for line in suite_problems(path)]
    for line in problems:
        typer.echo(line, err=True)
    if problems:
        raise InvalidInput(f"{len(problems)} problem(s) in {len(files)} suite file(s)")
    typer.echo(f"{len(files)} suite file(s) valid")
