"""``audit stats`` and ``audit plan``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

console = Console()


CiOpt = typer.Option(None, help="Interval: wilson (default), clopper-pearson, jeffreys.")
SimultaneousOpt = typer.Option(None, help="For more than two categories: goodman or "
                               "sison-glaz simultaneous intervals.")
CorrectionOpt = typer.Option(None, help="Multiplicity: bh (Benjamini-Hochberg, default), holm, "
                             "none; applied across every test of the file.")
AlphaOpt = typer.Option(None, help="1 - confidence level, and test level (default 0.05).")
SeedOpt = typer.Option(None, help="Seed for bootstrap and Monte-Carlo tests (default 0).")
ConfusionOpt = typer.Option(None, help="JSON confusion matrices of the scorer (rows true, "
                            "columns predicted): adds shares corrected for classifier error "
                            "(runs only).")
AnswerOpt = typer.Option(None, "--answer", help="ATTRIBUTE=SCORER: whose decisions count for "
                         "an attribute several scorers decide (overrides the suite's "
                         "'answers'; repeatable).")


NoLabelsOpt = typer.Option(False, "--no-labels", help="Ignore the run's human labels "
                           "(RUN/labels.parquet); by default they are used.")


def stats_kwargs(ci: str | None, simultaneous: str | None, correction: str | None,
                 alpha: float | None, seed: int | None, confusion: Path | None,
                 answer: list[str] | None, no_labels: bool = False) -> dict[str, Any]:
    """``audit.assess`` keywords for the flags given (the rest keep its defaults)."""
    from audit.pipeline.options import parse_pairs

    given = {"ci": ci, "simultaneous": simultaneous, "correction": correction, "alpha": alpha,
             "seed": seed, "confusion": confusion,
             "answers": {k: str(v) for k, v in parse_pairs(answer, flag="--answer").items()},
             "labels": False if no_labels else None}
    return {k: v for k, v in given.items() if v is not None and v != {}}


def stats(
    run: Path | None = typer.Argument(None, help="Run directory (reads images.parquet and "
                                      "the score tables, writes RUN/stats.json)."),
    counts: Path | None = typer.Option(None, "--counts", help="CSV group,category,count of "
                                       "labels counted by a person or another tool."),
    reference: Path | None = typer.Option(None, "--reference", help="CSV group,category,"
                                          "proportion ('*' = every group); uniform if omitted."),
    attribute: str = typer.Option("label", help="Attribute name for --counts results."),
    as_json: bool = typer.Option(False, "--json", help="Print stats.json instead of tables."),
    as_csv: bool = typer.Option(False, "--csv", help="Print the share table as CSV."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Where to write stats.json "
                                    "(default RUN/stats.json; none for --counts)."),
    ci: str | None = CiOpt, simultaneous: str | None = SimultaneousOpt,
    correction: str | None = CorrectionOpt, alpha: float | None = AlphaOpt,
    seed: int | None = SeedOpt,
    confusion: Path | None = ConfusionOpt, answer: list[str] | None = AnswerOpt,
    no_labels: bool = NoLabelsOpt,
) -> None:
    """Shares with confidence intervals, tests against a reference, effect sizes,
    comparisons and corrected p-values.

    Examples: audit stats runs/occupations__SDXL ;
    audit stats --counts counts.csv --reference reference.csv
    """
    import audit
    from audit.cli.render import print_summary

    result = audit.assess(run=run, counts=counts, reference=reference, attribute=attribute,
                          out=out, **stats_kwargs(ci, simultaneous, correction, alpha, seed,
                                                  confusion, answer, no_labels))
    if as_json:
        typer.echo(json.dumps(result.document, indent=2, allow_nan=False))
        return
    if as_csv:
        typer.echo(result.proportions.to_csv(index=False), nl=False)
        return
    print_summary(result.document, console)
    if result.path:
        console.print(f"wrote {result.path}", markup=False)


def plan(
    p0: float = typer.Option(..., "--p0", help="Share under the null (e.g. the reference)."),
    p1: float = typer.Option(..., "--p1", help="Share you want to be able to detect."),
    alpha: float = typer.Option(0.05, help="Two-sided level of the whole family."),
    power: float = typer.Option(0.8, help="Wanted probability of detecting p1."),
    tests: int = typer.Option(1, "--tests", min=1,
                              help="Prompts tested together (the correction's family)."),
    correction: str = typer.Option("bonferroni", help="bonferroni, holm, bh or none."),
    effects: int = typer.Option(1, "--effects", min=1,
                                help="With bh: prompts expected to be truly off p0."),
    sensitivity: float = typer.Option(1.0, help="P(classifier says the category | it is)."),
    specificity: float = typer.Option(1.0, help="P(classifier says another | it is not)."),
    confusion: Path | None = typer.Option(
        None, "--confusion", help="A confusion file (JSON, as audit stats --confusion takes) "
        "instead of --sensitivity/--specificity; its abstentions add to --loss."),
    attribute: str | None = typer.Option(None, help="With --confusion: the attribute."),
    category: str | None = typer.Option(None, help="With --confusion: the category p0 is of."),
    loss: float = typer.Option(0.0, help="Expected share of generated images not counted "
                               "(failed, no person, unclear)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Images to generate per prompt to tell p1 from p0 with the exact test the
    audit runs, after multiplicity, classifier error and losses.

    Example: audit plan --p0 0.5 --p1 0.65   (says 97: exact power first
    reaches 0.8 at 90 and stays from 97)
    """
    import audit

    result = audit.plan(p0=p0, p1=p1, alpha=alpha, power=power, tests=tests,
                        correction=correction, effects=effects, sensitivity=sensitivity,
                        specificity=specificity, confusion=confusion, attribute=attribute,
                        category=category, loss=loss)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    say = lambda text: console.print(text, markup=False)  # noqa: E731
    if result.generate is None:
        say(f"power {power} is not reached below {result.limit} images per prompt")
        raise typer.Exit(1)
    say(f"generate per prompt: {result.generate}")
    say(f"  confident images needed: exact power first reaches {power} at n={result.n_first} "
        f"and stays there from n={result.n_stays} (checked to {result.limit}); normal "
        f"approximation {result.n_normal:.1f}")
    if result.tests > 1:
        say(f"  per-test level {result.alpha_per_test:.3g}: {correction} over {result.tests} "
            f"prompts at family alpha {alpha}")
    if (result.sensitivity, result.specificity) != (1.0, 1.0):
        say(f"  classifier: sensitivity {result.sensitivity:.3f}, specificity "
            f"{result.specificity:.3f}; the test sees {result.observed_p0:.3f} vs "
            f"{result.observed_p1:.3f} (the reference seen through the classifier)")
    if result.loss:
        say(f"  {result.loss:.1%} of generated images expected lost: expected power over the "
            f"confident count reaches {power} from {result.generate} generated")
    say(f"  expected 95% Wilson half-width at n={result.n_stays}: "
        f"±{result.ci_half_width_at_n:.3f}; HEIM imbalance floor for a balanced model: "
        f"{result.null_floor_imbalance_at_n:.3f}")


def register(app: typer.Typer) -> None:
    app.command()(stats)
    app.command()(plan)
