"""Calibrating the adherence scorer's on-class decision on a run's human
on_class labels, and what the statistics do with those labels: by hand on
a small matrix, then on the toy model's images labelled by the pixel
readers standing in for a person."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from audit.calibration.fit import calibrate_on_class, on_class_margins
from tests.conftest import run_cli

OCCUPATIONS = ["doctor", "nurse", "chef", "firefighter", "pilot", "teacher", "ceo", "janitor"]


def test_the_on_off_margin_is_the_named_class_against_the_best_other():
    """Columns: three classes and none. Image 0 asked for class 0 and reads
    it; image 1 asked for class 2, which trails two others that are close
    to each other: a clear 'off' (by 0.31), though the top two are 0.01 apart."""
    cosines = np.array([[0.50, 0.20, 0.10, 0.15],
                        [0.40, 0.39, 0.09, 0.20],
                        [0.30, 0.31, 0.20, 0.25]])
    named = np.array([0, 2, 0])
    np.testing.assert_allclose(on_class_margins(cosines, named), [0.30, -0.31, -0.01])
    # by |margin|: 0.31 right (off), 0.30 right (on), 0.01 wrong (read off, truth
    # on). Target 0.6 at confidence 0.5 needs 2 decided images (0.6^2 <= 0.5);
    # 2 of 2: P(X >= 2 | n=2, 0.6) = 0.36 passes; 2 of 3: P(X >= 2 | n=3, 0.6)
    # = 0.648 > 0.5 fails, so the threshold stops at 0.30
    record = calibrate_on_class(cosines, named, ["on", "off", "on"], target=0.6,
                                min_decided=1, confidence=0.5)
    assert record["labels"] == ["on", "off"] and record["unit"] == "cosine_margin"
    assert record["accuracy_without_threshold"] == pytest.approx(2 / 3)
    assert (record["decided"], record["target_met"]) == (2, True)
    assert record["threshold"] == pytest.approx(0.30)
    assert record["confusion"] == [[1, 0, 1], [0, 1, 0]]  # on, off, unclear per truth


@pytest.fixture(scope="module")
def labelled_run(tmp_path_factory):
    """The toy model's images of eight occupations, scored by clip and
    adherence on the toy CLIP; the readers' on/off (unclear where they cannot
    read the image) imported as a reviewer's labels for every image."""
    from PIL import Image

    import audit
    from audit.toyworld.readers import read

    folder = tmp_path_factory.mktemp("on_class")
    run = folder / "run"
    audit.run(model="toyworld", templates=["a photo of {occupation|a}"],
              slots={"occupation": OCCUPATIONS}, n=12, out=run, device="cpu",
              scorers=["clip", "adherence"], scorer_options={
                  "clip": {"model": "toyworld-clip"}, "adherence": {"model": "toyworld-clip"}})
    images = pd.read_parquet(run / "images.parquet")
    truth = {}
    for row in images.itertuples():
        reading = read(Image.open(run / row.path))
        asked = json.loads(row.slots)["occupation"]
        truth[row.image_id] = ("on" if reading.occupation == asked else "off"
                               ) if reading.readable else "unclear"
    # the review sheet asks about on_class too; the readers fill in only those rows
    sheet = folder / "sheet.csv"
    assert run_cli("labels", "export", str(run), "--sheet", "-o", str(sheet)).returncode == 0
    rows = pd.read_csv(sheet, dtype=str, keep_default_na=False)
    mine = rows.attribute == "on_class"
    assert mine.sum() == len(images) and {"presentation", "on_class"} <= set(rows.attribute)
    assert set(rows[mine].model_label) <= {"on", "off", "unclear"}
    rows.loc[mine, "label"] = rows.loc[mine, "image_id"].map(truth)
    rows.to_csv(sheet, index=False)
    result = run_cli("labels", "import", str(run), str(sheet), "--reviewer", "readers")
    assert result.returncode == 0, result.stderr
    return run, truth


def test_calibrate_a_run_s_on_class_labels_and_score_with_it(labelled_run, tmp_path):
    run, truth = labelled_run
    out = tmp_path / "calibration.json"
    result = run_cli("calibrate", str(run), "--target", "0.9", "-o", str(out))
    assert result.returncode == 0, result.stderr  # the run's CLIP, without --clip-model
    assert "on_class (adherence)" in result.stdout and "CLIP toyworld-clip" in result.stdout
    document = json.loads(out.read_text())
    spec = document["attributes"]["on_class"]
    decided_truth = [t for t in truth.values() if t in ("on", "off")]
    assert spec["n"] == len(decided_truth)  # 'unclear' gives no truth
    assert sum(map(sum, spec["confusion"])) == spec["n"]
    assert [spec["per_label"][k]["n"] for k in ("on", "off")] == [
        decided_truth.count("on"), decided_truth.count("off")]
    assert document["adherence"]["classes"] == OCCUPATIONS
    assert document["adherence"]["slot"] == "occupation"
    assert spec["target_met"], spec  # the toy CLIP reads occupations well
    assert spec["accuracy"] >= 0.9  # a passing test implies it on the labelled set
    # 0.99 cannot be shown with under 230 decided images: the most accurate
    # threshold, said not met, abstains on the close calls
    strict = tmp_path / "strict.json"
    result = run_cli("calibrate", str(run), "--clip-model", "toyworld-clip", "--target",
                     "0.99", "--min-decided", "20", "-o", str(strict))
    assert result.returncode == 0, result.stderr
    assert "NO (needs 230+ decided" in result.stdout
    spec = json.loads(strict.read_text())["attributes"]["on_class"]
    assert not spec["target_met"] and spec["threshold"] > 0 and spec["decided"] < spec["n"]

    # --clip-model configures the adherence scorer too; --calibration reaches it
    scored = run_cli("score", str(run), "--scorers", "clip,adherence", "--clip-model",
                     "toyworld-clip", "--calibration", str(strict))
    assert scored.returncode == 0, scored.stderr
    from audit.rundir import RunDir

    card = RunDir(run).card().scorer("adherence")
    assert card["threshold"]["unit"] == "cosine_margin"
    assert card["threshold"]["value"] == spec["threshold"]
    assert card["calibration"]["target_met"] is False
    decisions = pd.read_parquet(run / "scores" / "decisions.parquet")
    said = decisions[decisions.attribute == "on_class"].set_index("image_id").label
    measured = pd.read_parquet(run / "scores" / "measurements.parquet")
    probability = measured[measured.quantity == "class_probability"].pivot(
        index="image_id", columns="label", values="value")
    images = pd.read_parquet(run / "images.parquet").set_index("image_id")
    # the margin from the recorded probabilities: p = softmax(scale x cosine),
    # so differences of log p / scale are differences of cosines
    scale = _toy_logit_scale()
    columns = [*OCCUPATIONS, "none"]
    logs = np.log(probability[columns].to_numpy()) / scale
    named = np.array([columns.index(json.loads(images.slots[i])["occupation"])
                      for i in probability.index])
    margins = on_class_margins(logs, named)
    expected = np.where(np.abs(margins) < spec["threshold"], "unclear",
                        np.where(margins > 0, "on", "off"))
    assert (said.reindex(probability.index).to_numpy() == expected).all()
    assert (expected == "unclear").any()
    decided = [i for i in probability.index if said[i] != "unclear" and truth[i] != "unclear"]
    right = np.mean([said[i] == truth[i] for i in decided])
    assert right >= 0.9, right


def _toy_logit_scale() -> float:
    from audit.scorers.clip_model import load_clip

    model = load_clip("toyworld-clip", "default", device="cpu").model
    return float(model.logit_scale.exp().detach())


def test_people_s_on_class_labels_win_and_the_review_measures_the_scorer(labelled_run):
    run, truth = labelled_run
    result = run_cli("stats", str(run))
    assert result.returncode == 0, result.stderr
    stats = json.loads((run / "stats.json").read_text())
    mine = [r for r in stats["review"]["confusion"]
            if r["attribute"] == "on_class" and r["scope"] == "all"]
    assert [r["scorer"] for r in mine] == ["adherence"] and mine[0]["answers"]
    assert mine[0]["true"] == ["on", "off"]
    assert mine[0]["n"] == sum(t in ("on", "off") for t in truth.values())
    images = pd.read_parquet(run / "images.parquet")
    for row in stats["adherence"]:
        ids = images[images.item_id == row["group"]].image_id
        theirs = [truth[i] for i in ids]
        assert row["reviewed"] == len(ids)  # every image labelled (unclear too)
        assert (row["on"], row["off"], row["unclear"]) == (
            theirs.count("on"), theirs.count("off"), theirs.count("unclear"))
    corrected = [r for r in stats["corrected"] if r["attribute"] == "on_class"]
    assert {r["category"] for r in corrected} == {"on", "off"}


def test_a_calibration_for_another_suite_or_a_folder_is_refused(labelled_run, tmp_path):
    run, _ = labelled_run
    out = tmp_path / "calibration.json"
    assert run_cli("calibrate", str(run), "--clip-model", "toyworld-clip", "-o",
                   str(out)).returncode == 0
    from audit.errors import UsageError
    from audit.scorers import make_scorers
    from audit.scorers.prompt_book import PromptBook

    book = PromptBook(slot_values={"occupation": OCCUPATIONS[:4]})
    with pytest.raises(UsageError, match="calibrated over the classes") as caught:
        make_scorers(["adherence"], options={"adherence": {
            "model": "toyworld-clip", "calibration": str(out)}}, device="cpu", prompts=book)
    assert "/adherence/classes" in str(caught.value.where)
    from audit.errors import InvalidInput

    broken = json.loads(out.read_text())
    del broken["adherence"]  # an on_class threshold without what it was made for
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    with pytest.raises(InvalidInput, match="'adherence' is a required property"):
        make_scorers(["adherence"], options={"adherence": {
            "model": "toyworld-clip", "calibration": str(tmp_path / "broken.json")}},
            device="cpu", prompts=PromptBook(slot_values={"occupation": OCCUPATIONS}))
    folder = tmp_path / "images"
    folder.mkdir()
    first = pd.read_parquet(run / "images.parquet").iloc[0]
    (folder / "a.png").write_bytes((run / first.path).read_bytes())
    labels = tmp_path / "labels.csv"
    labels.write_text("image_id,attribute,label\na.png,on_class,on\n")
    result = run_cli("calibrate", "--images", str(folder), "--labels", str(labels),
                     "--clip-model", "toyworld-clip", "-o", str(tmp_path / "c.json"))
    assert result.returncode == 1 and "on_class labels need a run" in result.stderr
    assert not (tmp_path / "c.json").exists()
