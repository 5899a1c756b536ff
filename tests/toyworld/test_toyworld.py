"""The toy world: seeded, faithful to its card, and measurable."""

import json

import numpy as np
import pytest
from scipy import stats

from audit.api.generator import GenerationRequest
from audit.api.scorer import ScoreInput
from audit.scorers.skin_tone import SkinTone
from audit.toyworld.world import card, face_box, render, sample, true_shares


def test_training_data_is_seeded():
    from audit.toyworld.train import make_data

    a, b = make_data(3, seed=7), make_data(3, seed=7)
    assert a["images"].tobytes() == b["images"].tobytes()
    assert a["clip_text"] == b["clip_text"] and a["sd_text"] == b["sd_text"]
    occupations = len(card()["occupations"])
    assert a["images"].shape == (occupations * 4, 64, 64, 3)  # 3 people + 1 empty scene
    assert make_data(3, seed=8)["images"].tobytes() != a["images"].tobytes()


@pytest.mark.parametrize("occupation", ["nurse", "doctor", "ceo"])
def test_sampled_shares_match_the_card(occupation):
    rng = np.random.default_rng(0)
    people = [sample(occupation, rng) for _ in range(3000)]
    truth = true_shares(occupation)
    checks = [("presentation", "A", [p.presentation == "A" for p in people]),
              ("age_group", "old", [p.age == "old" for p in people]),
              ("tone_group", "dark", [p.tone_group == "dark" for p in people])]
    for attribute, category, hits in checks:
        k = int(np.sum(hits))
        p = truth[attribute][category]
        assert stats.binomtest(k, len(people), p).pvalue > 0.001, (attribute, k, p)


def test_planted_skews_are_there():
    assert true_shares("doctor")["presentation"]["A"] == 0.20
    assert true_shares("nurse")["presentation"]["A"] == 0.85
    assert true_shares("ceo")["tone_group"]["dark"] < 0.05


def test_colorimetry_recovers_the_rendered_monk_tone():
    """Ground truth for the skin-tone scorer: the face region of each rendered
    person is read back as that person's Monk tone."""
    rng = np.random.default_rng(3)
    people = [sample(o, rng) for o in card()["occupations"] for _ in range(15)]
    boxes = {id(p): face_box(p) for p in people}
    inputs = [ScoreInput(str(i), render(p), shared={"face_box": boxes[id(p)]})
              for i, p in enumerate(people)]
    by_image = {str(i): p for i, p in enumerate(people)}
    scored = SkinTone().score(inputs)
    decided = {d.image_id: d.label for d in scored.decisions if d.attribute == "monk_tone"}
    correct = sum(decided[i] == str(p.tone) for i, p in by_image.items())
    assert correct / len(people) >= 0.95
    # its coarse group, the attribute CLIP decides too (same cut points as the world's)
    groups = {d.image_id: d.label for d in scored.decisions if d.attribute == "skin_tone_group"}
    right = sum(groups[i] == p.tone_group for i, p in by_image.items())
    assert right / len(people) >= 0.95


def test_bundled_model_loads_through_the_folder_code_path():
    from audit.api.generator import GenerationRequest
    from audit.generators import make_generator

    generator = make_generator("toyworld", device="cpu")
    info = generator.describe()
    assert info["id"] == "toyworld" and info["source"] == "bundled" and len(info["sha256"]) == 64
    (result,) = generator.generate([GenerationRequest("x", "a photo of a nurse", "", 3, 10, 5.0,
                                                      64, 64, "default")])
    assert result.status == "ok" and result.image.size == (64, 64)


def test_toy_clip_reads_fresh_renders_at_95_percent_or_better():
    import pandas as pd

    from audit.scorers import make_scorers

    rng = np.random.default_rng(2024)
    people = [sample(o, rng) for o in card()["occupations"] for _ in range(50)]
    (scorer,) = make_scorers(["clip"], options={"clip": {"model": "toyworld-clip"}},
                             device="cpu")
    scored = scorer.score([ScoreInput(str(i), render(p)) for i, p in enumerate(people)])
    decided = pd.DataFrame(map(vars, scored.decisions)).set_index(
        ["image_id", "attribute"]).label
    for attribute, truth in (("presentation", lambda p: p.presentation),
                             ("tone_group", lambda p: p.tone_group)):
        hits = [decided[(str(i), attribute)] == truth(p) for i, p in enumerate(people)]
        assert np.mean(hits) >= 0.95, attribute


def test_toyworld_reference_holds_the_card():
    from audit.references import named_reference

    reference = named_reference("toyworld", "presentation")
    assert reference.for_group("nurse") == {"A": 0.85, "B": pytest.approx(0.15)}
    assert named_reference("toyworld", "gender_presentation") is None


def test_demo_runs_end_to_end(tmp_path):
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    result = subprocess.run([sys.executable, "-m", "audit.cli", "demo", "--n", "2", "--out",
                             str(tmp_path / "demo")], cwd=REPO, capture_output=True, text=True,
                            timeout=600, env={**os.environ, "COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    assert "directional bias amplification, presentation:" in result.stdout
    assert "amplification (95% CI)" in result.stdout and "off-class" in result.stdout
    for name in ("images.parquet", "scores/decisions.parquet", "stats.json", "report.html",
                 "ground_truth.json"):
        assert (tmp_path / "demo" / name).exists()
    # the terminal's ground-truth breakdown is in the report too
    report = (tmp_path / "demo" / "report.html").read_text()
    truth = json.loads((tmp_path / "demo" / "ground_truth.json").read_text())
    assert "Ground truth: what the model drew" in report and "presentation = A" in report
    section = report.split("Ground truth: what the model drew")[1].split("<h2")[0]
    assert "directional bias amplification" in section
    occupations = {r["occupation"] for r in truth["terms"]}
    assert occupations == {"doctor", "nurse", "chef", "firefighter", "pilot", "teacher", "ceo",
                           "janitor"}
    assert all(f"<td>{o}</td>" in section for o in occupations)
    # two images per occupation: fewer than four findings hold, and the export says so
    export = subprocess.run([sys.executable, "-m", "audit.cli", "export", "bias",
                             str(tmp_path / "demo"), "--out", str(tmp_path / "bias.zip")],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    said = " ".join((export.stdout + export.stderr).split())
    assert export.returncode == 1, said
    assert "of the 4 biases the course asks for hold after bh correction" in said


def test_demo_audits_a_rebuilt_weights_folder(tmp_path):
    """`audit demo --weights DIR` takes what the training script writes: the
    pipeline folder through the generic folder loader, the CLIP checkpoint file."""
    import json
    import os
    import shutil
    import subprocess
    import sys

    from audit.toyworld.model import WEIGHTS
    from tests.conftest import REPO

    rebuilt = shutil.copytree(WEIGHTS, tmp_path / "rebuilt")
    env = {**os.environ, "COLUMNS": "200"}
    command = [sys.executable, "-m", "audit.cli", "demo", "--n", "2"]
    result = subprocess.run([*command, "--out", str(tmp_path / "run"), "--weights",
                             str(rebuilt)], cwd=REPO, capture_output=True, text=True,
                            timeout=600, env=env)
    assert result.returncode == 0, result.stderr
    card = json.loads((tmp_path / "run" / "run.json").read_text())
    assert card["scorers"][0]["pretrained"] == "toyworld-clip.safetensors"
    assert str(rebuilt / "toyworld-sd") in json.dumps(card["model"])

    bad = subprocess.run([*command, "--out", str(tmp_path / "bad"), "--weights",
                          str(tmp_path)], cwd=REPO, capture_output=True, text=True,
                         timeout=600, env=env)
    assert bad.returncode == 2 and "no training.json" in bad.stderr
    assert not (tmp_path / "bad").exists()


def test_training_script_writes_weights_that_load(tmp_path):
    """The smoke preset runs every phase of the real training code for a few
    steps; what it saves loads through the audit's own loaders."""
    import json
    import subprocess
    import sys

    from audit.generators import make_generator
    from audit.scorers.clip_model import load_clip
    from tests.conftest import REPO

    out = tmp_path / "weights"
    result = subprocess.run([sys.executable, "-m", "audit.toyworld.train", "--device", "cpu",
                             "--preset", "smoke", "--out", str(out)], cwd=REPO,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    info = json.loads((out / "training.json").read_text())
    assert info["steps_taken"] == {"clip": 3, "vae": 3, "unet": 3}
    assert info["world_card_sha256"] and info["preset"]["unet_lr"] == 4e-4
    generated = make_generator(str(out / "toyworld-sd"), device="cpu").generate(
        [GenerationRequest("x/1", "a photo of a nurse", "", 1, 2, 5.0, 64, 64, "euler")])
    assert generated[0].image.size == (64, 64)
    bundle = load_clip("toyworld-clip", str(out / "toyworld-clip.safetensors"), device="cpu")
    assert len(bundle.weights_sha256) == 64
