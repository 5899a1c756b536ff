"""``audit demo``: a real audit of the bundled toy-world model, end to end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console

console = Console()


def demo(
    n: int = typer.Option(25, "--n", "-n", min=1, help="Images per occupation."),
    out: Path = typer.Option(Path("runs/demo"), "--out", "-o", help="Run directory."),
    weights: Path | None = typer.Option(
        None, "--weights", help="A rebuilt weights folder (python -m audit.toyworld.train "
        "--out DIR) instead of the bundled one."),
) -> None:
    """Generate with the bundled toy-world model, score with its bundled CLIP,
    test against the world's true shares, write report.html, and print, read
    from the pixels, how far what the model drew is from its training data
    (directional bias amplification), apart from off-class images and the
    classifier's error.

    Example: audit demo
    """
    import audit
    from audit.cli.generate import print_generated
    from audit.cli.progress import Reporter

    with Reporter("audit demo") as reporter:
        result = audit.demo(n=n, out=out, weights=weights, progress={
            "generate": reporter.stage("generating toyworld images"),
            "score": reporter.stage("scoring with the toy CLIP")})
    print_generated(result.run.generated)
    print_separated(result.terms, result.amplification)
    console.print(f"Report: {result.run.report}", markup=False)


def print_separated(terms: Any, amplification: dict[str, dict[str, Any]]) -> None:
    from audit.cli.render import print_table
    from audit.toyworld.ground_truth import HEADLINE

    def interval(value: float, low: float, high: float, signed: bool = False) -> str:
        sign = "+" if signed else ""
        return f"{value:{sign}.2f} [{low:{sign}.2f}, {high:{sign}.2f}]"

    for attribute, category in HEADLINE.items():
        rows = []
        for row in terms[(terms.attribute == attribute) & (terms.category == category)
                         ].itertuples():
            rows.append((row.occupation, f"{row.on_class}/{row.n}",
                         interval(row.model_share, row.model_ci_low, row.model_ci_high)
                         + f" n={row.read_on_class}", f"{row.data_share:.2f}",
                         interval(row.amplification, row.amplification_ci_low,
                                  row.amplification_ci_high, signed=True),
                         f"{row.off_class_term:+.2f}", f"{row.classifier_term:+.2f}",
                         f"{row.unreadable_term:+.2f}", f"{row.clip_share:.2f}"))
        print_table(console, ("occupation", "on-class", "model share (95% CI)", "data",
                              "amplification (95% CI)", "off-class", "classifier",
                              "unreadable", "audit (CLIP)"), rows,
                    title=f"{attribute} = {category}: what the toy model drew vs its training "
                          "data, and what the audit reports")
    console.print(
        "on-class: images showing the prompted occupation (pixel readers). model share: "
        "among readable on-class images, read from pixels. amplification: model - data, "
        "signed + where the category is over-represented in that occupation's data, - where "
        "under-represented (Wang & Russakovsky 2021): positive exaggerates the data's "
        "skew, negative weakens or reverses it. audit (CLIP) = model share + off-class + "
        "classifier + unreadable, exactly.", markup=False)
    for attribute, summary in amplification.items():
        console.print(f"directional bias amplification, {attribute}: {summary['value']:+.3f} "
                      f"[{summary['ci_low']:+.3f}, {summary['ci_high']:+.3f}] over "
                      f"{summary['occupations']} occupations", markup=False)
