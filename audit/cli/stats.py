"""``audit stats`` and ``audit plan``."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from audit.cli import options as cli_options
from audit.options import StatsOptions

console = Console()


def stats(**values: Any) -> None:
    """Shares with confidence intervals, tests against a reference, effect sizes,
    comparisons and corrected p-values.

    Examples: audit stats runs/occupations__SDXL ;
    audit stats --counts counts.csv --reference reference.csv
    """
    import audit
    from audit.cli.render import print_summary

    result = audit.assess(run=values["run"], counts=values["counts"],
                          reference=values["reference"], attribute=values["attribute"],
                          out=values["out"],
                          **cli_options.flags_layer(StatsOptions, values))
    if values["as_json"]:
        typer.echo(json.dumps(result.document, indent=2, allow_nan=False))
        return
    if values["as_csv"]:
        from audit.cli.render import write_csv

        write_csv(result.proportions, None)
        return
    print_summary(result.document, console, everything=values["everything"],
                  hint=f"audit stats {values['run']} --all" if values["run"] else
                  "add --all")
    if result.path:
        console.print(f"wrote {result.path}", markup=False)


def _own(name: str, annotation: Any, default: Any, positional: bool = False
         ) -> inspect.Parameter:
    kind = (inspect.Parameter.POSITIONAL_OR_KEYWORD if positional
            else inspect.Parameter.KEYWORD_ONLY)
    return inspect.Parameter(name, kind, annotation=annotation, default=default)


STATS_OWN = [
    _own("run", Path | None, typer.Argument(None, help="Run directory (reads images.parquet "
                                            "and the score tables, writes RUN/stats.json)."),
         positional=True),
    _own("counts", Path | None, typer.Option(None, "--counts", help="CSV group,category,count "
                                             "of labels counted by a person or another "
                                             "tool.")),
    _own("reference", str | None, typer.Option(None, "--reference", help="With --counts: CSV "
                                               "group,category,proportion ('*' = every group) "
                                               "or 'uniform' (parity, the default). With a "
                                               "run: a named reference replacing the suite's "
                                               "(bls-cps-2025, toyworld, uniform; several, "
                                               "comma-separated, are tried in order per "
                                               "attribute).")),
    _own("attribute", str, typer.Option("label", help="Attribute name for --counts results.")),
    _own("as_json", bool, typer.Option(False, "--json", help="Print stats.json instead of "
                                       "tables.")),
    _own("as_csv", bool, typer.Option(False, "--csv", help="Print the share table as CSV.")),
    _own("everything", bool, typer.Option(False, "--all", help="Print every table (shares, "
                                          "comparisons, corrected shares, agreement) before "
                                          "the summary.")),
    _own("out", Path | None, typer.Option(None, "--out", "-o", help="Where to write stats.json "
                                          "(default RUN/stats.json; none for --counts).")),
]
stats.__signature__, stats.__annotations__ = cli_options.signature(  # type: ignore[attr-defined]
    STATS_OWN, cli_options.parameters(StatsOptions))


def _shares(text: str, name: str) -> float | list[float]:
    from audit.errors import UsageError

    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise UsageError(f"--{name} takes a share or comma-separated shares, got '{text}'"
                         ) from None
    return values[0] if len(values) == 1 else values


def plan(
    p0: str = typer.Option(..., "--p0", help="Share under the null (e.g. the reference), or "
                           "every category's, comma-separated."),
    p1: str = typer.Option(..., "--p1", help="Share you want to be able to detect (or every "
                           "category's)."),
    categories: int = typer.Option(2, "--categories", min=2, help="Categories of the "
                                   "attribute (the test is then the K-category one stats "
                                   "runs); with one share, the others split the rest."),
    alpha: float = typer.Option(0.05, help="Two-sided level of the whole family."),
    power: float = typer.Option(0.8, help="Wanted probability of detecting p1."),
    tests: int = typer.Option(1, "--tests", min=1,
                              help="Prompts tested together (the correction's family)."),
    correction: str = typer.Option("bonferroni", help="bonferroni, holm, bh or none."),
    effects: int = typer.Option(1, "--effects", min=1,
                                help="With bh: prompts expected to be truly off p0."),
    sensitivity: float = typer.Option(1.0, help="P(classifier says the category | it is)."),
    specificity: float = typer.Option(1.0, help="P(classifier says another | it is not)."),
    labels: int | None = typer.Option(
        None, "--labels", help="Labelled images per class that measured --sensitivity/"
        "--specificity (default: the rates are taken as exact)."),
    confusion: Path | None = typer.Option(
        None, "--confusion", help="The confusion file audit stats --confusion will test "
        "through (JSON) instead of --sensitivity/--specificity; its abstentions add to --loss."),
    attribute: str | None = typer.Option(None, help="With --confusion: the attribute."),
    category: str | None = typer.Option(None, help="With --confusion: the category p0 is of."),
    loss: float = typer.Option(0.0, help="Expected share of generated images not counted "
                               "(failed, no person, unclear)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Images to generate per prompt to tell p1 from p0 with the test audit
    stats runs, after multiplicity, classifier error and losses.

    Example: audit plan --p0 0.5 --p1 0.65   (says 97: exact power first
    reaches 0.8 at 90 and stays from 97)
    """
    import audit

    result = audit.plan(p0=_shares(p0, "p0"), p1=_shares(p1, "p1"), categories=categories,
                        alpha=alpha, power=power, tests=tests, correction=correction,
                        effects=effects, sensitivity=sensitivity, specificity=specificity,
                        labels=labels, confusion=confusion, attribute=attribute,
                        category=category, loss=loss)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    say = lambda text: console.print(text, markup=False)  # noqa: E731
    if result.generate is None:
        say(f"power {power} is not reached below {result.limit} images per prompt")
        if result.labels is not None:
            say(f"  the classifier's rates, from {result.labels} labelled images, are too "
                "uncertain for it: label more images per class")
        raise typer.Exit(1)
    say(f"generate per prompt: {result.generate}")
    say(f"  test: {result.test}, as audit stats runs it")
    say(f"  confident images needed: power first reaches {power} at n={result.n_first} "
        f"and stays there from n={result.n_stays} (checked to {result.limit}); "
        f"{'normal' if len(result.null) == 2 else 'noncentral chi-square'} approximation "
        f"{result.n_normal:.1f}")
    if len(result.null) > 2:
        say("  shares: null " + ", ".join(f"{v:.3g}" for v in result.null) + "; alternative "
            + ", ".join(f"{v:.3g}" for v in result.alternative) + " (power by simulation)")
    if result.tests > 1:
        say(f"  per-test level {result.alpha_per_test:.3g}: {correction} over {result.tests} "
            f"prompts at family alpha {alpha}")
    if (result.sensitivity, result.specificity) != (1.0, 1.0) or result.labels is not None:
        measured = (f"measured on {result.labels} labelled images, whose uncertainty the test "
                    "carries" if result.labels is not None else "taken as exact")
        say(f"  classifier: sensitivity {result.sensitivity:.3f}, specificity "
            f"{result.specificity:.3f} ({measured}); the test sees {result.observed_p0:.3f} vs "
            f"{result.observed_p1:.3f} (the reference seen through the classifier)")
    if result.loss:
        say(f"  {result.loss:.1%} of generated images expected lost: expected power over the "
            f"confident count reaches {power} from {result.generate} generated")
    floor = (f"; HEIM imbalance floor for a balanced model: "
             f"{result.null_floor_imbalance_at_n:.3f}" if len(result.null) == 2 else "")
    say(f"  expected 95% Wilson half-width at n={result.n_stays}: "
        f"±{result.ci_half_width_at_n:.3f}{floor}")


def register(app: typer.Typer) -> None:
    app.command()(stats)
    app.command()(plan)
