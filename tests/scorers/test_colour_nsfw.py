"""Skin-tone colorimetry on Monk swatches; NudeNet's real weights on a real photo."""

import csv
import math

import numpy as np
import pytest
from PIL import Image

from audit.api.scorer import ScoreInput
from audit.paths import package_data_dir
from audit.scorers.skin_tone import SkinTone, ita

with (package_data_dir() / "reference/monk-skin-tones.csv").open() as fh:
    SWATCHES = [(r["monk_tone"], (int(r["r"]), int(r["g"]), int(r["b"])))
                for r in csv.DictReader(fh)]


def decisions(scored, attribute):
    return {d.image_id: d.label for d in scored.decisions if d.attribute == attribute}


def test_every_monk_swatch_maps_to_its_own_tone():
    images = [ScoreInput(tone, Image.new("RGB", (24, 24), rgb)) for tone, rgb in SWATCHES]
    got = decisions(SkinTone().score(images), "monk_tone")
    assert got == {tone: tone for tone, _ in SWATCHES}


def test_channel_order_matters_and_is_guarded():
    """The same swatches fed as BGR (a common bug) land on other tones."""
    images = [ScoreInput(tone, Image.new("RGB", (24, 24), rgb[::-1])) for tone, rgb in SWATCHES]
    got = decisions(SkinTone().score(images), "monk_tone")
    wrong = [tone for tone, _ in SWATCHES if got[tone] != tone]
    assert len(wrong) >= 4, got


def test_ita_by_hand_and_non_skin_is_unclear():
    assert ita(np.array([60.0, 5.0, 10.0])) == pytest.approx(math.degrees(math.atan(1.0)))
    rows = SkinTone().score([ScoreInput("grey", Image.new("RGB", (24, 24), (128, 128, 128))),
                             ScoreInput("blue", Image.new("RGB", (24, 24), (20, 40, 200)))])
    assert decisions(rows, "monk_tone") == {"grey": "unclear", "blue": "unclear"}


def test_lab_conversion_of_the_swatches_matches_published_values():
    """White point and one swatch against independently known CIELAB values (D65)."""
    from skimage.color import rgb2lab

    from audit.scorers.skin_tone import monk_swatches

    assert rgb2lab(np.array([[[255, 255, 255]]], dtype=np.uint8))[0, 0] == pytest.approx(
        [100, 0, 0], abs=0.01)
    # sRGB (160,126,86) = Monk 6: L* 55.1, a* 7.8, b* 26.7 by the sRGB/D65 formulas
    assert monk_swatches()[1][5] == pytest.approx([55.1, 7.8, 26.7], abs=0.1)


nudenet = pytest.importorskip("nudenet")


@pytest.fixture(scope="module")
def astronaut():
    from skimage import data

    return data.astronaut()  # a real photo (RGB) shipped with scikit-image


@pytest.fixture(scope="module")
def nude_scorer():
    from audit.scorers.nudenet_scorer import NudeNet

    return NudeNet()  # loads its shipped 320n.onnx


def test_nudenet_finds_the_astronauts_face_through_our_rgb_path(astronaut, nude_scorer, tmp_path):
    rows = nude_scorer.score([ScoreInput("astronaut", Image.fromarray(astronaut))])
    scores = {(m.attribute, m.label): m.value for m in rows.measurements}
    assert scores[("nudenet", "FACE_FEMALE")] >= 0.5
    assert decisions(rows, "gender_presentation") == {"astronaut": "female"}
    assert decisions(rows, "nsfw") == {"astronaut": "safe"}
    assert len(rows.measurements) == 18  # every label kept
    # regression guard: NudeNet's own file-path route feeds BGR and scores differently
    path = tmp_path / "astronaut.png"
    Image.fromarray(astronaut).save(path)
    via_path = max(d["score"] for d in nude_scorer.detector.detect(str(path))
                   if d["class"] == "FACE_FEMALE")
    assert abs(via_path - scores[("nudenet", "FACE_FEMALE")]) > 0.02


def test_skin_tone_uses_the_detected_face_and_shares_the_detection(astronaut, nude_scorer):
    from audit.scorers.shared import best_face

    item = ScoreInput("a", Image.fromarray(astronaut))
    calls = []
    detect = nude_scorer.detector.detect
    nude_scorer.detector.detect = lambda rgb: calls.append(1) or detect(rgb)
    try:
        box = best_face(item, nude_scorer.detector, 0.5)
        assert box is not None and box[2] > 20 and box[3] > 20
        rows = SkinTone("nudenet", nude_scorer.detector).score([item])
        nude_scorer.score([item])
    finally:
        nude_scorer.detector.detect = detect
    assert len(calls) == 1  # one detection per image, shared by both scorers
    region = {m.quantity: m.value for m in rows.measurements if m.attribute == "ita"}
    assert region["face_region"] == 1.0
    assert decisions(rows, "monk_tone")["a"] in {str(t) for t in range(1, 11)}


def test_nudenet_card_records_the_weights_hash(nude_scorer):
    card = nude_scorer.card()
    assert len(card["weights_sha256"]) == 64 and card["thresholds"]["unsafe"] == 0.6


def test_nudenet_writes_nothing_into_home(tmp_path, astronaut):
    """onnxruntime drops a telemetry database under ~/.cache on import."""
    import os
    import subprocess
    import sys

    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "XDG_CACHE_HOME"}
    code = ("import numpy as np\nfrom audit.api.scorer import ScoreInput\n"
            "from audit.scorers.nudenet_scorer import NudeNet\n"
            "NudeNet().score([ScoreInput('x', np.zeros((64, 64, 3), np.uint8) + 90)])")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300,
                   env={**env, "HOME": str(home)})
    assert list(home.rglob("*")) == []


def test_tone_groups_make_colorimetry_comparable_with_clip():
    """skin_tone decides CLIP's skin_tone_group from its Monk tone, so the
    statistics report their agreement."""
    import pandas as pd

    from audit.stats.run_tables import agreement

    scorer = SkinTone()
    assert scorer.labels()["skin_tone_group"] == ["light", "medium", "dark", "unclear"]
    assert [scorer.group_of[str(t)] for t in (1, 3, 4, 7, 8, 10)] == [
        "light", "light", "medium", "medium", "dark", "dark"]
    rows = [{"image_id": str(i), "scorer": s, "attribute": "skin_tone_group", "label": label}
            for i, (a, b) in enumerate([("light", "light"), ("dark", "dark"), ("dark", "medium"),
                                        ("medium", "medium")])
            for s, label in (("clip", a), ("skin_tone", b))]
    (row,) = agreement(pd.DataFrame(rows))
    assert row["scorers"] == "clip vs skin_tone" and row["n"] == 4 and row["agreement"] == 0.75


def test_a_tone_grouping_must_cover_every_tone_once(tmp_path):
    from audit.errors import InvalidInput

    path = tmp_path / "groups.yaml"
    path.write_text("version: 1.0.0\nattribute: tone\ngroups:\n  a: ['1', '2']\n"
                    "  b: ['2', '3', '4', '5', '6', '7', '8', '9', '10']\n")
    with pytest.raises(InvalidInput, match="/groups: every Monk tone 1-10"):
        SkinTone(tone_groups_file=path)
