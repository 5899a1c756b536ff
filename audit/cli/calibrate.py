"""``audit calibrate``: CLIP's accuracy on labelled images, and abstention
thresholds chosen for a target accuracy."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from audit.cli.render import fmt, print_table

console = Console()


def calibrate(
    run: Path | None = typer.Argument(None, help="A run with human labels (RUN/labels.parquet)"
                                      "; or give --images and --labels."),
    images: Path | None = typer.Option(None, "--images", help="Folder of labelled images."),
    labels: Path | None = typer.Option(None, "--labels", help="CSV image_id,attribute,label"
                                       "[,reviewer] for --images (image_id: the path inside "
                                       "the folder)."),
    out: Path = typer.Option(..., "--out", "-o", help="Calibration file to write (JSON)."),
    clip_model: str | None = typer.Option(None, "--clip-model", help="CLIP model to "
                                          "calibrate (as -S clip.model; default: the one the "
                                          "run was scored with, ViT-L-14 for --images)."),
    clip_pretrained: str | None = typer.Option(None, "--clip-pretrained", help="Its weights "
                                               "(as -S clip.pretrained; default: the run's, "
                                               "else the model's own)."),
    attributes: Path | None = typer.Option(None, "--attributes", help="CLIP attribute file "
                                           "(default: the model's bundled one)."),
    target: float = typer.Option(0.95, "--target", help="Accuracy the decided images must "
                                 "be shown to reach on fresh images (90% confidence, from "
                                 "the labelled set)."),
    min_decided: int = typer.Option(10, "--min-decided", help="A threshold must still decide "
                                    "at least this many labelled images."),
    slot: str = typer.Option("occupation", "--slot", help="For on_class labels: the suite "
                             "slot the adherence scorer judges (as -S adherence.slot)."),
    adherence_prompts: Path | None = typer.Option(None, "--adherence-prompts", help="For "
                                                  "on_class labels: the adherence prompt file "
                                                  "(as -S adherence.prompts)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:N or mps."),
) -> None:
    """Measure CLIP on labelled images and choose, per attribute, the lowest
    abstention whose decisions reach --target accuracy there; the threshold is
    a cosine margin (independent of the model's logit scale). A run's on_class
    labels (on/off) calibrate the adherence scorer's on-class decision. Use the
    file with 'audit score --calibration FILE'.

    Examples: audit calibrate --images faces/ --labels faces.csv -o calib.json ;
    audit calibrate runs/occupations__SDXL -o calib.json
    """
    import audit

    result = audit.calibrate(run=run, images=images, labels=labels, out=out, model=clip_model,
                             pretrained=clip_pretrained, attributes=attributes, target=target,
                             min_decided=min_decided, slot=slot,
                             adherence_prompts=adherence_prompts, device=device)
    rows = []
    for name, spec in result.document["attributes"].items():
        low, high = spec["accuracy_ci"]
        rows.append((f"{name} (adherence)" if name == "on_class" else name, spec["n"],
                     fmt(spec["accuracy_without_threshold"]),
                     fmt(spec["threshold"], 4),
                     f"{fmt(spec['accuracy'])} [{fmt(low)}, {fmt(high)}]",
                     fmt(spec["abstention"]),
                     f"yes ({spec['confidence']:.0%} sure on fresh images)"
                     if spec["target_met"] else
                     f"NO (needs {spec['labels_needed']}+ decided, nearly all right)"
                     if spec.get("labels_needed") else "NO"))
    print_table(console, ("attribute", "labelled", "accuracy (all)", "threshold (cos margin)",
                          "accuracy decided (95% CI)", "abstention", "target met"), rows,
                wrap=("target met",),
                title=f"CLIP {result.document['model']['name']} on "
                      f"{result.document['labelled_set']['images']} labelled images, target "
                      f"{target}")
    for why, count in result.skipped.items():
        console.print(f"skipped {count} label(s): {why}", markup=False)
    console.print("a threshold counts as meeting the target only when binomial tests, from "
                  "the most confident images down, show it with 90% confidence on fresh "
                  "images; the accuracy shown is the labelled images' own (optimistic).",
                  markup=False)
    console.print(f"wrote {result.path}", markup=False)


def register(app: typer.Typer) -> None:
    app.command()(calibrate)
