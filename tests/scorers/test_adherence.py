"""The adherence scorer: CLIPScore as Hessel et al. define it, the truncation
flag, and on toy-world renders (whose occupation is known) an on-class
decision that is right; a folder without prompts is refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit.api.scorer import ScoreInput
from audit.scorers.prompt_book import PromptBook
from tests.conftest import run_cli

OCCUPATIONS = ["doctor", "nurse", "chef", "firefighter", "pilot", "teacher", "ceo", "janitor"]


def renders(occupation: str, n: int, seed: int) -> list[np.ndarray]:
    from audit.toyworld.world import render, sample

    rng = np.random.default_rng(seed)
    return [np.asarray(render(sample(occupation, rng))) for _ in range(n)]


@pytest.fixture(scope="module")
def make():
    from audit.scorers import make_scorers

    def build(book):
        (scorer,) = make_scorers(["adherence"], options={"adherence": {"model": "toyworld-clip"}},
                                 device="cpu", prompts=book)
        return scorer

    return build


def test_clipscore_is_hessel_et_al_and_long_prompts_are_flagged(make):
    long_prompt = "a photo of a nurse " + " ".join(["with long hair"] * 12)
    images = renders("nurse", 2, seed=0)
    book = PromptBook(by_image={"0": ("a photo of a nurse", {"occupation": "nurse"}),
                                "1": (long_prompt, {"occupation": "nurse"})},
                      slot_values={"occupation": OCCUPATIONS})
    scorer = make(book)
    scored = scorer.score([ScoreInput("0", images[0]), ScoreInput("1", images[1])])
    rows = pd.DataFrame([vars(m) for m in scored.measurements])
    image = scorer.encoder.embed([ScoreInput("0", images[0]), ScoreInput("1", images[1])])
    text = scorer.encoder.embed_texts(["a photo of a nurse", long_prompt])
    expected = 2.5 * np.maximum((image * text).sum(1), 0)
    got = rows[rows.quantity == "clipscore"].set_index("image_id").value
    np.testing.assert_allclose(got.loc[["0", "1"]], expected, rtol=1e-6)
    truncated = rows[rows.quantity == "prompt_truncated"].set_index("image_id").value
    assert scorer.context_length() == 32  # the toy CLIP's text context
    assert truncated.to_dict() == {"0": 0.0, "1": 1.0}


def test_on_class_decisions_on_renders_of_known_occupation(make):
    """Every render asked for as its own occupation, and as the next one:
    the first should read 'on', the second 'off'."""
    book = PromptBook(slot_values={"occupation": OCCUPATIONS})
    items = []
    for k, occupation in enumerate(OCCUPATIONS):
        other = OCCUPATIONS[(k + 1) % len(OCCUPATIONS)]
        for i, image in enumerate(renders(occupation, 10, seed=k)):
            for asked in (occupation, other):
                image_id = f"{occupation}/{i}/{asked}"
                book.by_image[image_id] = (f"a photo of a {asked}", {"occupation": asked})
                items.append((ScoreInput(image_id, image), asked == occupation))
    scored = make(book).score([item for item, _ in items])
    said = {d.image_id: d.label for d in scored.decisions}
    truth = {item.image_id: "on" if same else "off" for item, same in items}
    decided = [i for i in truth if said[i] != "unclear"]
    accuracy = np.mean([said[i] == truth[i] for i in decided])
    assert len(decided) >= 0.8 * len(truth) and accuracy >= 0.9, (len(decided), accuracy)


def test_images_without_the_slot_get_clipscore_only(make):
    book = PromptBook(by_image={"0": ("a photo of a person", {})},
                      slot_values={"occupation": OCCUPATIONS})
    scored = make(book).score([ScoreInput("0", renders("chef", 1, 3)[0])])
    assert scored.decisions == []
    assert {m.quantity for m in scored.measurements} == {"clipscore", "prompt_truncated"}


def test_a_folder_has_no_prompts(tmp_path):
    from PIL import Image

    (tmp_path / "images").mkdir()
    Image.fromarray(renders("chef", 1, 4)[0]).save(tmp_path / "images" / "a.png")
    result = run_cli("score", "--images", str(tmp_path / "images"), "--out",
                     str(tmp_path / "s.parquet"), "--scorers", "adherence",
                     "-S", "adherence.model=toyworld-clip")
    assert result.returncode == 2 and "score a run" in result.stderr


def test_a_run_is_judged_against_its_suite_while_generating(tmp_path):
    import audit

    run = tmp_path / "run"
    audit.run(model="toyworld", templates=["a photo of {occupation|a}"],
              slots={"occupation": ["nurse", "chef"]}, n=3, out=run,
              scorers=["clip", "adherence"], device="cpu",
              scorer_options={"adherence": {"model": "toyworld-clip"}})
    decisions = pd.read_parquet(run / "scores" / "decisions.parquet")
    judged = decisions[decisions.scorer == "adherence"]
    assert len(judged) == 6 and set(judged.label) <= {"on", "off", "unclear"}
    from audit.rundir import RunDir

    card = RunDir(run).card().scorer("adherence")
    assert card["classes"] == ["nurse", "chef"] and card["slot"] == "occupation"
    # the statistics carry the on-class rate per prompt and the conditional shares
    stats = RunDir(run).read_stats()
    assert {r["prompt"] for r in stats["adherence"]} == {"a photo of a nurse",
                                                        "a photo of a chef"}
    for row in stats["adherence"]:
        assert row["judged"] == 3 and row["on"] + row["off"] + row["unclear"] == 3
    assert {r["attribute"] for r in stats["conditional"]} <= {"presentation", "tone_group",
                                                             "age_group"}
