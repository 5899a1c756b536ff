"""``audit score``: CLIP zero-shot, skin-tone colorimetry and NSFW scorers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console

console = Console()

ScorersOpt = typer.Option(None, "--scorers", help="Comma-separated: clip, skin_tone, "
                          "face_attributes, nudenet, clip_concepts, sd_safety_checker (default: "
                          "clip, skin_tone, clip_concepts, and face_attributes and nudenet when "
                          "their extras are installed).")
SetOpt = typer.Option(None, "--set", "-S", help="A scorer option, SCORER.KEY=VALUE, e.g. "
                      "-S clip.model=ViT-B-32 -S nudenet.threshold=0.5 (repeatable).")
ClipModelOpt = typer.Option(None, "--clip-model", help="Alias of -S clip.model=... (and "
                            "clip_concepts.model): an open_clip name, a JSON model config, "
                            "'toyworld-clip' or 'tiny-random'. Default ViT-L-14.")
ClipPretrainedOpt = typer.Option(None, "--clip-pretrained", help="Alias of -S "
                                 "clip.pretrained=...: a pretrained tag (needs the hub or its "
                                 "cache), a local checkpoint file, 'none' (random) or "
                                 "'default' (a named model's own weights, else 'openai').")
AttributesOpt = typer.Option(None, "--attributes", help="Alias of -S clip.attributes=FILE.yaml.")
ConceptsOpt = typer.Option(None, "--concepts", help="Alias of -S clip_concepts.concepts=FILE.")
CheckerOpt = typer.Option(None, "--checker", help="Alias of -S sd_safety_checker.checker=DIR.")
CalibrationOpt = typer.Option(None, "--calibration", help="Alias of -S clip.calibration=FILE: "
                              "abstention thresholds from 'audit calibrate' for this CLIP "
                              "model and attribute file.")
ScoreDeviceOpt = typer.Option("auto", "--score-device", help="auto, cpu, cuda, ...")
ScoreBatchOpt = typer.Option(None, "--score-batch-size", min=1,
                             help="Images per CLIP forward pass (default 256 GPU / 32 CPU).")
ConfigFileOpt = typer.Option(None, "--config", help="A run configuration YAML (the Python "
                             "API's keywords; schemas/run-config.schema.json); flags win.")


def scorer_settings(scorers: str | None, set_: list[str] | None, clip_model: str | None,
                    clip_pretrained: str | None, attributes: Path | None,
                    concepts: Path | None, checker: Path | None,
                    config: dict[str, Any], calibration: Path | None = None
                    ) -> tuple[list[str] | None, dict[str, dict]]:
    """(scorer names, options per scorer) from flags over the config file.
    The old flags are aliases that apply to the scorers being run."""
    from audit.pipeline.options import merge_options, parse_scoped
    from audit.scorers import default_scorers

    names = [s.strip() for s in scorers.split(",") if s.strip()] if scorers else config.get(
        "scorers")
    running = names or default_scorers()
    aliases: dict[str, dict[str, Any]] = {}
    for scorer, key, value in (("clip", "model", clip_model),
                               ("clip_concepts", "model", clip_model),
                               ("clip", "pretrained", clip_pretrained),
                               ("clip_concepts", "pretrained", clip_pretrained),
                               ("clip", "attributes", attributes),
                               ("clip_concepts", "concepts", concepts),
                               ("sd_safety_checker", "checker", checker),
                               ("clip", "calibration", calibration)):
        if value is not None and scorer in running:
            aliases.setdefault(scorer, {})[key] = str(value)
    options = merge_options(config.get("scorer_options"), aliases,
                            parse_scoped(set_, flag="--set"))
    return names, options


def read_config(path: Path | None) -> dict[str, Any]:
    from audit.pipeline.options import load_config

    return load_config(path) if path is not None else {}


def print_scored(result: Any) -> None:
    console.print(f"{result.tables.decisions}: {result.decisions} decisions, "
                  f"{result.measurements} measurements from {', '.join(result.scorers)}; "
                  f"images {result.statuses}", markup=False)
    if result.fused:
        console.print(f"scored {result.fused['while_generating']} images while generating "
                      f"and {result.fused['from_png']} from their PNGs", markup=False)


def score(
    run: Path | None = typer.Argument(None, help="Run directory (writes RUN/scores/)."),
    images: Path | None = typer.Option(None, "--images", help="Any folder of images instead "
                                       "of a run; image_id is the file's path in the folder."),
    out: Path | None = typer.Option(None, "--out", "-o", help="With --images: the decision "
                                    "table to write (FILE.parquet); the measurements and "
                                    "input statuses go beside it."),
    scorers: str | None = ScorersOpt, set_: list[str] | None = SetOpt,
    clip_model: str | None = ClipModelOpt, clip_pretrained: str | None = ClipPretrainedOpt,
    attributes: Path | None = AttributesOpt, concepts: Path | None = ConceptsOpt,
    checker: Path | None = CheckerOpt, calibration: Path | None = CalibrationOpt,
    score_device: str = ScoreDeviceOpt,
    score_batch_size: int | None = ScoreBatchOpt, config: Path | None = ConfigFileOpt,
    ray: str | None = typer.Option(None, "--ray", help="Score on Ray actors: 'local', 'auto' "
                                   "or a cluster address (a run only; [ray] extra)."),
    ray_actors: int | None = typer.Option(None, "--ray-actors", min=1,
                                          help="With --ray: how many actors."),
) -> None:
    """Score images into the decision and measurement tables. Raw numbers are
    kept; unreadable images get status 'error'.

    Examples: audit score runs/smoke__tiny -S clip.model=tiny-random -S clip.pretrained=none ;
    audit score --images downloaded/ --out scores.parquet
    """
    import audit
    from audit.cli.progress import Reporter

    settings = read_config(config)
    names, options = scorer_settings(scorers, set_, clip_model, clip_pretrained, attributes,
                                     concepts, checker, settings, calibration)
    with Reporter("audit score") as reporter:
        result = audit.score(run=run, images=images, out=out, scorers=names,
                             scorer_options=options,
                             device=settings.get("score_device", score_device)
                             if score_device == "auto" else score_device,
                             batch_size=score_batch_size or settings.get("score_batch_size"),
                             progress=reporter.stage(f"scoring {run or images}"), ray=ray,
                             ray_actors=ray_actors)
    print_scored(result)


def register(app: typer.Typer) -> None:
    app.command()(score)
