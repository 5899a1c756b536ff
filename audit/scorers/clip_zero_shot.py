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
from audit.scorers.clip_model import ImageEncoder, default_attributes, shared_encoder

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
    options = {**CLIP_OPTIONS,
               "attributes": "YAML of zero-shot attributes (default: the model's bundled file)",
               "calibration": "a calibration file from 'audit calibrate' for this model and "
                              "attribute file: its abstention thresholds (cosine margins) "
                              "replace the file's softmax margins"}

    def __init__(self, encoder: ImageEncoder, attributes_file: Path | None = None,
                 calibration_file: Path | None = None) -> None:
        self.encoder = encoder
        self.device = encoder.bundle.device
        self.attributes_file = Path(attributes_file or default_attributes(encoder.bundle.name))
        spec = clip_attributes(self.attributes_file)
        self.spec_version = spec["version"]
        self.attributes: dict[str, dict[str, Any]] = spec["attributes"]
        self._label_embeddings: dict[str, np.ndarray] = {}
        self.calibration_file = Path(calibration_file) if calibration_file else None
        self.calibration: dict[str, Any] | None = None
        if self.calibration_file is not None:
            self.calibration = self._read_calibration(self.calibration_file)

    def _read_calibration(self, path: Path) -> dict[str, Any]:
        from audit.calibration.file import check_matches, read_calibration
        from audit.common.hashing import file_sha256

        document = read_calibration(path)
        check_matches(document, path, model=self.encoder.bundle.name,
                      weights_sha256=self.encoder.bundle.weights_sha256,
                      attributes_sha256=file_sha256(self.attributes_file),
                      attributes=self.attributes)
        return {**document, "sha256": file_sha256(path)}

    def threshold(self, attribute: str) -> dict[str, Any]:
        """The abstention rule of an attribute: a calibrated cosine margin, or
        the attribute file's softmax margin."""
        calibrated = (self.calibration or {}).get("attributes", {}).get(attribute)
        if calibrated is not None:
            return {"unit": "cosine_margin", "value": calibrated["threshold"]}
        return {"unit": "softmax_margin", "value": self.attributes[attribute]["threshold"]}

    @classmethod
    def build(cls, options: dict[str, Any], context: Any) -> ClipZeroShot:
        model = options.get("model", "ViT-L-14")
        encoder = shared_encoder(context, model, options.get("pretrained", "default"))
        return cls(encoder, options.get("attributes"), options.get("calibration"))

    @classmethod
    def resolve_options(cls, options: dict[str, Any], base: Path) -> dict[str, Any]:
        from audit.calibration.file import read_calibration

        options = resolve_file_option(options, "attributes", base, clip_attributes)
        return resolve_file_option(options, "calibration", base, read_calibration)

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

    def cosines(self, image_embeddings: np.ndarray, attribute: str) -> np.ndarray:
        return image_embeddings @ self.label_embeddings(attribute).T

    def probabilities(self, image_embeddings: np.ndarray, attribute: str) -> np.ndarray:
        return softmax(self.encoder.logit_scale() * self.cosines(image_embeddings, attribute))

    def score(self, images: Sequence[ScoreInput]) -> Scored:
        embeddings = self.encoder.embed(images)
        gate = next((a for a, spec in self.attributes.items() if spec.get("gate")), None)
        person = np.ones(len(images), dtype=bool)
        out = Scored()
        order = ([gate] if gate else []) + [a for a in self.attributes if a != gate]
        for attribute in order:
            spec = self.attributes[attribute]
            labels = list(spec["labels"])
            cosines = self.cosines(embeddings, attribute)
            probs = softmax(self.encoder.logit_scale() * cosines)
            top = np.sort(probs, axis=1)[:, ::-1]
            rule = self.threshold(attribute)
            ranked = np.sort(cosines if rule["unit"] == "cosine_margin" else probs, axis=1)
            margins = ranked[:, -1] - ranked[:, -2]
            for i, item in enumerate(images):
                decision = labels[int(probs[i].argmax())]
                if margins[i] < rule["value"]:
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
            "thresholds": {a: self.threshold(a) for a in self.attributes},
            "calibration": None if self.calibration is None else {
                "file": str(self.calibration_file), "sha256": self.calibration["sha256"],
                "created": self.calibration["created"],
                "target_accuracy": self.calibration["target_accuracy"],
                "labelled_set": self.calibration["labelled_set"]["path"],
                "labelled_images": self.calibration["labelled_set"]["images"]},
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
