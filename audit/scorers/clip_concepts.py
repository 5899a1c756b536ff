"""CLIP concept margins in the style of the Stable Diffusion safety checker:
cosine(image, concept) - threshold, reported as a continuous margin.

Concepts come from YAML prompts (named, readable, adjustable), or from the
real checker's weights when a local folder of them is given (its 17 concepts
are unnamed embeddings, reported as concept_0..concept_16).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from audit.api.scorer import (
    Decision,
    Output,
    Scored,
    ScoreInput,
    Scorer,
    per_label,
    pil_image,
    resolve_file_option,
)
from audit.data_files import unsafe_concepts
from audit.paths import package_data_dir
from audit.scorers.clip_model import ImageEncoder, shared_encoder
from audit.scorers.clip_zero_shot import CLIP_OPTIONS

DEFAULT_CONCEPTS = package_data_dir() / "attributes" / "unsafe-concepts.yaml"
MARGIN = Output("unsafe_concept", "cosine_margin", "cosine", "higher",
                "cosine(image, concept embedding) minus the concept's threshold; > 0 flags it")


def margin_rows(images: Sequence[ScoreInput], names: list[str], margins: np.ndarray) -> Scored:
    """Every concept's margin; the decision is the largest positive one, else 'none'."""
    out = Scored()
    for item, margin in zip(images, margins, strict=True):
        decision = names[int(margin.argmax())] if margin.max() > 0 else "none"
        out.decisions.append(Decision(item.image_id, "unsafe_concept", decision))
        out.measurements += per_label(item.image_id, "unsafe_concept", "cosine_margin",
                                      dict(zip(names, margin, strict=True)))
    return out


class ClipConcepts(Scorer):
    name = "clip_concepts"
    version = "2.0.0"
    options = {**CLIP_OPTIONS, "concepts": "YAML of unsafe concepts (default: the bundled "
               "unsafe-concepts.yaml)"}

    def __init__(self, encoder: ImageEncoder, concepts_file: Path | None = None) -> None:
        self.encoder = encoder
        self.device = encoder.bundle.device
        self.concepts_file = Path(concepts_file or DEFAULT_CONCEPTS)
        spec = unsafe_concepts(self.concepts_file)
        self.spec_version = spec["version"]
        self.concepts: dict[str, dict[str, Any]] = spec["concepts"]
        self._embeddings: np.ndarray | None = None

    def concept_embeddings(self) -> np.ndarray:
        if self._embeddings is None:
            self._embeddings = np.stack([self.encoder.ensemble(c["prompts"])
                                         for c in self.concepts.values()])
        return self._embeddings

    @classmethod
    def build(cls, options: dict[str, Any], context: Any) -> ClipConcepts:
        encoder = shared_encoder(context, options.get("model", "ViT-L-14"),
                                 options.get("pretrained", "default"))
        return cls(encoder, options.get("concepts"))

    @classmethod
    def resolve_options(cls, options: dict[str, Any], base: Path) -> dict[str, Any]:
        return resolve_file_option(options, "concepts", base, unsafe_concepts)

    def labels(self) -> dict[str, list[str]]:
        return {"unsafe_concept": [*self.concepts, "none"]}

    def outputs(self) -> list[Output]:
        return [MARGIN]

    def score(self, images: Sequence[ScoreInput]) -> Scored:
        names = list(self.concepts)
        thresholds = np.array([self.concepts[n]["threshold"] for n in names])
        margins = self.encoder.embed(images) @ self.concept_embeddings().T - thresholds
        return margin_rows(images, names, margins)

    def card(self) -> dict[str, Any]:
        bundle = self.encoder.bundle
        return {
            "name": self.name, "version": self.version, "kind": "CLIP concept margin",
            "model": bundle.name, "pretrained": bundle.pretrained,
            "weights_sha256": bundle.weights_sha256,
            "concepts_file": str(self.concepts_file), "concepts_version": self.spec_version,
            "labels": self.labels(),
            "thresholds": {n: c["threshold"] for n, c in self.concepts.items()},
            "covers": {n: c["prompts"] for n, c in self.concepts.items()},
            "confidence": None,
            "outputs": [vars(o) for o in self.outputs()],
            "limitations": [
                "Covers only the listed concepts as phrased; not a general safety classifier.",
                "Thresholds depend on the CLIP model; calibrate on labelled images.",
            ],
        }


class SafetyCheckerConcepts(Scorer):
    """The real Stable Diffusion safety checker's concept embeddings and
    thresholds, loaded from a local folder (diffusers/transformers format)."""

    name = "sd_safety_checker"
    version = "2.0.0"
    options = {"checker": "local folder with the Stable Diffusion safety checker (required)"}

    @classmethod
    def build(cls, options: dict[str, Any], context: Any) -> SafetyCheckerConcepts:
        from audit.errors import UsageError

        if not options.get("checker"):
            raise UsageError("sd_safety_checker needs a local checker folder: "
                             "-S sd_safety_checker.checker=FOLDER (or --checker FOLDER)")
        return cls(Path(options["checker"]))

    def __init__(self, folder: Path, device: str = "cpu") -> None:
        from diffusers.pipelines.stable_diffusion.safety_checker import (
            StableDiffusionSafetyChecker,
        )
        from transformers import CLIPImageProcessor

        from audit.common.hashing import folder_sha256

        self.folder = folder
        self.device = device
        self.checker = StableDiffusionSafetyChecker.from_pretrained(str(folder)).to(device).eval()
        self.processor = CLIPImageProcessor.from_pretrained(str(folder))
        self.sha256 = folder_sha256(folder)

    def labels(self) -> dict[str, list[str]]:
        count = self.checker.concept_embeds.shape[0]
        return {"unsafe_concept": [f"concept_{i}" for i in range(count)] + ["none"]}

    def outputs(self) -> list[Output]:
        return [MARGIN]

    def score(self, images: Sequence[ScoreInput]) -> Scored:
        import torch

        pixels = self.processor([pil_image(i) for i in images], return_tensors="pt").pixel_values
        with torch.inference_mode():
            pooled = self.checker.vision_model(pixels.to(self.device))[1]
            embeds = torch.nn.functional.normalize(self.checker.visual_projection(pooled),
                                                   dim=-1)
            concepts = torch.nn.functional.normalize(self.checker.concept_embeds, dim=-1)
            margins = (embeds @ concepts.T - self.checker.concept_embeds_weights).cpu().numpy()
        return margin_rows(images, self.labels()["unsafe_concept"][:-1], margins)

    def card(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version,
                "kind": "Stable Diffusion safety checker concepts", "folder": str(self.folder),
                "weights_sha256": self.sha256, "labels": self.labels(),
                "confidence": None, "outputs": [vars(o) for o in self.outputs()],
                "limitations": ["The checker's concepts are unnamed embeddings; what each "
                                "covers is not documented by its authors."]}
