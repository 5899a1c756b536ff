"""Scorers by name; building them loads weights, listing them does not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from audit.api.scorer import Scorer
from audit.registry import Registry

SCORERS = Registry("scorer")
SCORERS.register("clip", "audit.scorers.clip_zero_shot:ClipZeroShot")
SCORERS.register("clip_concepts", "audit.scorers.clip_concepts:ClipConcepts")
SCORERS.register("sd_safety_checker", "audit.scorers.clip_concepts:SafetyCheckerConcepts")
SCORERS.register("skin_tone", "audit.scorers.skin_tone:SkinTone")
SCORERS.register("nudenet", "audit.scorers.nudenet_scorer:NudeNet")
DEFAULT = ("clip", "skin_tone", "nudenet", "clip_concepts")


def nudenet_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("nudenet") is not None


def make_scorers(names: list[str], *, clip_model: str = "ViT-L-14",
                 clip_pretrained: str | None = "default", device: str = "auto",
                 cache_folder: Path | None = None, batch_size: int | None = None,
                 attributes_file: Path | None = None, concepts_file: Path | None = None,
                 checker_folder: Path | None = None) -> list[Scorer]:
    for name in names:
        if name not in SCORERS:
            raise SCORERS.unknown(name)
    built: dict[str, Any] = {}
    encoder = None
    if {"clip", "clip_concepts"} & set(names):
        from audit.paths import package_data_dir
        from audit.scorers.clip_model import DEFAULT_ATTRIBUTES, ImageEncoder, load_clip

        encoder = ImageEncoder(load_clip(clip_model, clip_pretrained, device=device),
                               cache_folder=cache_folder, batch_size=batch_size)
        if attributes_file is None and clip_model in DEFAULT_ATTRIBUTES:
            attributes_file = package_data_dir().parent / DEFAULT_ATTRIBUTES[clip_model]
    if "nudenet" in names:
        built["nudenet"] = SCORERS.get("nudenet")()
    for name in names:
        if name == "clip":
            built[name] = SCORERS.get(name)(encoder, attributes_file)
        elif name == "clip_concepts":
            built[name] = SCORERS.get(name)(encoder, concepts_file)
        elif name == "skin_tone":
            face = built.get("nudenet")
            built[name] = SCORERS.get(name)(face.face_box if face else None)
        elif name == "sd_safety_checker":
            if checker_folder is None:
                from audit.errors import UsageError

                raise UsageError("sd_safety_checker needs --checker FOLDER (a local copy of "
                                 "the Stable Diffusion safety checker)")
            built[name] = SCORERS.get(name)(checker_folder)
    return [built[n] for n in names]
