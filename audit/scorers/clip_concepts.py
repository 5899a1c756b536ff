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
import yaml

from audit.api.scorer import ScoreInput, Scorer, pil_image, rows_for
from audit.paths import package_data_dir
from audit.scorers.clip_model import ImageEncoder

DEFAULT_CONCEPTS = package_data_dir() / "attributes" / "unsafe-concepts.yaml"


def margin_rows(images: Sequence[ScoreInput], names: list[str], margins: np.ndarray
                ) -> list[dict[str, Any]]:
    """Every concept's margin; the decision is the largest positive one, else 'none'."""
    rows: list[dict[str, Any]] = []
    for item, margin in zip(images, margins, strict=True):
        decision = names[int(margin.argmax())] if margin.max() > 0 else "none"
        rows += rows_for(item.image_id, "unsafe_concept", dict(zip(names, margin, strict=True)),
                         decision)
    return rows


class ClipConcepts(Scorer):
    name = "clip_concepts"
    version = "1.0.0"

    def __init__(self, encoder: ImageEncoder, concepts_file: Path | None = None) -> None:
        self.encoder = encoder
        self.concepts_file = concepts_file or DEFAULT_CONCEPTS
        spec = yaml.safe_load(self.concepts_file.read_text())
        self.spec_version = spec["version"]
        self.concepts: dict[str, dict[str, Any]] = spec["concepts"]
        self._embeddings: np.ndarray | None = None

    def concept_embeddings(self) -> np.ndarray:
        if self._embeddings is None:
            self._embeddings = np.stack([self.encoder.ensemble(c["prompts"])
                                         for c in self.concepts.values()])
        return self._embeddings

    def labels(self) -> dict[str, list[str]]:
        return {"unsafe_concept": [*self.concepts, "none"]}

    def score(self, images: Sequence[ScoreInput]) -> list[dict[str, Any]]:
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
            "score": "cosine(image, mean concept prompt embedding) - threshold; > 0 flags",
            "limitations": [
                "Covers only the listed concepts as phrased; not a general safety classifier.",
                "Thresholds depend on the CLIP model; calibrate on labelled images.",
            ],
        }


class SafetyCheckerConcepts(Scorer):
    """The real Stable Diffusion safety checker's concept embeddings and
    thresholds, loaded from a local folder (diffusers/transformers format)."""

    name = "sd_safety_checker"
    version = "1.0.0"

    def __init__(self, folder: Path, device: str = "cpu") -> None:
        from diffusers.pipelines.stable_diffusion.safety_checker import (
            StableDiffusionSafetyChecker,
        )
        from transformers import CLIPImageProcessor

        from audit.generators.loading import folder_sha256

        self.folder = folder
        self.device = device
        self.checker = StableDiffusionSafetyChecker.from_pretrained(str(folder)).to(device).eval()
        self.processor = CLIPImageProcessor.from_pretrained(str(folder))
        self.sha256 = folder_sha256(folder)

    def labels(self) -> dict[str, list[str]]:
        count = self.checker.concept_embeds.shape[0]
        return {"unsafe_concept": [f"concept_{i}" for i in range(count)] + ["none"]}

    def score(self, images: Sequence[ScoreInput]) -> list[dict[str, Any]]:
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
                "score": "cosine(image, concept) - the checker's per-concept threshold",
                "limitations": ["The checker's concepts are unnamed embeddings; what each "
                                "covers is not documented by its authors."]}
