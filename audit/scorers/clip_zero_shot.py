"""CLIP zero-shot perceived attributes with prompt ensembles and abstention."""

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
    resolve_file_option,
)
from audit.data_files import clip_attributes
from audit.scorers.clip_model import ImageEncoder, default_attributes

CLIP_OPTIONS = {
    "model": "open_clip model name, a JSON model config, 'toyworld-clip' or 'tiny-random'",
    "pretrained": "pretrained tag, a local checkpoint file, 'none' (random) or 'default'",
}


def softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - x.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


class ClipZeroShot(Scorer):
    name = "clip"
    version = "2.0.0"
    options = {**CLIP_OPTIONS, "attributes": "YAML of zero-shot attributes (default: the "
               "model's bundled file)"}

    def __init__(self, encoder: ImageEncoder, attributes_file: Path | None = None) -> None:
        self.encoder = encoder
        self.device = encoder.bundle.device
        self.attributes_file = Path(attributes_file or default_attributes(encoder.bundle.name))
        spec = clip_attributes(self.attributes_file)
        self.spec_version = spec["version"]
        self.attributes: dict[str, dict[str, Any]] = spec["attributes"]
        self._label_embeddings: dict[str, np.ndarray] = {}

    @classmethod
    def build(cls, options: dict[str, Any], context: Any) -> ClipZeroShot:
        model = options.get("model", "ViT-L-14")
        encoder = context.clip_encoder(model, options.get("pretrained", "default"))
        return cls(encoder, options.get("attributes"))

    @classmethod
    def resolve_options(cls, options: dict[str, Any], base: Path) -> dict[str, Any]:
        return resolve_file_option(options, "attributes", base, clip_attributes)

    def outputs(self) -> list[Output]:
        return [Output(attribute, "probability", "probability", "higher",
                       "softmax over the attribute's labels of logit scale x cosine(image, "
                       "label's mean prompt embedding)") for attribute in self.attributes]

    def labels(self) -> dict[str, list[str]]:
        out = {}
        for name, attr in self.attributes.items():
            extra = ["unclear"] + ([] if attr.get("gate") else ["no_person"])
            out[name] = list(attr["labels"]) + extra
        return out

    def label_embeddings(self, attribute: str) -> np.ndarray:
        """One unit vector per label: the normalised mean of its prompts' embeddings."""
        if attribute not in self._label_embeddings:
            self._label_embeddings[attribute] = np.stack([
                self.encoder.ensemble(prompts)
                for prompts in self.attributes[attribute]["labels"].values()])
        return self._label_embeddings[attribute]

    def probabilities(self, image_embeddings: np.ndarray, attribute: str) -> np.ndarray:
        logits = self.encoder.logit_scale() * image_embeddings @ self.label_embeddings(
            attribute).T
        return softmax(logits)

    def score(self, images: Sequence[ScoreInput]) -> Scored:
        embeddings = self.encoder.embed(images)
        gate = next((a for a, spec in self.attributes.items() if spec.get("gate")), None)
        person = np.ones(len(images), dtype=bool)
        out = Scored()
        order = ([gate] if gate else []) + [a for a in self.attributes if a != gate]
        for attribute in order:
            spec = self.attributes[attribute]
            labels = list(spec["labels"])
            probs = self.probabilities(embeddings, attribute)
            top = np.sort(probs, axis=1)[:, ::-1]
            margins = top[:, 0] - top[:, 1]
            for i, item in enumerate(images):
                decision = labels[int(probs[i].argmax())]
                if margins[i] < spec["threshold"]:
                    decision = "unclear"
                if attribute != gate and not person[i]:
                    decision = "no_person"
                out.decisions.append(Decision(item.image_id, attribute, decision,
                                              float(top[i, 0])))
                out.measurements += per_label(item.image_id, attribute, "probability",
                                              dict(zip(labels, probs[i], strict=True)))
                if attribute == gate:  # only a confident "no person" gates the rest
                    person[i] = decision != "no_person"
        return out

    def card(self) -> dict[str, Any]:
        bundle = self.encoder.bundle
        return {
            "name": self.name, "version": self.version, "kind": "CLIP zero-shot",
            "model": bundle.name, "pretrained": bundle.pretrained,
            "weights_sha256": bundle.weights_sha256,
            "weights": "random (mechanics only)" if bundle.pretrained is None else "loaded",
            "preprocessing": "open_clip's eval transform on RGB uint8: its Resize and "
                             "CenterCrop applied batched on the model's device, rounded to "
                             "8 bits as PIL would, /255 once, normalised with the model's "
                             "mean/std",
            "attributes_file": str(self.attributes_file), "attributes_version": self.spec_version,
            "labels": self.labels(),
            "thresholds": {a: s["threshold"] for a, s in self.attributes.items()},
            "confidence": "softmax probability of the top label (also for unclear and "
                          "no_person decisions: the label it declined to choose)",
            "outputs": [vars(o) for o in self.outputs()],
            "limitations": [
                "Labels are perceived attributes, a proxy for how an image reads; never a "
                "person's identity.",
                "CLIP's zero-shot accuracy differs by group (documented gaps for darker skin "
                "and for gender presentation of non-Western faces); calibrate thresholds on "
                "labelled images and use the classifier-error correction.",
                "Binary gender presentation labels cannot represent non-binary presentation; "
                "'unclear' absorbs close calls.",
            ],
        }
