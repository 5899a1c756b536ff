"""``audit gate`` (pass/fail against a release policy, for CI pipelines) and
``audit card`` (a Hugging Face model card)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from audit.cli.render import fmt, print_table
from audit.common.text import one_line

console = Console()


def gate(
    run: Path = typer.Argument(..., help="A run with fresh statistics (audit stats RUN)."),
    policy: Path = typer.Option(..., "--policy", help="Policy file (YAML, "
                                "schemas/gate-policy.schema.json)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="JSON summary to write "
                                    "(default RUN/gate.json)."),
) -> None:
    """Check a run against a release policy: a pass/fail table, a JSON summary,
    and exit 0 when every rule passes, 1 when one fails or cannot be measured.
    Each rule compares an interval bound (the policy says which) with a limit.

    Example: audit gate runs/occupations__SDXL --policy release-policy.yaml
    """
    import audit

    result = audit.gate(run=run, policy=policy, out=out)
    rows = []
    for r in result.results:
        worst = r.worst
        shown = (f"{fmt(worst.estimate)} [{fmt(worst.ci_low)}, {fmt(worst.ci_high)}] "
                 f"n={worst.n}" if worst else "-")
        rows.append((r.rule.id, r.rule.measure, one_line(worst.scope) if worst else "-", shown,
                     r.rule.wording, r.verdict.replace("_", " ").upper()))
    print_table(console, ["rule", "measure", "worst case", "estimate [interval]", "requires",
                          "verdict"], rows, wrap=["worst case"],
                title=f"release gate, {result.policy.confidence:.0%} intervals")
    for r in result.results:
        if r.reason:
            console.print(f"{one_line(r.rule.id)}: {one_line(r.reason)}", markup=False,
                          highlight=False)
    summary = out or Path(run) / "gate.json"
    verdict = "PASSED" if result.passed else "FAILED"
    console.print(f"gate {verdict}; summary in {one_line(summary)}", markup=False,
                  highlight=False)
    if not result.passed:
        raise typer.Exit(1)


def card(
    runs: list[Path] = typer.Argument(..., help="Runs of one model, each with fresh "
                                      "statistics."),
    out: Path = typer.Option(..., "--out", "-o", help="Model card to write (README.md)."),
    grid_intensity: float | None = typer.Option(None, "--grid-intensity", help="g CO2e per "
                                                "kWh for the runs' measured energy (default "
                                                "480, the 2023 world average)."),
) -> None:
    """Write a Hugging Face model card: shares with intervals and adjusted tests
    as model-index results, unsafe rates, the audit's energy as
    co2_eq_emissions, and the limits of perceived attributes.

    Example: audit card runs/occupations__SDXL runs/toyworld__SDXL -o README.md
    """
    import audit

    written = audit.card(runs=runs, out=out, grid_intensity=grid_intensity)
    console.print(f"wrote {one_line(written)}", markup=False, highlight=False)


SIGNALS = {"watermark_rate": "SDXL invisible watermark present",
           "c2pa_rate": "C2PA manifest valid (trusted or not)",
           "c2pa_trusted_rate": "C2PA manifest trusted",
           "c2pa_invalid_rate": "C2PA manifest invalid (tampered or broken)",
           "metadata_claim_rate": "a generator named in metadata"}


def provenance(
    run: Path = typer.Argument(..., help="Run directory (generated or imported)."),
    trust_anchors: Path | None = typer.Option(None, "--trust-anchors", help="PEM file of "
                                              "certificates a C2PA signer must chain to for "
                                              "'trusted'."),
) -> None:
    """Read each image's provenance signals: the SDXL invisible watermark, a
    C2PA manifest, generator claims in metadata; writes RUN/provenance.parquet.
    Absence of a signal never shows an image was not generated.

    Example: audit provenance runs/imported-dalle --trust-anchors anchors.pem
    """
    import audit
    from audit.cli.progress import Reporter

    with Reporter("audit provenance") as reporter:
        result = audit.provenance(run=run, trust_anchors=trust_anchors,
                                  progress=reporter.stage(f"reading {run}"))
    rows = [(SIGNALS[r.signal], f"{r.k}/{r.n}", f"{fmt(r.rate)} [{fmt(r.ci_low)}, "
             f"{fmt(r.ci_high)}]") for r in result.rates.itertuples()]
    print_table(console, ["signal", "images", "rate [95% Wilson CI]"], rows,
                title="provenance signals")
    undecodable = int((result.table.watermark == "undecodable").sum())
    if undecodable:
        console.print(f"{undecodable} image(s) too small or unreadable for the watermark "
                      "decoder (the SDXL watermarker skips images under 256 px)",
                      markup=False, highlight=False)
    console.print("A missing watermark or manifest does not show an image was not "
                  "generated: both are lost to resizing, re-encoding or deliberate "
                  f"stripping. Per image: {one_line(result.path)}", markup=False,
                  highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(gate)
    app.command()(card)
    app.command()(provenance)
