"""``audit score``: CLIP zero-shot, skin-tone colorimetry and NSFW scorers."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from audit.errors import UsageError

console = Console()

ScorersOpt = typer.Option(None, "--scorers", help="Comma-separated: clip, skin_tone, nudenet, "
                          "clip_concepts, sd_safety_checker (default: clip, skin_tone, "
                          "clip_concepts, and nudenet when installed).")
ClipModelOpt = typer.Option("ViT-L-14", "--clip-model", help="open_clip model name, a JSON "
                            "model config, 'toyworld-clip' (bundled, trained on the toy "
                            "world) or 'tiny-random' (random weights, for tests).")
ClipPretrainedOpt = typer.Option("default", "--clip-pretrained", help="open_clip pretrained "
                                 "tag (needs the hub or its cache), a local checkpoint file, "
                                 "'none' for random weights, or 'default' (bundled weights "
                                 "for bundled models, else 'openai').")
AttributesOpt = typer.Option(None, "--attributes", help="YAML of zero-shot attributes "
                             "(default: the bundled clip-attributes.yaml).")
ConceptsOpt = typer.Option(None, "--concepts", help="YAML of unsafe concepts for "
                           "clip_concepts (default: the bundled unsafe-concepts.yaml).")
CheckerOpt = typer.Option(None, "--checker", help="Local folder with the Stable Diffusion "
                          "safety checker (for the sd_safety_checker scorer).")
ScoreDeviceOpt = typer.Option("auto", "--score-device", help="auto, cpu, cuda, ...")
ScoreBatchOpt = typer.Option(None, "--score-batch-size", min=1,
                             help="Images per CLIP forward pass (default 256 GPU / 32 CPU).")


def scorer_names(scorers: str | None) -> list[str]:
    from audit.scorers import DEFAULT, nudenet_available

    if scorers:
        return [s.strip() for s in scorers.split(",") if s.strip()]
    names = list(DEFAULT)
    if not nudenet_available():
        console.print("nudenet is not installed (pip install 't2i-audit[nsfw]'); "
                      "scoring without it")
        names.remove("nudenet")
    return names


def build(scorers: str | None, clip_model: str, clip_pretrained: str, attributes: Path | None,
          concepts: Path | None, checker: Path | None, device: str, batch_size: int | None,
          cache_folder: Path | None):
    from audit.scorers import make_scorers

    with console.status("loading scorers"):
        return make_scorers(scorer_names(scorers), clip_model=clip_model,
                            clip_pretrained=clip_pretrained, device=device,
                            cache_folder=cache_folder, batch_size=batch_size,
                            attributes_file=attributes, concepts_file=concepts,
                            checker_folder=checker)


def do_score(run_dir: Path, scorers: str | None = None, clip_model: str = "ViT-L-14",
             clip_pretrained: str = "default", attributes: Path | None = None,
             concepts: Path | None = None, checker: Path | None = None,
             score_device: str = "auto", score_batch_size: int | None = None) -> None:
    from audit.cli.progress import ImageProgress
    from audit.stages.score import run_score

    built = build(scorers, clip_model, clip_pretrained, attributes, concepts, checker,
                  score_device, score_batch_size, run_dir / "embeddings")
    progress = ImageProgress(f"scoring {run_dir}")
    try:
        summary = run_score(run_dir, built, progress=progress)
    finally:
        progress.stop()
    console.print(f"{run_dir / 'scores.parquet'}: {summary['rows']} rows from "
                  f"{', '.join(s.name for s in built)}; images {summary['statuses']}")


def score(
    run: Path | None = typer.Argument(None, help="Run directory (writes RUN/scores.parquet)."),
    images: Path | None = typer.Option(None, "--images", help="Any folder of images instead "
                                       "of a run; image_id is the file's path in the folder."),
    out: Path | None = typer.Option(None, "--out", "-o", help="scores.parquet to write "
                                    "(with --images)."),
    scorers: str | None = ScorersOpt, clip_model: str = ClipModelOpt,
    clip_pretrained: str = ClipPretrainedOpt, attributes: Path | None = AttributesOpt,
    concepts: Path | None = ConceptsOpt, checker: Path | None = CheckerOpt,
    score_device: str = ScoreDeviceOpt, score_batch_size: int | None = ScoreBatchOpt,
) -> None:
    """Score images into a long table (image_id, scorer, attribute, label, score,
    decision). Raw scores are kept; unreadable images get status 'error'.

    Examples: audit score runs/smoke__tiny --clip-model tiny-random --clip-pretrained none ;
    audit score --images downloaded/ --out scores.parquet
    """
    if (run is None) == (images is None):
        raise UsageError("give either a run directory or --images DIR (not both)")
    if run is not None:
        if out is not None:
            raise UsageError("--out goes with --images; a run's scores go to RUN/scores.parquet")
        do_score(run, scorers, clip_model, clip_pretrained, attributes, concepts, checker,
                 score_device, score_batch_size)
        return
    if not images.is_dir():
        raise UsageError("not a folder", where=str(images))
    if out is None:
        raise UsageError("--images needs --out SCORES.parquet")
    from audit.cli.progress import ImageProgress
    from audit.stages.score import score_folder

    built = build(scorers, clip_model, clip_pretrained, attributes, concepts, checker,
                  score_device, score_batch_size, out.parent / f".{out.stem}.embeddings")
    progress = ImageProgress(f"scoring {images}")
    try:
        statuses = score_folder(images, out, built, progress=progress)
    finally:
        progress.stop()
    console.print(f"{out}: images {statuses}")


def register(app: typer.Typer) -> None:
    app.command()(score)
