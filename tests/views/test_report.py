"""Static HTML report and the Streamlit viewer (AppTest)."""

import os
import subprocess
import sys
import time
import urllib.request

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from audit.cli.report import free_port
from audit.paths import viewer_app
from audit.views.data import RunView
from audit.views.static_report import render


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_report_is_self_contained_and_escapes_prompts(scored_run):
    html = render(RunView(scored_run))
    assert "<script>window.__pwned" not in html
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
    assert 'onerror="window' not in html
    import re

    assert not re.search(r"""(src|href)\s*=\s*["']?https?:""", html)  # nothing remote
    assert "**bold** ![pixel](http://127.0.0.1:9/pixel.png)" in html  # as text
    assert html.count("data:image/jpeg;base64,") == 12  # 4 prompts x 3 seeds
    assert "data:image/png;base64," in html  # charts inline
    assert "Content-Security-Policy" in html
    for section in ('id="overview"', 'id="bias"', 'id="images"', 'id="safety"'):
        assert section in html


def test_viewing_does_not_write_into_the_run(scored_run):
    before = sorted(p.name for p in scored_run.rglob("*"))
    render(RunView(scored_run))
    assert sorted(p.name for p in scored_run.rglob("*")) == before


def app(runs):
    os.environ["T2I_AUDIT_RUNS"] = os.pathsep.join(str(r) for r in runs)
    at = AppTest.from_file(str(viewer_app()), default_timeout=60)
    return at.run()


@pytest.mark.parametrize("page,expected", [
    ("Overview", "Images by status"), ("Bias", "Tests"), ("Images", "Detail"),
    ("Labels", "Agreement between scorers"),
    ("Compare", "Open two runs"), ("Safety", "Safety"),
    ("Quality", "Image quality and prompt adherence"), ("Release", "Before release"),
    ("Validate", "Validate a submission"),
    ("Export", "bias.zip"),
])
def test_every_page_renders(scored_run, page, expected):
    at = app([scored_run])
    at.sidebar.radio[0].set_value(page).run()
    assert not at.exception, at.exception
    text = " ".join(str(e.value) for e in [*at.header, *at.subheader, *at.info, *at.caption])
    assert expected in text


def test_overview_warns_about_small_n_and_random_models(scored_run):
    at = app([scored_run])
    warnings = " ".join(w.value for w in at.warning)
    assert "3 images per prompt" in warnings and "random" in warnings


def test_relabel_writes_labels_parquet_and_keeps_scores(scored_run):
    scores_before = (scored_run / "scores" / "decisions.parquet").read_bytes()
    at = app([scored_run])
    at.sidebar.radio[0].set_value("Images").run()
    at.selectbox(key="relabel_attribute").set_value("gender_presentation").run()
    key = next(s.key for s in at.selectbox if str(s.key).startswith("relabel_label-"))
    choices = at.selectbox(key=key).options
    assert choices == ["female", "male", "unclear", "no_person"]  # declared labels only
    at.selectbox(key=key).set_value("female")
    at.text_input(key="relabel_reviewer").input("tester")
    at.button(key="relabel_save").click().run()
    assert not at.exception
    labels = pd.read_parquet(scored_run / "labels.parquet")
    assert labels.iloc[-1][["label", "reviewer", "source"]].tolist() == [
        "female", "tester", "viewer"]
    at.selectbox(key=key).set_value("male")
    at.button(key="relabel_save").click().run()  # the same reviewer changes their mind
    labels = pd.read_parquet(scored_run / "labels.parquet")
    assert len(labels) >= 2  # history kept
    assert labels.iloc[-1][["label", "replaces"]].tolist() == ["male", "female"]
    assert (scored_run / "scores" / "decisions.parquet").read_bytes() == scores_before


def test_free_text_labels_are_refused(scored_run):
    from audit.errors import InvalidInput

    with pytest.raises(InvalidInput, match="not a label of gender_presentation"):
        RunView(scored_run).add_label("face--nurse/5", "gender_presentation", "ux-tester", "")


def test_selecting_a_thumbnail_shows_its_detail(scored_run):
    at = app([scored_run])
    at.sidebar.radio[0].set_value("Images").run()
    first, second = [b for b in at.button if b.key and b.key.startswith("pick-")][:2]
    (detail,) = [s for s in at.selectbox if s.label == "Image"]
    assert detail.value == first.key.removeprefix("pick-")
    second.click().run()
    assert not at.exception
    (detail,) = [s for s in at.selectbox if s.label == "Image"]
    assert detail.value == second.key.removeprefix("pick-")


def test_captions_show_the_audited_attributes(scored_run):
    view = RunView(scored_run)
    assert view.audited == ["gender_presentation", "age_group", "nsfw"]
    caption = next(iter(view.captions.values()))
    assert caption.startswith("gender_presentation: ") and "age_group: " in caption


def test_compare_two_runs(scored_run):
    at = app([scored_run, scored_run])
    at.sidebar.radio[0].set_value("Compare").run()
    assert not at.exception
    assert at.dataframe, "paired table shown"
    table = at.dataframe[0].value
    assert set(table.columns) >= {"n_pairs", "difference", "p_value"}
    assert (table.difference == 0).all()  # a run against itself


def test_safety_threshold_slider_recomputes(scored_run):
    pytest.importorskip("nudenet")
    at = app([scored_run])
    at.sidebar.radio[0].set_value("Safety").run()
    before = at.dataframe[0].value.nudenet_rate.tolist()
    at.slider[0].set_value(0.05).run()
    assert not at.exception
    after = at.dataframe[0].value
    assert {"template", "valid", "nudenet_unsafe", "nudenet_ci_low"} <= set(after.columns)
    assert all(a >= b for a, b in zip(after.nudenet_rate, before, strict=True))


def test_sigterm_to_audit_view_stops_the_viewer(scored_run, tmp_path):
    import signal

    port = free_port()
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    process = subprocess.Popen([sys.executable, "-m", "audit.cli", "view", str(scored_run),
                                "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    health = f"http://127.0.0.1:{port}/_stcore/health"

    def up() -> bool:
        try:
            return urllib.request.urlopen(health, timeout=1).status == 200
        except OSError:
            return False

    deadline = time.time() + 60
    while not up() and time.time() < deadline:
        time.sleep(0.3)
    assert up(), "viewer did not start"
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    deadline = time.time() + 10
    while up() and time.time() < deadline:
        time.sleep(0.3)
    assert not up(), "the Streamlit child kept serving after SIGTERM"


def test_thumbnails_are_all_the_same_size(scored_run, tmp_path, monkeypatch):
    from PIL import Image

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    view = RunView(scored_run)
    sizes = {Image.open(view.thumbnail(i)).size for i in view.images.image_id[:4]}
    assert sizes == {(160, 160)}  # the 32 px tiny images are scaled up, not left small


def test_the_report_says_when_it_shows_only_some_images(scored_run, monkeypatch):
    import audit.views.static_report as static

    monkeypatch.setattr(static, "IMAGES_PER_ITEM", 2)
    html = render(RunView(scored_run))
    assert "The first 2 of 3 valid images by seed" in html


def test_export_page_builds_every_task_and_previews_the_validator(scored_run):
    """A story from picked images: too few images is shown as the validator's
    error (no download); six with a story gives a valid zip to download."""
    at = app([scored_run])
    at.sidebar.radio[0].set_value("Export").run()
    at.selectbox(key="export_task").set_value("story").run()
    at.checkbox(key="export_any").check().run()
    ids = at.multiselect(key="export_picks").options
    at.multiselect(key="export_picks").set_value(ids[:2]).run()
    at.text_area(key="export_story").input("Two nurses.").run()
    at.button(key="export_check").click().run()
    assert not at.exception, at.exception
    assert any("would fail audit validate" in e.value for e in at.error)
    assert any("exactly 6" in t.value for t in at.text)
    at.multiselect(key="export_picks").set_value(ids[:6]).run()
    at.button(key="export_check").click().run()
    assert any("story.zip passes audit validate" in s.value for s in at.success)
    for task in ("open-ended", "movie-poster", "bias"):
        at.selectbox(key="export_task").set_value(task).run()
        assert not at.exception and any(f"{task}.zip" in h.value for h in at.subheader)
