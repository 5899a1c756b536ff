"""Does an image show what its prompt asked for? Two CLIP readings.

CLIPScore (Hessel et al., EMNLP 2021): 2.5 x max(cosine(image, prompt), 0).
It reads a prompt as a bag of words and stops at the text encoder's context
(77 tokens for OpenAI's CLIP); a longer prompt is flagged, since its tail
was never read.

On-class: for the slot the prompt fills (``occupation`` by default), CLIP
zero-shot over every value that slot takes in the suite plus "none of
them": ``on`` when the named value wins, ``off`` when another or none wins,
``unclear`` when the margin between the top two is below the prompt file's
softmax margin. A calibration file from ``audit calibrate`` (a run with
human on_class labels) replaces that with a cosine margin chosen for a
target accuracy, taken between the named class and the best other one.
Images whose prompt fills no such slot get CLIPScore only.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from audit.api.scorer import (
    ON_CLASS,
    ON_CLASS_LABELS,
    Decision,
    Measurement,
    Output,
    Scored,
    ScoreInput,
    Scorer,
)
from audit.scorers.clip_model import ImageEncoder, default_adherence, shared_encoder
from audit.scorers.clip_zero_shot import CLIP_OPTIONS, softmax
from audit.scorers.prompt_book import PromptBook

CLIPSCORE_WEIGHT = 2.5
NONE = "none"


def with_article(value: str) -> str:
    return f"{'an' if value[:1].lower() in 'aeiou' else 'a'} {value}"


class Adherence(Scorer):
    name = "adherence"
    version = "0.1.0"
    options = {**CLIP_OPTIONS,
               "slot": "the suite slot whose value the image should show (default occupation)",
               "prompts": "YAML of class and none prompts (default: the model's bundled file)",
               "calibration": "a calibration file from 'audit calibrate' with an on_class "
                              "threshold for this model, prompt file and suite"}

    def __init__(self, encoder: ImageEncoder, book: PromptBook, *, slot: str = "occupation",
                 prompts_file: Path | None = None, calibration_file: Path | None = None
                 ) -> None:
        from audit.data_files import adherence_prompts

        self.encoder = encoder
        self.device = encoder.bundle.device
        self.book = book
        self.slot = slot
        self.prompts_file = Path(prompts_file or default_adherence(encoder.bundle.name))
        spec = adherence_prompts(self.prompts_file)
        self.spec_version = spec["version"]
        self.class_prompts: list[str] = spec["class_prompts"]
        self.none_prompts: list[str] = spec["none_prompts"]
        self.threshold_margin = float(spec["threshold"])
        self.classes = list(book.slot_values.get(slot, []))
        self._class_embeddings: np.ndarray | None = None
        self.calibration_file = Path(calibration_file) if calibration_file else None
        self.calibration = self._read_calibration() if self.calibration_file else None

    def _read_calibration(self) -> dict[str, Any] | None:
        """The file's on_class part; None when it calibrates only the clip
        scorer (``--calibration`` gives one file to both)."""
        from audit.calibration.file import check_on_class, read_calibration
        from audit.common.hashing import file_sha256

        document = read_calibration(self.calibration_file)
        if ON_CLASS not in document["attributes"]:
            return None
        check_on_class(document, self.calibration_file, model=self.encoder.bundle.name,
                       weights_sha256=self.encoder.bundle.weights_sha256,
                       prompts_sha256=file_sha256(self.prompts_file), slot=self.slot,
                       classes=self.classes)
        return {**document["attributes"][ON_CLASS], "sha256": file_sha256(self.calibration_file),
                "created": document["created"], "target_accuracy": document["target_accuracy"],
                "labelled_set": document["labelled_set"]}

    def threshold(self) -> dict[str, Any]:
        if self.calibration is not None:
            return {"unit": "cosine_margin", "value": self.calibration["threshold"],
                    "between": "the named class and the best other class or none"}
        return {"unit": "softmax_margin", "value": self.threshold_margin,
                "between": "the top two classes"}

    @classmethod
    def build(cls, options: dict[str, Any], context: Any) -> Adherence:
        book = PromptBook.required(context, "adherence")
        model = options.get("model", "ViT-L-14")
        encoder = shared_encoder(context, model, options.get("pretrained", "default"))
        return cls(encoder, book, slot=str(options.get("slot", "occupation")),
                   prompts_file=options.get("prompts"),
                   calibration_file=options.get("calibration"))

    @classmethod
    def resolve_options(cls, options: dict[str, Any], base: Path) -> dict[str, Any]:
        from audit.api.scorer import resolve_file_option
        from audit.calibration.file import read_calibration
        from audit.data_files import adherence_prompts

        options = resolve_file_option(options, "prompts", base, adherence_prompts)
        return resolve_file_option(options, "calibration", base, read_calibration)

    def labels(self) -> dict[str, list[str]]:
        return {ON_CLASS: [*ON_CLASS_LABELS, "unclear"]}

    def outputs(self) -> list[Output]:
        return [
            Output(ON_CLASS, "clipscore", "clipscore", "higher",
                   f"{CLIPSCORE_WEIGHT} x max(cosine(image, prompt), 0) (Hessel et al.)",
                   per_label=False),
            Output(ON_CLASS, "prompt_truncated", "boolean", "none",
                   "1 when the prompt is longer than the text encoder's context and its tail "
                   "was not read", per_label=False),
            Output(ON_CLASS, "class_probability", "probability", "higher",
                   "softmax over the slot's values and 'none' of logit scale x cosine(image, "
                   "class's mean prompt embedding)"),
        ]

    def class_embeddings(self) -> np.ndarray:
        if self._class_embeddings is None:
            rows = [self.encoder.ensemble([t.format(value=with_article(c))
                                           for t in self.class_prompts]) for c in self.classes]
            rows.append(self.encoder.ensemble(self.none_prompts))
            self._class_embeddings = np.stack(rows)
        return self._class_embeddings

    def _tokens(self, prompt: str) -> int | None:
        """Tokens the prompt takes with start and end markers, when the
        tokenizer can say."""
        encode = getattr(self.encoder.bundle.tokenizer, "encode", None)
        return len(encode(prompt)) + 2 if callable(encode) else None

    def context_length(self) -> int | None:
        return getattr(self.encoder.bundle.tokenizer, "context_length", None)

    def score(self, images: Sequence[ScoreInput]) -> Scored:
        out = Scored()
        asked = [self.book.lookup(item.image_id) for item in images]
        known = [i for i, a in enumerate(asked) if a is not None]
        if not known:
            return out
        embeddings = self.encoder.embed([images[i] for i in known])
        prompts = [asked[i][0] for i in known]
        unique = sorted(set(prompts))
        text = dict(zip(unique, self.encoder.embed_texts(unique), strict=True))
        limit = self.context_length()
        named_index = {c: k for k, c in enumerate(self.classes)}
        labels = [*self.classes, NONE]
        cosines = embeddings @ self.class_embeddings().T if self.classes else None
        probabilities = (softmax(self.encoder.logit_scale() * cosines)
                         if cosines is not None else None)
        for row, i in enumerate(known):
            image_id, (prompt, slots) = images[i].image_id, asked[i]
            cosine = float(embeddings[row] @ text[prompt])
            out.measurements.append(Measurement(image_id, ON_CLASS, "clipscore", None,
                                                CLIPSCORE_WEIGHT * max(cosine, 0.0)))
            tokens = self._tokens(prompt)
            if tokens is not None and limit:
                out.measurements.append(Measurement(image_id, ON_CLASS, "prompt_truncated",
                                                    None, float(tokens > limit)))
            named = slots.get(self.slot)
            if probabilities is None or named not in named_index:
                continue
            p = probabilities[row]
            top = int(np.argmax(p))
            decision = self._decide(p, cosines[row], named_index[named])
            out.decisions.append(Decision(image_id, ON_CLASS, decision, float(p[top])))
            out.measurements += [Measurement(image_id, ON_CLASS, "class_probability", label,
                                             float(value))
                                 for label, value in zip(labels, p, strict=True)]
        return out

    def _decide(self, p: np.ndarray, cosines: np.ndarray, named: int) -> str:
        if self.calibration is not None:
            from audit.calibration.fit import on_class_margins

            margin = float(on_class_margins(cosines[None], np.array([named]))[0])
            return ("unclear" if abs(margin) < self.calibration["threshold"]
                    else "on" if margin > 0 else "off")
        first, second = np.sort(p)[::-1][:2]
        return ("unclear" if first - second < self.threshold_margin
                else "on" if int(np.argmax(p)) == named else "off")

    def card(self) -> dict[str, Any]:
        bundle = self.encoder.bundle
        return {
            "name": self.name, "version": self.version, "kind": "CLIP prompt adherence",
            "model": bundle.name, "pretrained": bundle.pretrained,
            "weights_sha256": bundle.weights_sha256,
            "weights": "random (mechanics only)" if bundle.pretrained is None else "loaded",
            "slot": self.slot, "classes": self.classes,
            "prompts_file": str(self.prompts_file), "prompts_version": self.spec_version,
            "threshold": self.threshold(),
            "calibration": None if self.calibration is None else {
                "file": str(self.calibration_file), "sha256": self.calibration["sha256"],
                "created": self.calibration["created"],
                "target_accuracy": self.calibration["target_accuracy"],
                "target_met": self.calibration["target_met"],
                "labelled_set": self.calibration["labelled_set"]["path"],
                "labelled_images": self.calibration["n"]},
            "context_length": self.context_length(),
            "labels": self.labels(),
            "outputs": [vars(o) for o in self.outputs()],
            "limitations": [
                "CLIPScore reads a prompt as a bag of words (a red cube on a blue sphere "
                "scores like a blue cube on a red sphere) and ignores what lies past the "
                "text encoder's context.",
                "On-class is CLIP's reading of the image against the suite's own values: a "
                "class the suite does not list can only be 'none'.",
            ],
        }
