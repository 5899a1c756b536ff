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
    skipped = added.attrs.get("skipped", 0)
    console.print(f"imported {len(added)} labels from {file.name} "
                  f"({added.image_id.nunique()} images, {replaced} replacing a reviewer's "
                  "earlier label" + (f"; {skipped} row(s) without a label skipped"
                                     if skipped else "") + ")", markup=False, highlight=False)


@app.command("export")
def export(
    run: Path = typer.Argument(..., help="Run directory."),
    out: Path | None = typer.Option(None, "--out", "-o", help="CSV to write (default: stdout)."),
    history: bool = typer.Option(False, "--history", help="Every label row ever given, with "
                                 "time, source and the label it replaced (default: each "
                                 "reviewer's current label)."),
    sheet: bool = typer.Option(False, "--sheet", help="A review sheet to fill in instead: "
                               "each image and attribute with the scorer's label and an "
                               "empty 'label' column ('audit labels import' reads it back)."),
    attribute: list[str] = typer.Option(None, "--attribute", help="With --sheet: the "
                                        "attributes to review (repeatable; default the "
                                        "audited ones)."),
) -> None:
    """Write the run's human labels as CSV (importable again with 'audit labels import'),
    or with --sheet a review sheet pre-filled with the scorer's labels.

    Examples: audit labels export runs/occupations__SDXL -o labels.csv ;
    audit labels export runs/occupations__SDXL --sheet -o review.csv
    """
    import audit
    from audit.cli.render import write_csv

    if attribute and not sheet:
        raise typer.BadParameter("--attribute goes with --sheet")
    write_csv(audit.labels(run=run, history=history, sheet=sheet,
                           attributes=attribute or None).table, out)
