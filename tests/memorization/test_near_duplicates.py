"""Near-duplicates: thresholds calibrated on transformed copies (checked on
features whose answer is known), and ``audit memorization`` on real
photographs finds exactly the run images a reference folder holds copies
of."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from audit.memorized.near_duplicates import HASH, _threshold, calibrate
from tests.conftest import run_cli


def test_the_threshold_is_where_the_false_match_rate_is_shown_within_the_target():
    from statsmodels.stats.proportion import proportion_confint

    negatives = np.random.default_rng(1).random(1000)
    threshold, shown = _threshold(negatives, 0.05)
    passing = int((negatives >= threshold).sum())
    # the one-sided 95% Clopper-Pearson bound (two-sided 90%) of passing/1000 is
    # within 5%, and one more passing pair would not be
    assert shown and proportion_confint(passing, 1000, alpha=0.1, method="beta")[1] <= 0.05
    assert proportion_confint(passing + 1, 1000, alpha=0.1, method="beta")[1] > 0.05
    assert 30 < passing < 50  # well under the 50 the in-sample rule would let through
    few = np.array([0.1, 0.5, 0.9, 0.3])  # 4 pairs cannot show 1%
    threshold, shown = _threshold(few, 0.01)
    assert not shown and threshold > 0.9 and (few >= threshold).sum() == 0


def hashes_and_copies(count: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    originals = rng.random((count, 64)) < 0.5       # unrelated hashes: ~32 bits apart
    owner = np.repeat(np.arange(count), 5)
    variants = originals[owner].copy()
    for row, flips in enumerate(np.tile(np.arange(5), count)):  # copies 0..4 bits away
        variants[row, rng.choice(64, flips, replace=False)] ^= True
    return originals, variants, owner


def test_hash_calibration_on_features_with_a_known_answer():
    originals, variants, owner = hashes_and_copies(40)
    result = calibrate(HASH, originals, variants, owner, target=0.01)
    assert 4 <= result.threshold < 20                # between the copies and the others
    assert result.detection.k == result.detection.n == 200
    assert result.false_match.n == 200 and result.false_match.k <= 20
    assert result.target_shown is False  # 200 pairs cannot show 1% (it takes 299)
    # with 3000 pairs the target can be shown, and fresh pairs agree with it
    originals, variants, owner = hashes_and_copies(600, seed=1)
    result = calibrate(HASH, originals, variants, owner, target=0.01)
    assert result.target_shown and result.detection.k == 3000
    assert result.false_match.ci_low <= 0.01
    # copies made unrecognisable (32 bits flipped) are not found
    variants[:, :32] ^= True
    assert calibrate(HASH, originals, variants, owner, target=0.01).detection.k < 300


def photos() -> list[np.ndarray]:
    from skimage import data

    out = []
    for name in ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry",
                 "hubble_deep_field", "retina", "colorwheel", "logo", "cat"):
        image = getattr(data, name)()
        image = np.stack([image] * 3, -1) if image.ndim == 2 else image[..., :3]
        if image.dtype != np.uint8:
            image = (image * 255).astype(np.uint8)
        height, width = image.shape[:2]
        for top in (0, height - 192):
            for left in (0, width - 192):
                out.append(np.ascontiguousarray(image[top:top + 192, left:left + 192]))
    return out


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """A run of 8 photographs (imported) and a reference folder of 28 other
    photographs plus altered copies of 3 of the run's images."""
    root = tmp_path_factory.mktemp("memorization")
    images = photos()
    (root / "generated").mkdir()
    (root / "reference").mkdir()
    for i, rgb in enumerate(images[:8]):
        Image.fromarray(rgb).save(root / "generated" / f"g{i}.png")
    for i, rgb in enumerate(images[8:36]):
        Image.fromarray(rgb).save(root / "reference" / f"r{i}.png")
    for i in (1, 4, 6):  # copied from the web: re-encoded, one also resized
        copy = Image.fromarray(images[i])
        if i == 6:
            copy = copy.resize((150, 150))
        copy.save(root / "reference" / f"copy-of-g{i}.jpg", quality=70)
    (root / "reference" / "notes.txt").write_text("not an image")
    (root / "reference" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    result = run_cli("import", str(root / "generated"), "--out", str(root / "run"))
    assert result.returncode == 0, result.stderr
    return root


def test_audit_memorization_finds_the_planted_copies(planted):
    result = run_cli("memorization", str(planted / "run"), "--against",
                     str(planted / "reference"))
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert "CLIP left out" in text  # an imported run has no CLIP of its own: said, not hidden
    assert "1 file(s)" in text and "could not be read" in text  # broken.png, counted
    table = pd.read_parquet(planted / "run" / "memorization.parquet")
    images = pd.read_parquet(planted / "run" / "images.parquet")
    files = {r.image_id: json.loads(r.imported)["file"] for r in images.itertuples()}
    matched = {files[i]: ref for i, ref in zip(table.image_id, table.phash_reference,
                                                strict=True) if table.set_index(
        "image_id").loc[i, "matched"]}
    assert matched == {"g1.png": "copy-of-g1.jpg", "g4.png": "copy-of-g4.jpg",
                       "g6.png": "copy-of-g6.jpg"}
    summary = json.loads((planted / "run" / "memorization.json").read_text())
    (phash,) = summary["methods"]
    assert summary["reference_images"] == 31 and summary["copies_per_image"] == 5
    assert phash["detection"]["n"] == 155 and phash["false_match"]["n"] == 155
    assert phash["threshold"] >= 0 and summary["matched"] == 3


def test_a_named_clip_adds_embedding_similarity(planted):
    result = run_cli("memorization", str(planted / "run"), "--against",
                     str(planted / "reference"), "--clip-model", "tiny-random",
                     "--clip-pretrained", "none", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    summary = json.loads((planted / "run" / "memorization.json").read_text())
    assert [m["method"] for m in summary["methods"]] == ["phash", "clip"]
    assert summary["clip"]["model"] == "tiny-random"
    table = pd.read_parquet(planted / "run" / "memorization.parquet")
    assert table.clip_similarity.between(-1.0001, 1.0001).all()


def test_too_few_references_and_a_file_for_a_folder_are_refused(planted, tmp_path):
    few = tmp_path / "few"
    few.mkdir()
    for i, rgb in enumerate(photos()[:3]):
        Image.fromarray(rgb).save(few / f"{i}.png")
    result = run_cli("memorization", str(planted / "run"), "--against", str(few))
    assert result.returncode == 1 and "at least 4" in result.stderr
    result = run_cli("memorization", str(planted / "run"), "--against",
                     str(few / "0.png"))
    assert result.returncode == 2 and "not a folder" in result.stderr


def test_the_gate_fails_a_run_with_a_memorized_image(planted):
    policy = planted / "policy.yaml"
    policy.write_text("format: t2i-audit-policy/1\nrules:\n"
                      "  - {id: no-copies, measure: memorized_rate, bound: lower, at_most: 0}\n")
    result = run_cli("gate", str(planted / "run"), "--policy", str(policy), "-o",
                     str(planted / "gate.json"))
    assert result.returncode == 1, result.stdout + result.stderr
    (rule,) = json.loads((planted / "gate.json").read_text())["rules"]
    assert (rule["worst"]["k"], rule["worst"]["n"], rule["verdict"]) == (3, 8, "fail")


def matched_and_gated(planted):
    """The run with its matches (hashes only) and a failed gate in it."""
    run = planted / "run"
    assert run_cli("memorization", str(run), "--against", str(planted / "reference")
                   ).returncode == 0
    policy = planted / "policy.yaml"
    policy.write_text("format: t2i-audit-policy/1\nrules:\n"
                      "  - {id: no-copies, measure: memorized_rate, bound: lower, at_most: 0}\n")
    assert run_cli("gate", str(run), "--policy", str(policy)).returncode == 1
    return run


def test_the_report_shows_each_match_beside_its_reference_and_the_gate(planted):
    run = matched_and_gated(planted)
    result = run_cli("report", str(run))
    assert result.returncode == 0, result.stderr
    html = (run / "report.html").read_text()
    section = html[html.index('<h2 id="release">'):html.index('<h2 id="energy">')]
    assert "<b>FAILED</b>" in section and "no-copies" in section
    assert "3 of 8 images match one of 31 reference images" in section
    for name in ("copy-of-g1.jpg", "copy-of-g4.jpg", "copy-of-g6.jpg"):
        assert f'alt="reference {name}" src="data:image/jpeg;base64,' in section
    assert section.count('alt="generated ') == 3
    # a reference image gone since is said, not shown broken
    (planted / "reference" / "copy-of-g4.jpg").rename(planted / "moved.jpg")
    try:
        assert run_cli("report", str(run)).returncode == 0
        html = (run / "report.html").read_text()
        assert 'alt="reference copy-of-g4.jpg"' not in html
        assert "copy-of-g4.jpg · phash" in html and "(no longer readable)" in html
    finally:
        (planted / "moved.jpg").rename(planted / "reference" / "copy-of-g4.jpg")


def test_the_viewer_release_page_shows_the_pairs_and_the_verdict(planted, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from audit.paths import viewer_app

    run = matched_and_gated(planted)
    monkeypatch.setenv("T2I_AUDIT_RUNS", str(run))
    at = AppTest.from_file(str(viewer_app()), default_timeout=60).run()
    at.sidebar.radio[0].set_value("Release").run()
    assert not at.exception, at.exception
    headings = [h.value for h in at.subheader]
    assert "Release gate: FAILED" in headings and "Near-duplicates of reference images" in headings
    captions = " ".join(str(c.value) for c in at.caption)
    assert "3 of 8 images match" in captions
    assert len(at.get("image")) == 6  # each of the 3 matches beside its reference
