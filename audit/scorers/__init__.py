"""Scorers by name; building them loads weights, listing them does not.

Options reach a scorer as one mapping per scorer name (``-S clip.model=X`` on
the command line, ``scorer_options={"clip": {"model": "X"}}`` in Python), so
a new scorer brings its options without new global flags.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from audit.api.scorer import Scorer
from audit.errors import UsageError
from audit.registry import Registry, suggest
from audit.scorers.shared import BuildContext

SCORERS = Registry("scorer", base=Scorer, group="t2i_audit.scorers")
SCORERS.register("clip", "audit.scorers.clip_zero_shot:ClipZeroShot")
SCORERS.register("clip_concepts", "audit.scorers.clip_concepts:ClipConcepts")
SCORERS.register("sd_safety_checker", "audit.scorers.clip_concepts:SafetyCheckerConcepts")
SCORERS.register("skin_tone", "audit.scorers.skin_tone:SkinTone")
SCORERS.register("nudenet", "audit.scorers.nudenet_scorer:NudeNet")
SCORERS.register("face_attributes", "audit.scorers.face_attributes:FaceAttributes")
SCORERS.register("adherence", "audit.scorers.adherence:Adherence")
SCORERS.register("vqa", "audit.scorers.vqa:VisualQuestionAnswering")
DEFAULT = ("clip", "skin_tone", "face_attributes", "nudenet", "clip_concepts")


def nudenet_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("nudenet") is not None


def default_scorers() -> list[str]:
    """The default set; nudenet and face_attributes only when their optional
    extras are installed."""
    from audit.scorers.faces import faces_available

    optional = {"nudenet": nudenet_available, "face_attributes": faces_available}
    return [n for n in DEFAULT if n not in optional or optional[n]()]


def check_names(names: list[str]) -> None:
    for name in names:
        if name not in SCORERS:
            raise SCORERS.unknown(name)


def check_options(names: list[str], options: dict[str, dict[str, Any]]) -> None:
    """Every option names a scorer being built and a key that scorer accepts."""
    for scorer, values in options.items():
        if scorer not in names:
            raise UsageError(f"options given for scorer '{scorer}', which is not being run "
                             f"(scorers: {', '.join(names)})")
        accepted = SCORERS.get(scorer).options
        for key in values:
            if key not in accepted:
                known = ", ".join(accepted) or "none"
                raise UsageError(f"unknown option '{scorer}.{key}'"
                                 f"{suggest(key, list(accepted))} (known: {known})")


def make_scorers(names: list[str], *, options: dict[str, dict[str, Any]] | None = None,
                 device: str = "auto", cache_folder: Path | None = None,
                 batch_size: int | None = None, prompts: Any = None) -> list[Scorer]:
    """Build scorers in the order given, sharing encoders and detectors;
    ``prompts`` (a PromptBook) for scorers that judge images against them."""
    options = options or {}
    check_names(names)
    check_options(names, options)
    context = BuildContext(device=device, cache_folder=cache_folder, batch_size=batch_size,
                           prompts=prompts)
    return [SCORERS.get(name).build(dict(options.get(name, {})), context) for name in names]
