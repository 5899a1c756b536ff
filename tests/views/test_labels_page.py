"""The viewer's Labels page and the report's label sections on a run where
two scorers disagree and a person has labelled images."""

import os
import shutil

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from audit.paths import viewer_app
from audit.rundir import RunDir
from audit.rundir.runcard import record_scoring
from audit.views.data import RunView
from audit.views.static_report import render
from tests.conftest import run_cli
from tests.review.test_labels import CLIP_CARD, clip_says
from tests.review.test_labels import built as built  # noqa: F401  (the fixture)

FACES_CARD = {"name": "face_attributes", "version": "1.0.0",
              "labels": {"gender_presentation": ["female", "male", "unclear", "no_person"]}}


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def reviewed(built, tmp_path):
    """The review run with a second scorer that calls pilots 0-2 male (CLIP:
    female), and a reviewer's labels on the nurse images."""
    run = tmp_path / "run"
    shutil.copytree(built, run)
    images = pd.read_parquet(run / "images.parquet")
    decisions = []
    for r in images.itertuples():
        said = clip_says(r.item_id, r.seed)
        decisions.append({"image_id": r.image_id, "scorer": "clip",
                          "attribute": "gender_presentation", "label": said,
                          "confidence": 0.8})
        other = "male" if r.item_id == "photo--pilot" and r.seed < 3 else said
        decisions.append({"image_id": r.image_id, "scorer": "face_attributes",
                          "attribute": "gender_presentation", "label": other,
                          "confidence": 0.9})
    RunDir(run).write_scores({"decisions": decisions, "measurements": [], "inputs": []})
    record_scoring(run, scorers=[CLIP_CARD, FACES_CARD],
                   summary={"images": 24, "statuses": {"ok": 24}})
    labels = tmp_path / "labels.csv"
    labels.write_text("image_id,attribute,label,reviewer\n" + "".join(
        f"photo--{o}/{seed},gender_presentation,{'male' if seed % 3 == 0 else 'female'},ana\n"
        for o in ("nurse", "pilot") for seed in range(12)))
    assert run_cli("labels", "import", str(run), str(labels)).returncode == 0
    assert run_cli("stats", str(run)).returncode == 0
    return run


def test_labels_page_browses_disagreements_and_shows_the_review(reviewed):
    os.environ["T2I_AUDIT_RUNS"] = str(reviewed)
    at = AppTest.from_file(str(viewer_app()), default_timeout=60).run()
    at.sidebar.radio[0].set_value("Labels").run()
    assert not at.exception, at.exception
    texts = [t.value for t in at.text]
    shown = [t for t in texts if t.startswith("photo--pilot/")]
    assert sorted(t.splitlines()[0] for t in shown) == [f"photo--pilot/{s}" for s in range(3)]
    assert all("clip: female" in t and "face_attributes: male" in t for t in shown)
    assert any("24 labels on 24 images by 1 reviewer(s)" in t for t in texts)
    captions = " ".join(c.value for c in at.caption)
    assert "3 image(s) both decided confidently and differently" in captions


def test_report_has_the_label_sections(reviewed):
    html = render(RunView(reviewed))
    for heading in ("Trust in the labels", "Agreement between scorers", "Abstention",
                    "Human review", "Shares corrected for classifier error"):
        assert heading in html, heading
    assert "24 human labels on 24 images by 1 reviewer(s) (ana)" in html
    assert "clip (answers)" in html
    assert "Does abstention on gender_presentation differ between prompts? Fisher exact" in html


def test_viewer_reads_a_run_again_once_it_changes(reviewed, tmp_path):
    """Labels imported and stats rerun while the viewer is open show on its
    next rerun (it used to keep the first reading for the life of the process)."""
    os.environ["T2I_AUDIT_RUNS"] = str(reviewed)
    at = AppTest.from_file(str(viewer_app()), default_timeout=60).run()
    at.sidebar.radio[0].set_value("Labels").run()
    assert any("24 labels on 24 images by 1 reviewer(s)" in t.value for t in at.text)
    more = tmp_path / "more.csv"
    more.write_text("image_id,attribute,label,reviewer\n" + "".join(
        f"photo--nurse/{seed},gender_presentation,female,ben\n" for seed in range(12)))
    assert run_cli("labels", "import", str(reviewed), str(more)).returncode == 0
    assert run_cli("stats", str(reviewed)).returncode == 0
    at.run()
    assert not at.exception, at.exception
    texts = [t.value for t in at.text]
    assert any("36 labels on 24 images by 2 reviewer(s)" in t for t in texts), texts
