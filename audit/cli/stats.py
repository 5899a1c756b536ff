"""``audit stats`` and ``audit plan``."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from audit.errors import UsageError

console = Console()


def stats(
    run: Path | None = typer.Argument(None, help="Run directory (reads images.parquet and "
                                      "scores.parquet, writes RUN/stats.json)."),
    counts: Path | None = typer.Option(None, "--counts", help="CSV group,category,count of "
                                       "labels counted by a person or another tool."),
    reference: Path | None = typer.Option(None, "--reference", help="CSV group,category,"
                                          "proportion ('*' = every group); uniform if omitted."),
    attribute: str = typer.Option("label", help="Attribute name for --counts results."),
    as_json: bool = typer.Option(False, "--json", help="Print stats.json instead of tables."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Where to write stats.json "
                                    "(default RUN/stats.json; none for --counts)."),
    ci: str = typer.Option("wilson", help="Interval: wilson, clopper-pearson, jeffreys."),
    simultaneous: str | None = typer.Option(None, help="For more than two categories: "
                                            "goodman or sison-glaz simultaneous intervals."),
    correction: str = typer.Option("bh", help="Multiplicity: bh (Benjamini-Hochberg), holm, "
                                   "none; applied across every test of the file."),
    alpha: float = typer.Option(0.05, help="1 - confidence level, and test level."),
    seed: int = typer.Option(0, help="Seed for bootstrap and Monte-Carlo tests."),
    confusion: Path | None = typer.Option(None, help="JSON confusion matrices of the scorer "
                                          "(rows true, columns predicted): adds shares "
                                          "corrected for classifier error (runs only)."),
) -> None:
    """Shares with confidence intervals, tests against a reference, effect sizes,
    comparisons and corrected p-values.

    Examples: audit stats runs/occupations__SDXL ;
    audit stats --counts counts.csv --reference reference.csv
    """
    from audit.stats.assess import Settings, assess_counts
    from audit.stats.output import dumps, print_summary, stats_document, write_stats
    from audit.stats.references import check_groups, read_counts_csv, read_reference_csv
    from audit.stats.runs import assess_run

    if (run is None) == (counts is None):
        raise UsageError("give either a run directory or --counts CSV (not both)")
    if reference is not None and counts is None:
        raise UsageError("--reference goes with --counts; a run uses its suite's reference")
    if confusion is not None and run is None:
        raise UsageError("--confusion goes with a run directory")
    try:
        settings = Settings(alpha=alpha, ci_method=ci, simultaneous=simultaneous,
                            correction=correction, seed=seed)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if simultaneous not in (None, "goodman", "sison-glaz"):
        raise UsageError(f"unknown --simultaneous '{simultaneous}' (goodman, sison-glaz)")
    if counts is not None:
        table = read_counts_csv(counts)
        ref = read_reference_csv(reference) if reference is not None else None
        if ref is not None:
            check_groups(table, ref, str(counts))
        result = assess_counts(table, attribute=attribute, reference=ref, settings=settings,
                               source={"kind": "counts", "counts": str(counts),
                                       "reference": str(reference) if reference else "uniform"})
    else:
        result = assess_run(run, settings=settings, confusion=confusion)
        out = out or run / "stats.json"
    document = write_stats(result, out) if out else stats_document(result)
    if as_json:
        typer.echo(dumps(document), nl=False)
        return
    print_summary(document, console)
    if out:
        console.print(f"wrote {out}")


def write_run_stats(run_dir: Path) -> None:
    """Default statistics for a run, as ``audit run`` writes them."""
    from audit.stats.output import print_summary, write_stats
    from audit.stats.runs import assess_run

    document = write_stats(assess_run(run_dir), run_dir / "stats.json")
    print_summary(document, console)
    console.print(f"wrote {run_dir / 'stats.json'}")


def plan(
    p0: float = typer.Option(..., "--p0", help="Share under the null (e.g. the reference)."),
    p1: float = typer.Option(..., "--p1", help="Share you want to be able to detect."),
    alpha: float = typer.Option(0.05, help="Two-sided test level."),
    power: float = typer.Option(0.8, help="Wanted probability of detecting p1."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Images per prompt needed to tell p1 from p0, and what that n buys.

    Example: audit plan --p0 0.5 --p1 0.65   (says 85)
    """
    from audit.stats.power import plan as make_plan

    try:
        result = make_plan(p0=p0, p1=p1, alpha=alpha, power=power)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    console.print(f"images per prompt: [bold]{result.n}[/bold]  (normal approximation "
                  f"{result.n_unrounded:.2f}, two-sided alpha {alpha}, power {power})")
    console.print(f"exact binomial test power at n={result.n}: {result.exact_power_at_n:.3f}; "
                  f"smallest n reaching {power} exactly: {result.n_exact}")
    console.print(f"expected 95% Wilson half-width at n={result.n}: "
                  f"±{result.ci_half_width_at_n:.3f}")
    console.print(f"null floor of HEIM imbalance |p - 0.5| at n={result.n} for a balanced "
                  f"model: {result.null_floor_imbalance_at_n:.3f}")


def register(app: typer.Typer) -> None:
    app.command()(stats)
    app.command()(plan)
