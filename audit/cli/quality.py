"""``audit quality``: KID, CMMD and FID∞ of a run against another set of
images, with intervals."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from audit.cli.render import print_table
from audit.common.text import one_line

console = Console()
NAMES = {"kid": "KID", "cmmd": "CMMD", "fid_infinity": "FID∞"}


def _number(value: float) -> str:
    return f"{value:.4g}"


def quality(
    run: Path = typer.Argument(..., help="Run directory (generated or imported)."),
    against: str = typer.Option(..., "--against", help="Another run, a folder of images, or "
                                "'toyworld-train' (the toy model's training set)."),
    inception: Path | None = typer.Option(None, "--inception", help="FID Inception-v3 weights "
                                          "(pt_inception-2015-12-05-6726825d.pth) for KID and "
                                          "FID; without it both use CLIP embeddings."),
    clip_model: str | None = typer.Option(None, "--clip-model", help="CLIP for CMMD (default: "
                                          "the run's own)."),
    clip_pretrained: str | None = typer.Option(None, "--clip-pretrained", help="Its weights "
                                               "(with --clip-model)."),
    per_prompt: bool = typer.Option(True, "--per-prompt/--whole-run-only", help="Also each "
                                    "prompt that has a counterpart in the other set."),
    confidence: float = typer.Option(0.95, "--confidence", help="Interval level."),
    fid_halves: int = typer.Option(50, "--fid-halves", help="Random halves behind FID∞'s "
                                   "interval."),
    per_occupation: int = typer.Option(200, "--toyworld-per-occupation", help="Training "
                                       "renders per occupation for toyworld-train."),
    versus: Path | None = typer.Option(None, "--versus", help="A second run against the same "
                                       "set: each metric's difference (RUN minus it) with an "
                                       "interval."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:N or mps."),
) -> None:
    """How far the run's images are, as a distribution, from another set:
    KID and CMMD (unbiased, jackknife intervals) and FID∞ (FID extrapolated to
    infinitely many images, with the plug-in FID beside it), for the whole
    run and per prompt. Writes RUN/quality.json. Lower is closer; none of
    them says whether any single image is good.

    Example: audit quality runs/toyworld --against toyworld-train
    """
    import audit
    from audit.cli.progress import Reporter

    with Reporter("audit quality") as reporter:
        result = audit.quality(run=run, against=against, inception=inception,
                               clip_model=clip_model, clip_pretrained=clip_pretrained,
                               per_prompt=per_prompt, confidence=confidence,
                               fid_halves=fid_halves, toyworld_per_occupation=per_occupation,
                               versus=versus, device=device,
                               progress={"features": reporter.stage("image features"),
                                         "intervals": reporter.stage("FID∞ intervals")})
    rows = []
    for r in result.metrics.itertuples():
        shown = f"{_number(r.value)} [{_number(r.ci_low)}, {_number(r.ci_high)}]"
        if r.metric == "fid_infinity":
            shown += f" (FID {_number(r.plug_in_fid)})"
        rows.append((one_line(r.scope), NAMES[r.metric], r.features, shown,
                     f"{r.n_run} / {r.n_against}"))
    level = f"{result.document['settings']['confidence']:.0%}"
    print_table(console, ["scope", "metric", "features", f"estimate [{level} CI]",
                          "images (run / other)"], rows, wrap=["scope"],
                title=f"quality against {one_line(result.document['against']['where'])}")
    second = result.document["versus"]
    if second:
        print_table(console, ["scope", "metric", f"difference [{level} CI]",
                              "images (run / versus / other)"],
                    [(one_line(r["scope"]), NAMES[r["metric"]],
                      f"{_number(r['difference'])} [{_number(r['ci_low'])}, "
                      f"{_number(r['ci_high'])}]",
                      f"{r['n_run']} / {r['n_versus']} / {r['n_against']}")
                     for r in second["differences"]], wrap=["scope"],
                    title=f"{one_line(str(run))} minus {one_line(second['run'])} (negative: "
                          "the run is closer)")
    for note in result.notes:
        console.print(f"note: {one_line(note)}", markup=False, highlight=False)
    if result.skipped:
        console.print(f"{len(result.skipped)} per-prompt metric(s) left out for too few "
                      "images (listed in quality.json)", markup=False, highlight=False)
    console.print(f"written: {one_line(result.path)}", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(quality)
