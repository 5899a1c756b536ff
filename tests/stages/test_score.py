"""The score stage on a run and on a plain folder, through the CLI."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
from PIL import Image

from tests.conftest import REPO

TINY_CLIP = ["-S", "clip.model=tiny-random", "-S", "clip.pretrained=none"]
TINY_CLIPS = [*TINY_CLIP, "-S", "clip_concepts.model=tiny-random",
              "-S", "clip_concepts.pretrained=none"]


def audit(*args, cwd=REPO, timeout=300):
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "audit.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_score_any_folder_with_broken_and_blank_images(tmp_path):
    folder = tmp_path / "downloaded"
    (folder / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(folder / "a.png")
    Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(
        folder / "sub" / "b.jpg")
    Image.new("RGB", (40, 40)).save(folder / "black.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    out = tmp_path / "scores.parquet"
    result = audit("score", "--images", str(folder), "--out", str(out),
                   "--scorers", "clip,skin_tone", "-S", "skin_tone.faces=none", *TINY_CLIP)
    assert result.returncode == 0, result.stderr
    decisions = pd.read_parquet(out)  # the decision table at --out, the others beside it
    inputs = pd.read_parquet(tmp_path / "scores.inputs.parquet").set_index("image_id")
    measurements = pd.read_parquet(tmp_path / "scores.measurements.parquet")
    assert inputs.status.to_dict() == {"a.png": "ok", "black.png": "blank",
                                       "broken.png": "error", "sub/b.jpg": "ok"}
    assert "not an image" in inputs.loc["broken.png", "error"]
    assert set(decisions.image_id) == set(measurements.image_id) == {"a.png", "sub/b.jpg"}
    assert set(decisions.scorer) == {"clip", "skin_tone"}
    assert set(zip(measurements.quantity, measurements.direction, strict=True)) == {
        ("probability", "higher"), ("ciede2000_distance", "lower"), ("ita", "none"),
        ("skin_fraction", "none"), ("face_region", "none")}


def test_audit_run_generates_scores_and_writes_stats(tmp_path):
    run_dir = tmp_path / "run"
    result = audit("run", "smoke", "--model", "tiny", "--out", str(run_dir), *TINY_CLIPS,
                   "--scorers", "clip,skin_tone,clip_concepts")
    assert result.returncode == 0, result.stderr
    decisions = pd.read_parquet(run_dir / "scores" / "decisions.parquet")
    images = pd.read_parquet(run_dir / "images.parquet")
    assert set(decisions[decisions.scorer == "clip"].image_id) == set(images.image_id)
    card = json.loads((run_dir / "run.json").read_text())
    assert [c["name"] for c in card["scorers"]] == ["clip", "skin_tone", "clip_concepts"]
    assert card["scorers"][0]["weights"].startswith("random")
    # one encoder for both CLIP scorers: one embedding space in the cache
    assert len(list((run_dir / "cache" / "embeddings").iterdir())) == 1
    stats = json.loads((run_dir / "stats.json").read_text())
    assert {r["attribute"] for r in stats["funnel"]} == {"gender_presentation"}
    report = (run_dir / "report.html").read_text()  # audit run writes the report
    assert "clip_concepts ran on tiny-random (random weights)" in report  # flags mean nothing
    assert "clip_concepts flagged / n" in report
    # re-scoring reuses the cached embeddings and gives the same decisions
    again = audit("score", str(run_dir), *TINY_CLIP, "--scorers", "clip")
    assert again.returncode == 0, again.stderr
    rescored = pd.read_parquet(run_dir / "scores" / "decisions.parquet")
    merged = decisions[decisions.scorer == "clip"].merge(
        rescored, on=["image_id", "scorer", "attribute"])
    assert len(merged) == len(rescored) and (merged.label_x == merged.label_y).all()


def test_score_usage_errors(tmp_path):
    assert audit("score").returncode == 2
    assert audit("score", "--images", str(tmp_path)).returncode == 2  # no --out
    result = audit("score", str(tmp_path), "--scorers", "clipp", *TINY_CLIP)
    assert result.returncode == 2 and "did you mean 'clip'" in result.stderr
    result = audit("score", str(tmp_path), "-S", "clip.modle=tiny-random")
    assert result.returncode == 2 and "did you mean 'model'" in result.stderr


def test_decoding_matches_pillow_for_every_format(tmp_path):
    """torchvision decodes PNG/JPEG/GIF/WebP, Pillow the rest; either way the
    pixels are Pillow's RGB (JPEG within its decoders' rounding)."""
    from skimage import data

    from audit.stages.score import decode_chw

    photo = Image.fromarray(data.astronaut()[::4, ::4])
    for name, image, exact in [("rgb.png", photo, True), ("rgba.png", photo.convert("RGBA"), True),
                               ("grey.png", photo.convert("L"), True),
                               ("palette.gif", photo.convert("P"), True),
                               ("photo.jpg", photo, False), ("photo.bmp", photo, True),
                               ("photo.webp", photo, False)]:
        image.save(tmp_path / name)
        ours = decode_chw((tmp_path / name).read_bytes()).permute(1, 2, 0).numpy()
        with Image.open(tmp_path / name) as reference:
            expected = np.asarray(reference.convert("RGB"))
        assert ours.shape == expected.shape and ours.dtype == np.uint8, name
        difference = np.abs(ours.astype(int) - expected.astype(int))
        assert difference.max() == 0 if exact else difference.mean() < 1.0, name



def test_score_images_reads_nothing_outside_the_folder(tmp_path):
    import os

    outside = tmp_path / "outside.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (16, 16, 3),
                                                      dtype=np.uint8)).save(outside)
    folder = tmp_path / "images"
    folder.mkdir()
    Image.fromarray(np.random.default_rng(2).integers(0, 256, (16, 16, 3),
                                                      dtype=np.uint8)).save(folder / "in.png")
    (folder / "link.png").symlink_to(outside)
    (folder / "passwd.png").symlink_to("/etc/passwd")
    os.mkfifo(folder / "pipe.png")
    Image.new("L", (8000, 6000)).save(folder / "huge.png")
    out = tmp_path / "scores.parquet"
    result = audit("score", "--images", str(folder), "--out", str(out), "--scorers",
                   "skin_tone", "-S", "skin_tone.faces=none", timeout=120)
    assert result.returncode == 0, result.stderr
    inputs = pd.read_parquet(tmp_path / "scores.inputs.parquet").set_index("image_id")
    assert inputs.loc["in.png", "status"] == "ok"
    for name in ("link.png", "passwd.png"):
        assert inputs.loc[name, "error"] == "symbolic link out of the folder; not read"
    assert inputs.loc["pipe.png", "error"] == "not a regular file; not read"
    assert "8000x6000 pixels; more than 40000000 are not decoded" in inputs.loc[
        "huge.png", "error"]
