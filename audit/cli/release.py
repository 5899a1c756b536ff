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


def memorization(
    run: Path = typer.Argument(..., help="Run directory (generated or imported)."),
    against: Path | None = typer.Option(None, "--against", help="Folder of reference images "
                                        "(e.g. a sample of the training set)."),
    prompt_score: bool = typer.Option(False, "--prompt-score", help="Also score each prompt "
                                      "with the model itself (Wen et al.; needs its weights)."),
    model: str | None = typer.Option(None, "--model", help="Model for --prompt-score "
                                     "(default: the run's own)."),
    seeds: int = typer.Option(8, "--seeds", help="Starting noises per prompt for "
                              "--prompt-score."),
    first_steps: int = typer.Option(1, "--first-steps", help="Sampling steps the prompt score "
                                    "averages over."),
    clip_model: str | None = typer.Option(None, "--clip-model", help="CLIP for embedding "
                                          "similarity (default: the run's own)."),
    clip_pretrained: str | None = typer.Option(None, "--clip-pretrained", help="Its weights "
                                               "(with --clip-model)."),
    target: float = typer.Option(0.01, "--target-false-match", help="False-match rate the "
                                 "thresholds are calibrated to."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:N or mps."),
) -> None:
    """Look for memorized training images two ways. --against DIR: near-
    duplicates of the run's images among reference images, by perceptual
    hash and CLIP similarity, with thresholds calibrated on transformed
    copies of the references (RUN/memorization.parquet). --prompt-score: how
    hard each prompt pulls the model's first noise predictions away from the
    unconditional ones, a sign of a memorized prompt
    (RUN/prompt_memorization.json).

    Example: audit memorization runs/occupations__SDXL --against training-sample/
    """
    if against is None and not prompt_score:
        from audit.errors import UsageError

        raise UsageError("give --against DIR, --prompt-score, or both")
    if prompt_score:
        _prompt_score(run, model=model, seeds=seeds, first_steps=first_steps, device=device)
    if against is not None:
        _near_duplicates(run, against, clip_model=clip_model, clip_pretrained=clip_pretrained,
                         target=target, device=device)


def _prompt_score(run: Path, *, model: str | None, seeds: int, first_steps: int,
                  device: str) -> None:
    import audit
    from audit.cli.progress import Reporter

    with Reporter("audit memorization") as reporter:
        result = audit.prompt_memorization(run=run, model=model, seeds=seeds,
                                           first_steps=first_steps, device=device,
                                           progress=reporter.stage("scoring prompts"))
    ranked = result.prompts.sort_values("score", ascending=False)
    rows = [(one_line(r.prompt), f"{r.score:.4g}", "-" if r.sd != r.sd else f"{r.sd:.2g}",
             "-" if r.modified_z != r.modified_z else f"{r.modified_z:.1f}",
             "yes" if r.flagged else "") for r in ranked.head(10).itertuples()]
    print_table(console, ["prompt", "score", "SD over seeds", "modified z", "stands out"], rows,
                wrap=["prompt"], title=f"prompt memorization score, top {len(rows)} of "
                f"{len(ranked)} (higher: more likely memorized)")
    for note in result.document["notes"]:
        console.print(f"note: {one_line(note)}", markup=False, highlight=False)
    flagged = int(result.prompts.flagged.sum())
    console.print(f"{flagged} prompt(s) stand out ({result.document['rule']}); per prompt: "
                  f"{one_line(result.path)}", markup=False, highlight=False)


def _near_duplicates(run: Path, against: Path, *, clip_model: str | None,
                     clip_pretrained: str | None, target: float, device: str) -> None:
    import audit

    result = audit.memorization(run=run, against=against, clip_model=clip_model,
                                clip_pretrained=clip_pretrained, target_false_match=target,
                                device=device)
    rows = []
    for m in result.methods:
        rule = (("never" if m.threshold < 0 else f"distance <= {m.threshold:g}")
                if m.method == "phash" else f"cosine >= {m.threshold:.4f}")
        rows.append((m.method, rule, f"{m.detection.k}/{m.detection.n} = "
                     f"{fmt(m.detection.rate)} [{fmt(m.detection.ci_low)}, "
                     f"{fmt(m.detection.ci_high)}]", f"{m.false_match.k}/{m.false_match.n} = "
                     f"{fmt(m.false_match.rate)} [{fmt(m.false_match.ci_low)}, "
                     f"{fmt(m.false_match.ci_high)}]"))
    print_table(console, ["method", "match when", "copies found", "false matches"], rows,
                title="calibration on transformed copies of the references (false matches "
                      "out of sample; 95% Wilson CI)")
    for note in result.notes:
        console.print(f"note: {one_line(note)}", markup=False, highlight=False)
    matched = result.table[result.table.matched]
    columns = [c for c in result.table.columns if c.endswith("_reference")]
    for row in matched.itertuples():
        refs = sorted({getattr(row, c) for c in columns})
        console.print(f"match: {one_line(row.image_id)} ~ {one_line(', '.join(refs))}",
                      markup=False, highlight=False)
    console.print(f"{len(matched)} of {len(result.table)} image(s) match a reference image; "
                  f"per image: {one_line(result.path)}", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(memorization)
    app.command()(gate)
    app.command()(card)
    app.command()(provenance)
