"""``audit labels import|export``: human labels in and out of a run."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

app = typer.Typer(help="Human labels of a run's images: import a CSV, export them with or "
                  "without their history.", no_args_is_help=True, rich_markup_mode=None)
console = Console(stderr=True)


@app.command("import")
def import_(
    run: Path = typer.Argument(..., help="Run directory."),
    file: Path = typer.Argument(..., help="CSV with image_id,attribute,label[,reviewer]."),
    reviewer: str | None = typer.Option(None, "--reviewer", help="Reviewer for rows without "
                                        "one (default 'anonymous')."),
) -> None:
    """Append labels from a CSV; every row is checked first (labels must be the
    attribute's declared ones or 'unclear'), so one bad row imports nothing.

    Example: audit labels import runs/occupations__SDXL my-labels.csv
    """
    import audit

    added = audit.labels(run=run, add=file, reviewer=reviewer).added
    replaced = int(added.replaces.notna().sum())
    console.print(f"imported {len(added)} labels from {file.name} "
                  f"({added.image_id.nunique()} images, {replaced} replacing a reviewer's "
                  "earlier label)", markup=False, highlight=False)


@app.command("export")
def export(
    run: Path = typer.Argument(..., help="Run directory."),
    out: Path | None = typer.Option(None, "--out", "-o", help="CSV to write (default: stdout)."),
    history: bool = typer.Option(False, "--history", help="Every label row ever given, with "
                                 "time, source and the label it replaced (default: each "
                                 "reviewer's current label)."),
) -> None:
    """Write the run's human labels as CSV (importable again with 'audit labels import').

    Example: audit labels export runs/occupations__SDXL -o labels.csv
    """
    import audit
    from audit.cli.render import write_csv

    write_csv(audit.labels(run=run, history=history).table, out)
