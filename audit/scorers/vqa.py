"""Does an image show what its prompt asked for? A visual-question-answering
model's reading: "Does this image show a nurse?" -> P(yes).

VQA-based scores (VQAScore, TIFA, DSG) agree with people better than
CLIPScore, at the price of a larger model; none is bundled. The model is a
transformers folder the user has, with a classification head whose answers
include "yes" and "no" (ViLT-VQA and its kind); P(yes) is the softmax over
those two answers' logits. It decides the same ``on_class`` attribute as the
``adherence`` scorer (``on`` at P(yes) >= 0.5 + margin, ``off`` at <= 0.5 -
margin, else ``unclear``), so when both run the agreement table compares
them and ``audit/data/attributes/answers.yaml`` says which one the
statistics use.
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
    pil_image,
)
from audit.errors import InvalidInput, UsageError
from audit.scorers.adherence import with_article
from audit.scorers.prompt_book import PromptBook

QUESTION = "Does this image show {value}?"


class VisualQuestionAnswering(Scorer):
    name = "vqa"
    version = "0.1.0"
    options = {"model": "a local transformers VQA folder whose answers include yes and no "
                        "(e.g. a ViLT-VQA checkpoint)",
               "question": f"the question, with {{value}} for the slot value and its article "
                           f"(default '{QUESTION}')",
               "slot": "the suite slot whose value the image should show (default occupation)",
               "margin": "P(yes) must be at least 0.5 + margin for on, at most 0.5 - margin "
                         "for off (default 0.1)"}

    def __init__(self, model: Any, processor: Any, book: PromptBook, *, folder: str,
                 sha256: str | None, device: str = "cpu", question: str = QUESTION,
                 slot: str = "occupation", margin: float = 0.1) -> None:
        labels = {str(v).lower(): int(k) for k, v in model.config.id2label.items()}
        if "yes" not in labels or "no" not in labels:
            raise InvalidInput("the VQA model's answers (config id2label) do not include both "
                               "'yes' and 'no'", where=folder)
        if "{value}" not in question:
            raise UsageError("the vqa question must contain {value}")
        if not 0 <= margin < 0.5:
            raise UsageError(f"vqa.margin must be in [0, 0.5), got {margin}")
        self.model, self.processor, self.book = model, processor, book
        self.folder, self.sha256, self.device = folder, sha256, device
        self.question, self.slot, self.margin = question, slot, float(margin)
        self.yes, self.no = labels["yes"], labels["no"]

    @classmethod
    def build(cls, options: dict[str, Any], context: Any) -> VisualQuestionAnswering:
        from audit.common.devices import pick_device

        book = PromptBook.required(context, "vqa")
        folder = options.get("model")
        if not folder:
            raise UsageError("the vqa scorer needs a model folder: -S vqa.model=PATH (no VQA "
                             "weights are bundled)")
        device = pick_device(context.device)
        model, processor, sha = load_vqa(Path(str(folder)), device)
        return cls(model, processor, book, folder=str(folder), sha256=sha, device=device,
                   question=str(options.get("question", QUESTION)),
                   slot=str(options.get("slot", "occupation")),
                   margin=float(options.get("margin", 0.1)))

    def labels(self) -> dict[str, list[str]]:
        return {ON_CLASS: [*ON_CLASS_LABELS, "unclear"]}

    def outputs(self) -> list[Output]:
        return [Output(ON_CLASS, "p_yes", "probability", "higher",
                       "softmax over the model's 'yes' and 'no' answers to the question about "
                       "the slot value the prompt names", per_label=False)]

    def p_yes(self, images: list[Any], questions: list[str]) -> np.ndarray:
        import torch

        inputs = self.processor(images=images, text=questions, return_tensors="pt",
                                padding=True).to(self.device)
        with torch.inference_mode():
            logits = self.model(**inputs).logits.float()
        pair = torch.stack([logits[:, self.yes], logits[:, self.no]], dim=1)
        return torch.softmax(pair, dim=1)[:, 0].cpu().numpy()

    def score(self, images: Sequence[ScoreInput]) -> Scored:
        out = Scored()
        asked = []
        for item in images:
            found = self.book.lookup(item.image_id)
            value = found[1].get(self.slot) if found else None
            if value:
                asked.append((item, self.question.format(value=with_article(value))))
        if not asked:
            return out
        p = self.p_yes([pil_image(item) for item, _ in asked], [q for _, q in asked])
        for (item, _), yes in zip(asked, p, strict=True):
            label = ("on" if yes >= 0.5 + self.margin else
                     "off" if yes <= 0.5 - self.margin else "unclear")
            out.decisions.append(Decision(item.image_id, ON_CLASS, label,
                                          float(max(yes, 1 - yes))))
            out.measurements.append(Measurement(item.image_id, ON_CLASS, "p_yes", None,
                                                float(yes)))
        return out

    def card(self) -> dict[str, Any]:
        return {
            "name": self.name, "version": self.version, "kind": "visual question answering",
            "model": self.folder, "weights_sha256": self.sha256,
            "architecture": type(self.model).__name__, "question": self.question,
            "slot": self.slot, "margin": self.margin, "labels": self.labels(),
            "confidence": "P(yes) for on, 1 - P(yes) for off, the larger for unclear",
            "outputs": [vars(o) for o in self.outputs()],
            "limitations": [
                "A VQA model answers the question it is asked: the question's wording and "
                "the slot value's article change P(yes).",
                "Answers come from the model's training data and carry its biases; compare "
                "with the adherence scorer (agreement table) and with human labels.",
            ],
        }


def load_vqa(folder: Path, device: str) -> tuple[Any, Any, str | None]:
    """A transformers VQA model and its processor from a local folder,
    never from the hub."""
    from transformers import AutoModelForVisualQuestionAnswering, AutoProcessor

    from audit.common.hashing import folder_sha256

    if not folder.is_dir():
        raise UsageError("VQA model folder not found", where=str(folder))
    try:
        processor = AutoProcessor.from_pretrained(folder, local_files_only=True)
        model = AutoModelForVisualQuestionAnswering.from_pretrained(folder,
                                                                    local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        first = (str(exc).splitlines() or [""])[0][:200]
        raise InvalidInput(f"not a transformers VQA model folder ({type(exc).__name__}: "
                           f"{first})", where=str(folder)) from None
    return model.to(device).eval(), processor, folder_sha256(folder)
