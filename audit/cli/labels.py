"""``audit labels import|export``: human labels in and out of a run."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

app = typer.Typer(help="Human labels of a run's images: import a CSV, export them with or "
                  "without their history, draw a random sample to label.",
                  no_args_is_help=True, rich_markup_mode=None)
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
                                        "audited ones and on_class when scored)."),
    sampled: bool = typer.Option(False, "--sample", help="With --sheet: only the images of "
                                 "the label sample ('audit labels sample')."),
) -> None:
    """Write the run's human labels as CSV (importable again with 'audit labels import'),
    or with --sheet a review sheet pre-filled with the scorer's labels.

    Examples: audit labels export runs/occupations__SDXL -o labels.csv ;
    audit labels export runs/occupations__SDXL --sheet -o review.csv
    """
    import audit
    from audit.cli.render import write_csv

    if (attribute or sampled) and not sheet:
        raise typer.BadParameter("--attribute and --sample go with --sheet")
    write_csv(audit.labels(run=run, history=history, sheet=sheet,
                           attributes=attribute or None, sampled=sampled).table, out)


@app.command("sample")
def sample(
    run: Path = typer.Argument(..., help="Run directory."),
    n: int = typer.Option(..., "--n", min=1, help="Images to draw (per prompt with "
                          "--per-group)."),
    per_group: bool = typer.Option(False, "--per-group", help="Draw --n from each prompt "
                                   "instead of --n from all."),
    seed: int = typer.Option(0, "--seed", help="Seed of the draw."),
    replace: bool = typer.Option(False, "--replace", help="Draw anew over an existing "
                                 "sample."),
) -> None:
    """Draw the images a person should label, at random, and record them with their
    probabilities: human labels on such a sample give prediction-powered shares in
    'audit stats'. The viewer's Images page shows the sample's unlabelled images first.

    Example: audit labels sample runs/occupations__SDXL --n 50 --per-group
    """
    import audit

    drawn = audit.labels(run=run, sample=n, per_group=per_group, seed=seed,
                         replace=replace).table
    groups = drawn.group.nunique()
    console.print(f"drew {len(drawn)} image(s) from {groups} prompt(s) (seed {seed}) into "
                  f"{Path(run) / 'label-sample.parquet'}; label them with: audit labels export "
                  f"{run} --sheet --sample -o sample.csv, fill in 'label', then audit labels "
                  f"import {run} sample.csv", markup=False, highlight=False)
