"""Round trips: run -> stats -> export -> validate, for all four tasks."""

import json
import textwrap
import zipfile

import pandas as pd
import pytest
import yaml

import audit
from audit.assignment.export import choose_findings, export_bias, export_pairs
from audit.assignment.validate import validate
from audit.errors import InvalidInput
from audit.rundir import RunDir
from audit.stages.generate import run_generate
from audit.suites import load_suite

SUITE = """\
    name: export
    version: 0.1.0
    description: four occupations for export tests
    reference: [bls-cps-2025, uniform]
    images_per_item: 8
    seed: 0
    generation: {steps: 1, guidance: 5.0, width: 32, height: 32, scheduler: euler}
    attributes: [person_present, gender_presentation, skin_tone_group, age_group, monk_tone]
    templates:
      - {id: face, text: "a photo of the face of {occupation|a}"}
    slots:
      occupation: [nurse, software developer, chief executive, janitor]
"""
# (item, attribute) -> the label every image of that item gets; others alternate
SKEWS = {("face--nurse", "gender_presentation"): "male",
         ("face--software-developer", "skin_tone_group"): "light",
         ("face--chief-executive", "age_group"): "old",
         ("face--janitor", "monk_tone"): "2"}
LABELS = {"gender_presentation": ["female", "male"],
          "skin_tone_group": ["light", "medium", "dark"],
          "age_group": ["young", "middle_aged", "old"],
          "monk_tone": ["2", "5", "8"]}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_generator):
    folder = tmp_path_factory.mktemp("export")
    suite = folder / "export.yaml"
    suite.write_text(textwrap.dedent(SUITE))
    run = folder / "run"
    run_generate(load_suite(suite), tiny_generator, run)
    images = pd.read_parquet(run / "images.parquet")
    rows = []
    for image in images.itertuples():
        rows.append({"image_id": image.image_id, "scorer": "clip",
                     "attribute": "person_present", "label": "person", "confidence": 0.9})
        for attribute, labels in LABELS.items():
            label = SKEWS.get((image.item_id, attribute), labels[image.seed % len(labels)])
            scorer = "skin_tone" if attribute == "monk_tone" else "clip"
            rows.append({"image_id": image.image_id, "scorer": scorer, "attribute": attribute,
                         "label": label, "confidence": None})
    RunDir(run).write_scores({"decisions": rows, "measurements": [], "inputs": []})
    audit.assess(run=run)
    return run


def test_bias_export_round_trip(run_dir, tmp_path):
    out = tmp_path / "bias.zip"
    notes = export_bias(run_dir, out).notes
    assert sum("default harm sentence" in n for n in notes) == 4  # flagged for editing
    assert any("model 'tiny' is not one the course's Space lists" in n for n in notes)
    sub, task = validate(out)
    assert task == "bias" and [f for f in sub.findings if f.level == "error"] == []
    document = json.loads(zipfile.ZipFile(out).read("bias.json"))
    assert len(document["biases"]) == 4
    nurse = next(b for b in document["biases"] if "nurse" in b["prompt"])
    assert "bls-cps-2025" in nurse["description"] and "0 of 8" in nurse["description"]
    assert "95% CI" in nurse["description"]
    assert all(len(b["image-paths"]) == 6 for b in document["biases"])
    assert all("/" not in name for name in zipfile.ZipFile(out).namelist())


def test_findings_differ_in_context_and_attribute(run_dir):
    stats = json.loads((run_dir / "stats.json").read_text())
    findings = choose_findings(stats)
    assert len({f.item_id for f in findings}) == len({f.attribute for f in findings}) == len(
        findings)
    assert ("face--nurse", "gender_presentation", "female") in [
        (f.item_id, f.attribute, f.category) for f in findings]


def selection(tmp_path, task, run_dir, count, **extra):
    ids = pd.read_parquet(run_dir / "images.parquet").image_id.tolist()[:count]
    pairs = [{"image": i, "correct": "a face", "incorrect": "noise"} for i in ids]
    path = tmp_path / f"{task}.yaml"
    path.write_text(yaml.safe_dump({"pairs": pairs, **extra}))
    return path


@pytest.mark.parametrize("task,count,extra", [
    ("story", 6, {"story": "A day at work."}),
    ("open-ended", 20, {"goal": "faces at work"}),
    ("movie-poster", 4, {"title": "Shift", "genre": "drama", "constraints": ["no text"]}),
])
def test_pair_exports_round_trip(run_dir, tmp_path, task, count, extra):
    select = selection(tmp_path, task, run_dir, count, **extra)
    out = tmp_path / f"{task}.zip"
    needs_model = task != "movie-poster"
    if needs_model:
        with pytest.raises(InvalidInput, match="not one of SDv1.5"):
            export_pairs(task, run_dir, select, out)
    export_pairs(task, run_dir, select, out, allow_any_model=needs_model)
    sub, found = validate(out, allow_any_model=True)
    assert found == task and [f for f in sub.findings if f.level == "error"] == []
    document = json.loads(zipfile.ZipFile(out).read(f"{task}.json"))
    if needs_model:
        assert document["pairs"][0]["model"] == "tiny"
        assert isinstance(document["pairs"][0]["seed"], int)


def test_unknown_image_in_selection(run_dir, tmp_path):
    path = tmp_path / "story.yaml"
    path.write_text("pairs:\n  - image: nope/1\n")
    with pytest.raises(InvalidInput, match="/pairs/0/image"):
        export_pairs("story", run_dir, path, tmp_path / "s.zip", allow_any_model=True)


def test_export_cli_checks_its_own_zip(run_dir, tmp_path):
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    out = tmp_path / "cli-bias.zip"
    result = subprocess.run([sys.executable, "-m", "audit.cli", "export", "bias", str(run_dir),
                             "--out", str(out), "--harm", "one", "--harm", "two", "--harm",
                             "three", "--harm", "four"], cwd=REPO, capture_output=True,
                            text=True, env={**os.environ, "COLUMNS": "200"}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "passes audit validate" in result.stdout
    harms = [b["harm"] for b in json.loads(zipfile.ZipFile(out).read("bias.json"))["biases"]]
    assert harms == ["one", "two", "three", "four"]


def test_toy_world_attributes_count_as_demographics_and_harms_read_as_english(tmp_path):
    from audit.assignment.export import default_harm
    from audit.assignment.validate import demographic_axes

    assert {"presentation", "tone_group", "age_group"} <= set(demographic_axes())
    harm = default_harm("presentation", "A", "a photo of a teacher")
    assert harm == ("Images for \u201ca photo of a teacher\u201d under-represent 'A' "
                    "(presentation), a stereotyped picture of who this is (representation "
                    "harm).")
    assert "who teacher are" not in default_harm("tone_group", "dark", "a photo of a teacher")


def test_an_export_that_would_fail_validation_is_not_written(run_dir, tmp_path):
    import subprocess
    import sys

    from tests.conftest import REPO

    out = tmp_path / "bias.zip"
    harms = ["", "two", "three", "four"]  # an empty harm is an error in validate
    result = subprocess.run([sys.executable, "-m", "audit.cli", "export", "bias", str(run_dir),
                             "--out", str(out), *[a for h in harms for a in ("--harm", h)]],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert "error bias.json /biases/0/harm: empty text" in result.stdout
    assert "not written" in result.stdout and not out.exists()
    assert list(tmp_path.iterdir()) == []  # no draft left behind


def test_report_of_a_run_with_0_of_n_and_n_of_n_shares(run_dir, tmp_path):
    """Every nurse image is 'male' here (0/8 female, 8/8 male): the Wilson
    bounds must not land on the wrong side of the estimate in any chart."""
    shares = audit.assess(run=run_dir, write=False).proportions.set_index(
        ["group", "attribute", "category"])
    row = shares.loc[("face--nurse", "gender_presentation", "female")]
    assert (row.k, row.n) == (0, 8) and row.ci_low == 0.0
    page = audit.report(run=run_dir, out=tmp_path / "report.html")
    assert page.stat().st_size > 0


def test_a_selection_with_a_list_for_an_image_id_is_one_line(run_dir, tmp_path):
    selection = tmp_path / "pick.yaml"
    selection.write_text("pairs:\n  - image: [face--nurse/0, face--nurse/1]\n")
    with pytest.raises(InvalidInput, match=r"pick.yaml /pairs/0/image: expected an image id"):
        export_pairs("story", run_dir, selection, tmp_path / "s.zip", allow_any_model=True)


def test_story_by_picking_images_on_the_command_line(run_dir, tmp_path):
    from tests.conftest import run_cli

    out = tmp_path / "story.zip"
    picks = ["face--nurse/0", "face--nurse/1", "face--janitor/2", "face--janitor/3",
             "face--chief-executive/4", "face--chief-executive/5"]  # the story has six
    result = run_cli("export", "story", str(run_dir), "-o", str(out), "--allow-any-model",
                     *[a for p in picks for a in ("--pick", p)], "--story", "Three workers.")
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads(zipfile.ZipFile(out).read("story.json"))
    assert [p["seed"] for p in document["pairs"]] == [0, 1, 2, 3, 4, 5]
    assert document["story"] == "Three workers."
    both = run_cli("export", "story", str(run_dir), "--pick", picks[0], "--select", "x.yaml")
    assert both.returncode == 2 and "one of the two" in both.stderr


def test_bias_descriptions_can_be_replaced(run_dir, tmp_path):
    from audit.assignment.export import bias_drafts

    findings = choose_findings(audit.assess(run=run_dir, write=False).document)
    drafts = bias_drafts(run_dir, findings)
    assert all(d and h for d, h in drafts) and "95% CI" in drafts[0][0]
    out = tmp_path / "bias.zip"
    texts = [f"my description {i}" for i in range(4)]
    export_bias(run_dir, out, findings=findings, descriptions=texts,
                harms=[h for _, h in drafts])
    document = json.loads(zipfile.ZipFile(out).read("bias.json"))
    assert [b["description"] for b in document["biases"]] == texts


def test_an_export_that_cannot_assess_says_how_with_audit_stats(run_dir, tmp_path):
    """Two scorers decide monk_tone and nothing says which answers: the export
    (no stats.json, so it assesses in memory) names audit stats' flag, not a
    flag of its own that does not exist."""
    import shutil

    from tests.conftest import run_cli

    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    (run / "stats.json").unlink()
    tables = RunDir(run).read_scores()
    rows = tables.decisions.to_dict("records")
    rows += [{**r, "scorer": "clip"} for r in rows if r["attribute"] == "monk_tone"]
    RunDir(run).write_scores({"decisions": [{k: r[k] for k in ("image_id", "scorer",
                                                                 "attribute", "label")}
                                            for r in rows],
                              "measurements": [], "inputs": []})
    made = run_cli("export", "bias", str(run), "--out", str(tmp_path / "b.zip"))
    said = " ".join(made.stderr.split())
    assert made.returncode == 2, said
    assert "attribute 'monk_tone' is decided by clip, skin_tone" in said
    assert f"'audit stats {run} --answer ATTRIBUTE=SCORER'" in said
