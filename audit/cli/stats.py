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
        typer.echo(result.proportions.to_csv(index=False), nl=False)
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
