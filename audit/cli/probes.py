"""``audit probes list|show|validate``."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from audit.cli.render import print_table
from audit.errors import InvalidInput

app = typer.Typer(help="List, inspect and validate probe suites (YAML).", no_args_is_help=True,
                  rich_markup_mode=None)
console = Console()


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Bundled suites with their version, size and attributes."""
    import audit

    found = audit.probes()
    broken = [p for p in found if not p.valid]
    if broken:
        raise InvalidInput(f"{broken[0].problems[0]} (run 'audit probes validate')")
    if as_json:
        typer.echo(json.dumps([{"name": p.suite.name, "version": p.suite.version,
                                "items": len(p.items),
                                "images_per_item": p.suite.images_per_item,
                                "attributes": p.suite.attributes,
                                "reference": p.suite.reference} for p in found], indent=2))
        return
    rows = [(p.suite.name, p.suite.version, len(p.items), p.suite.images_per_item,
             ", ".join(p.suite.attributes), p.suite.reference or "uniform") for p in found]
    print_table(console, ("suite", "version", "items", "images/item", "attributes",
                          "reference"), rows, wrap=("attributes",))


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
    console.print(f"{loaded.name} {loaded.version}  ({loaded.path})", markup=False)
    console.print(loaded.description, markup=False)
    if loaded.content_warning:
        console.print(f"content warning: {loaded.content_warning}", markup=False,
                      style="yellow")
    console.print(f"{len(items)} items x {loaded.images_per_item} images, seeds "
                  f"{loaded.seed}..{loaded.seed + loaded.images_per_item - 1}; "
                  f"generation {loaded.generation}; reference {loaded.reference or 'uniform'}",
                  markup=False)
    print_table(console, ("item_id", "role", "prompt", "expected", "group"),
                [(item.item_id, item.role, item.prompt,
                  json.dumps(item.expected) if item.expected else "",
                  item.counterfactual_group or "") for item in items],
                wrap=("prompt", "expected"))


@app.command()
def validate(
    paths: list[Path] = typer.Argument(None, help="Suite files; all bundled suites if omitted."),
) -> None:
    """Check suites against schemas/probe-suite.schema.json; lists every problem."""
    import audit

    checked = audit.probes(suites=list(paths) if paths else None)
    problems = [line for suite in checked for line in suite.problems]
    for line in problems:
        typer.echo(line, err=True)
    if problems:
        raise InvalidInput(f"{len(problems)} problem(s) in {len(checked)} suite file(s)")
    typer.echo(f"{len(checked)} suite file(s) valid")
