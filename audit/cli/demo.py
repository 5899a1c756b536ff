"""``audit demo``: a real audit of the bundled toy-world model, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

console = Console()
SHOWN = {"presentation": "A", "tone_group": "dark", "age_group": "old"}


def demo(
    n: int = typer.Option(25, "--n", "-n", min=1, help="Images per occupation."),
    out: Path = typer.Option(Path("runs/demo"), "--out", "-o", help="Run directory."),
    weights: Path | None = typer.Option(
        None, "--weights", help="A rebuilt weights folder (python -m audit.toyworld.train "
        "--out DIR) instead of the bundled one."),
) -> None:
    """Generate with the bundled toy-world model, score with its bundled CLIP,
    test against the world's true shares, write report.html, and print how far
    the model's shares are from its training data (bias amplification).

    Example: audit demo
    """
    import audit
    from audit.cli.generate import print_generated
    from audit.cli.progress import Reporter
    from audit.cli.render import print_table
    from audit.toyworld.model import WEIGHTS, weights_sources
    from audit.toyworld.train import data_shares

    folder = weights or WEIGHTS
    if not (folder / "training.json").is_file():
        from audit.errors import UsageError

        raise UsageError(f"{folder}: not a toy-world weights folder (no training.json)")
    model, clip = weights_sources(weights)
    with Reporter("audit demo") as reporter:
        result = audit.run(suite="toyworld", model=model, n=n, out=out, scorers=["clip"],
                           scorer_options={"clip": {"model": "toyworld-clip",
                                                    "pretrained": clip}},
                           progress={"generate": reporter.stage("generating toyworld images"),
                                     "score": reporter.stage("scoring with the toy CLIP")},
                           command="audit demo")
    print_generated(result.generated)
    document, report = result.assessed.document, result.report
    training = json.loads((folder / "training.json").read_text())
    truth = data_shares(training["preset"]["images_per_occupation"], training["seed"])
    inside = total = 0
    for attribute, category in SHOWN.items():
        rows = []
        for row in document["proportions"]:
            if (row["attribute"], row["category"]) != (attribute, category):
                continue
            occupation = row["group"].split("--", 1)[1]
            data = truth[(occupation, attribute, category)]
            total += 1
            inside += row["ci_low"] <= data <= row["ci_high"]
            rows.append((occupation, f"{row['estimate']:.2f} [{row['ci_low']:.2f}, "
                         f"{row['ci_high']:.2f}]", f"{row['k']}/{row['n']}", f"{data:.2f}",
                         f"{row['estimate'] - data:+.2f}", f"{row['p_adjusted']:.3g}"))
        print_table(console, ("occupation", "model share (95% CI)", "k/n", "data",
                              "model - data", "p adj."), rows,
                    title=f"{attribute} = {category}: the toy model's share vs its training "
                          "data")
    console.print("Labels by the toy CLIP (perceived, not ground truth); 'data' is the share "
                  "in the model's training images.", markup=False)
    console.print(f"{inside} of {total} intervals contain the training-data share. "
                  f"Report: {report}", markup=False)
