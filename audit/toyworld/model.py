"""The bundled toy-world text-to-image model, loaded from its saved folder by
the same diffusers code path as any local pipeline folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from audit.generators.diffusers_backend import DiffusersGenerator
from audit.generators.loading import ModelSource, load_pipeline

WEIGHTS = Path(__file__).resolve().parent / "weights"


def weights_sources(folder: Path | None) -> tuple[str, str]:
    """(--model, --clip-pretrained) for a weights folder the training script
    wrote, or for the bundled weights when None."""
    if folder is None:
        return "toyworld", "default"
    return str(folder / "toyworld-sd"), str(folder / "toyworld-clip.safetensors")


class ToyworldGenerator(DiffusersGenerator):
    """SD-architecture pipeline trained on the toy world (see world.yaml)."""

    name = "toyworld"
    # Made for 64 px: 512 px would be 64x the work for images it never learned.
    suite_defaults: ClassVar[dict[str, Any]] = {
        "generation": {"steps": 20, "guidance": 5.0, "width": 64, "height": 64,
                       "scheduler": "default"},
        "attributes": ["person_present", "presentation", "tone_group", "age_group"],
        "reference": "toyworld",
        "scorer_options": {"clip": {"model": "toyworld-clip"},
                           "clip_concepts": {"model": "toyworld-clip"}},
    }

    def __init__(self, model: str = "toyworld", **kwargs: Any) -> None:
        super().__init__(model, **kwargs)

    def _load(self, model: str, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        pipe, info = load_pipeline(ModelSource("folder", str(WEIGHTS / "toyworld-sd")),
                                   torch_dtype=self.torch_dtype,
                                   safety_checker=self.safety_checker,
                                   revision=None, config=None)
        return pipe, {**info, "source": "bundled", "location": "audit/toyworld/weights"}
