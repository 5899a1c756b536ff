"""audit quality end to end on toy-world renders imported as runs: the values
in quality.json are the distances of features computed here by hand, per
prompt where the other set has the prompt, refused in one line at tiny n."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from audit.fidelity import distances as D
from tests.conftest import run_cli
from tests.quality.inception_weights import save_random_inception

PROMPTS = {"nurse": "a photo of a nurse", "ceo": "a photo of a ceo"}


def render_run(folder, out, *, per_prompt, seed):
    """World renders of nurses and CEOs in ``folder``, imported as ``out``."""
    import audit
    from audit.toyworld.world import render, sample

    rng = np.random.default_rng(seed)
    folder.mkdir()
    with (folder / "manifest.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["image", "prompt", "seed"])
        for occupation, prompt in PROMPTS.items():
            for i in range(per_prompt):
                name = f"{occupation}-{i}.png"
                render(sample(occupation, rng)).save(folder / name)
                writer.writerow([name, prompt, i])
    audit.import_images(folder=folder, out=out, manifest=folder / "manifest.csv",
                        model="toyworld", group_by=["a photo of {occupation|a}"])
    return out


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("quality")
    weights = root / "inception.pth"
    save_random_inception(weights, seed=1)
    run = render_run(root / "made", root / "run", per_prompt=25, seed=1)
    other = render_run(root / "other-made", root / "other", per_prompt=25, seed=2)
    return {"run": run, "other": other, "folder": root / "other-made", "weights": weights}


def decoded(folder, names):
    from PIL import Image

    return [np.asarray(Image.open(folder / n).convert("RGB")) for n in names]


def test_the_command_writes_the_distances_of_the_features(sets):
    import torch

    from audit.data_files import check
    from audit.fidelity.inception import load_inception, pool_features
    from audit.fidelity.preprocess import clean_resize

    result = run_cli("quality", str(sets["run"]), "--against", str(sets["folder"]),
                     "--inception", str(sets["weights"]), "--clip-model", "toyworld-clip",
                     "--fid-halves", "10")
    assert result.returncode == 0, result.stderr
    document = json.loads((sets["run"] / "quality.json").read_text())
    check(document, "quality.schema.json", "quality summary")
    assert document["against"] == {"kind": "folder", "where": str(sets["folder"]),
                                   "images": 50, "unreadable": 0}
    assert document["features"]["inception"]["published_checkpoint"] is None
    assert "not comparable" in result.stdout
    found = {m["metric"]: m for m in document["metrics"]}
    assert {m["scope"] for m in document["metrics"]} == {"all"}  # a folder has no prompts
    assert set(found) == {"kid", "cmmd", "fid_infinity"}
    assert found["kid"]["features"] == "inception" and found["cmmd"]["features"] == "clip"

    # by hand: the run's files and the folder's, through the network
    import pandas as pd

    images = pd.read_parquet(sets["run"] / "images.parquet")
    run_pixels = [np.asarray(__import__("PIL.Image").Image.open(sets["run"] / p).convert("RGB"))
                  for p in images.path]
    names = sorted(p.name for p in sets["folder"].glob("*.png"))
    other_pixels = decoded(sets["folder"], names)
    net = load_inception(sets["weights"]).net

    def inception(pixels):
        batch = torch.from_numpy(np.stack([clean_resize(p) for p in pixels])).permute(0, 3, 1, 2)
        with torch.inference_mode():
            return pool_features(net, batch).numpy()

    x, y = inception(run_pixels), inception(other_pixels)
    kid = D.kid(x, y)
    assert found["kid"]["value"] == pytest.approx(kid.value, rel=1e-6, abs=1e-12)
    assert found["kid"]["ci_high"] == pytest.approx(kid.ci_high, rel=1e-6, abs=1e-12)
    assert found["fid_infinity"]["plug_in_fid"] == pytest.approx(D.fid(x, y), rel=1e-6)
    assert found["kid"]["n_run"] == 50 and found["kid"]["n_against"] == 50


def test_per_prompt_against_another_run_and_the_training_set(sets):
    import audit

    result = audit.quality(run=sets["run"], against=sets["other"], clip_model="toyworld-clip",
                           fid_halves=5)
    scopes = set(result.metrics.scope)
    assert scopes == {"all", *PROMPTS.values()}
    assert any("not comparable" in n for n in result.notes)  # KID and FID on CLIP
    # 25 images per prompt: KID and CMMD, but FID∞ needs 50 in each set
    assert {(s["scope"], s["metric"]) for s in result.skipped} == {
        (p, "fid_infinity") for p in PROMPTS.values()}

    trained = audit.quality(run=sets["run"], against="toyworld-train",
                            clip_model="toyworld-clip", toyworld_per_occupation=30, fid_halves=5)
    whole = trained.metrics[(trained.metrics.scope == "all") & (trained.metrics.metric == "kid")]
    assert int(whole.n_against.iloc[0]) == 60  # the nurses and CEOs of the training set only
    nurse = trained.metrics[trained.metrics.scope == PROMPTS["nurse"]]
    assert set(nurse.n_against) == {30}


def test_two_runs_against_one_folder(sets):
    """--versus: each metric's difference is the run's value minus the other
    run's, against the same folder, with an interval."""
    import audit

    folder = sets["folder"]
    result = run_cli("quality", str(sets["run"]), "--against", str(folder), "--versus",
                     str(sets["other"]), "--clip-model", "toyworld-clip", "--fid-halves", "5")
    assert result.returncode == 0, result.stderr
    assert "minus" in result.stdout
    document = json.loads((sets["run"] / "quality.json").read_text())
    differences = {d["metric"]: d for d in document["versus"]["differences"]}
    assert set(differences) == {"kid", "cmmd", "fid_infinity"}
    versus = audit.quality(run=sets["other"], against=folder, clip_model="toyworld-clip",
                           fid_halves=5)
    own = {m["metric"]: m["value"] for m in document["metrics"]}
    theirs = dict(zip(versus.metrics.metric, versus.metrics.value, strict=True))
    for metric in ("kid", "cmmd"):
        found = differences[metric]
        assert found["difference"] == pytest.approx(own[metric] - theirs[metric], rel=1e-9)
        assert found["ci_low"] < found["difference"] < found["ci_high"]
        assert (found["n_run"], found["n_versus"], found["n_against"]) == (50, 50, 50)
    # the viewer's Compare page shows them for the pair, whichever run is A
    from tests.views.test_report import app

    at = app([sets["other"], sets["run"]])
    at.sidebar.radio[0].set_value("Compare").run()
    assert not at.exception, at.exception
    headings = [h.value.replace("\\", "") for h in at.subheader]  # markdown escapes
    heading = next(h for h in headings if h.startswith("Image quality:"))
    assert heading.index("(run)") < heading.index("minus") < heading.index("(other)")


def test_tiny_sets_are_refused_in_one_line(sets, tmp_path):
    small = render_run(tmp_path / "few", tmp_path / "few-run", per_prompt=3, seed=3)
    result = run_cli("quality", str(small), "--against", str(sets["folder"]), "--clip-model",
                     "toyworld-clip")
    assert result.returncode == 2
    assert "need at least 10 in each" in result.stderr
    said = [line for line in result.stderr.strip().splitlines()
            if not line.startswith("audit quality: working")]  # the heartbeat of a slow start
    assert len(said) == 1
    assert not (small / "quality.json").exists()
    result = run_cli("quality", str(small), "--against", str(small))
    assert result.returncode == 2 and "not with itself" in result.stderr


def test_the_report_shows_quality_and_adherence(sets):
    """An imported run scored with the adherence scorer: the report's quality
    section has quality.json's metrics and the on-class rate per prompt;
    prompts stay text."""
    import audit

    run = sets["run"]
    audit.score(run=run, scorers=["clip", "adherence"], device="cpu",
                scorer_options={"clip": {"model": "toyworld-clip"},
                                "adherence": {"model": "toyworld-clip"}})
    audit.assess(run=run)
    result = audit.quality(run=run, against="toyworld-train", fid_halves=5,
                           toyworld_per_occupation=30)
    html = audit.report(run=run).read_text()
    section = html[html.index('id="quality"'):html.index('id="energy"')]
    assert "the toy model&#39;s training set" in section
    kid = float(result.metrics[(result.metrics.scope == "all")
                               & (result.metrics.metric == "kid")].value.iloc[0])
    shown = f"{kid:.3g}" if abs(kid) < 1e-3 else f"{kid:.3f}"  # the report's format
    assert f"<td>KID</td><td>clip</td><td>{shown}</td>" in section
    stats = json.loads((run / "stats.json").read_text())
    for row in stats["adherence"]:
        assert row["judged"] == 25 and f"{row['on']}/{row['on'] + row['off']}" in section
        assert row["prompt"] in section
    # the viewer's Quality page shows the same (a fresh viewer: an earlier test in this
    # process opened the run before it was scored with the adherence scorer)
    import streamlit as st

    from tests.views.test_report import app

    st.cache_resource.clear()
    at = app([run])
    at.sidebar.radio[0].set_value("Quality").run()
    assert not at.exception, at.exception
    assert {"Distance from another set of images", "On-class rate per prompt"} <= {
        s.value for s in at.subheader}
    assert len(at.dataframe) >= 2
    # a person can say on or off in the viewer, though the suite lists no on_class
    at.sidebar.radio[0].set_value("Images").run()
    at.selectbox(key="relabel_attribute").set_value("on_class").run()
    key = next(s.key for s in at.selectbox if str(s.key).startswith("relabel_label-"))
    assert at.selectbox(key=key).options == ["on", "off", "unclear"]
