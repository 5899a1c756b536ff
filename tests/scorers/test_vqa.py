"""The vqa scorer on a tiny random ViLT built from config: P(yes) is the
softmax over the model's yes and no answers, the decision follows the
margin, and a folder without yes/no answers or without prompts is refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from audit.api.scorer import ScoreInput
from audit.errors import InvalidInput, UsageError
from audit.scorers.prompt_book import PromptBook
from tests.scorers.tiny_vqa import save_tiny_vqa

BOOK = PromptBook(by_image={"0": ("a photo of a nurse", {"occupation": "nurse"}),
                            "1": ("a photo of a chef", {"occupation": "chef"}),
                            "2": ("a photo", {})},
                  slot_values={"occupation": ["nurse", "chef"]})


def build(folder, **options):
    from audit.scorers import make_scorers

    (scorer,) = make_scorers(["vqa"], options={"vqa": {"model": str(folder), **options}},
                             device="cpu", prompts=BOOK)
    return scorer


def images():
    from skimage import data

    photo = data.astronaut()
    return [ScoreInput("0", photo[::4, ::4]), ScoreInput("1", photo[100:300, 50:200]),
            ScoreInput("2", photo[::8, ::8])]


def test_p_yes_is_the_softmax_over_yes_and_no(tmp_path):
    from PIL import Image
    from transformers import AutoModelForVisualQuestionAnswering, AutoProcessor

    folder = save_tiny_vqa(tmp_path / "vqa")
    scorer = build(folder)
    scored = scorer.score(images())
    p = {m.image_id: m.value for m in scored.measurements}
    assert set(p) == {"0", "1"}  # "a photo" names no occupation
    processor = AutoProcessor.from_pretrained(folder)
    model = AutoModelForVisualQuestionAnswering.from_pretrained(folder).eval()
    inputs = processor(images=Image.fromarray(images()[0].image),
                       text="Does this image show a nurse?", return_tensors="pt")
    with torch.no_grad():
        logits = model(**inputs).logits[0]
    expected = torch.softmax(torch.stack([logits[0], logits[1]]), 0)[0].item()
    assert p["0"] == pytest.approx(expected, rel=1e-4)
    card = scorer.card()
    assert card["architecture"] == "ViltForQuestionAnswering" and len(card["weights_sha256"]) == 64


@pytest.mark.parametrize("lean,label", [("yes", "on"), ("no", "off")])
def test_decisions_follow_p_yes(tmp_path, lean, label):
    scorer = build(save_tiny_vqa(tmp_path / lean, lean=lean))
    scored = scorer.score(images())
    assert {d.label for d in scored.decisions} == {label}
    assert all(d.confidence > 0.99 for d in scored.decisions)


def test_the_margin_decides_close_calls(tmp_path):
    folder = save_tiny_vqa(tmp_path / "vqa")
    p = [m.value for m in build(folder).score(images()).measurements]
    assert all(0.4 < v < 0.6 for v in p)  # an untrained model is unsure
    assert {d.label for d in build(folder).score(images()).decisions} == {"unclear"}
    sure = {d.label for d in build(folder, margin=0).score(images()).decisions}
    assert sure == {"on" if v >= 0.5 else "off" for v in p}


def test_what_the_scorer_cannot_use_is_refused(tmp_path):
    with pytest.raises(InvalidInput, match="'yes' and 'no'"):
        build(save_tiny_vqa(tmp_path / "colours", answers=("red", "blue")))
    with pytest.raises(UsageError, match="needs a model folder"):
        build("")
    with pytest.raises(UsageError, match="not found"):
        build(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInput, match="not a transformers VQA model folder"):
        build(tmp_path / "empty")
    from audit.scorers import make_scorers

    with pytest.raises(UsageError, match="score a run"):
        make_scorers(["vqa"], options={"vqa": {"model": str(tmp_path / "yes")}}, device="cpu")


def test_both_readings_decide_on_class_and_vqa_answers(tmp_path):
    """With adherence and vqa on one run, the statistics use the VQA model's
    decisions (answers.yaml) and the agreement table compares the two."""
    import audit
    from audit.rundir import RunDir

    run = tmp_path / "run"
    folder = save_tiny_vqa(tmp_path / "vqa", lean="no")
    audit.run(model="toyworld", templates=["a photo of {occupation|a}"],
              slots={"occupation": ["nurse", "chef"]}, n=3, out=run,
              scorers=["clip", "adherence", "vqa"], device="cpu",
              scorer_options={"adherence": {"model": "toyworld-clip"},
                              "vqa": {"model": str(folder)}})
    stats = RunDir(run).read_stats()
    assert stats["source"]["answers"]["on_class"] == "vqa"
    for row in stats["adherence"]:
        assert row["scorer"] == "vqa" and (row["on"], row["off"]) == (0, 3)
    assert any(a["attribute"] == "on_class" for a in stats["agreement"])
    assert np.isfinite([r["clipscore_mean"] for r in stats["adherence"]]).all()
