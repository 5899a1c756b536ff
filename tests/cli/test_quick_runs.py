"""Quick runs without a suite file (--prompt, --template/--slot) and WebUI's
seed -1, through the real CLI and the tiny model."""

import json

import pandas as pd
import yaml

from tests.conftest import run_cli

TINY = ["-m", "tiny", "--size", "32x32", "--steps", "1"]


def test_prompts_with_a_random_seed_make_a_resumable_run(tmp_path):
    run = tmp_path / "run"
    args = ["generate", "--prompt", "a photo of a doctor", "--prompt", "a photo of a nurse",
            "--negative-prompt", "blurry", "--n", "2", "--seed", "-1", "--out", str(run), *TINY]
    first = run_cli(*args)
    assert first.returncode == 0, first.stderr
    card = json.loads((run / "run.json").read_text())
    drawn = card["config"]["seed"]
    assert card["config"]["seed_drawn"] is True and 0 <= drawn < 2**32
    suite = yaml.safe_load((run / "suite.yaml").read_text())
    assert [t["text"] for t in suite["templates"]] == ["a photo of a doctor",
                                                       "a photo of a nurse"]
    assert suite["negative_prompt"] == "blurry" and card["suite"]["path"].endswith("suite.yaml")
    images = pd.read_parquet(run / "images.parquet")
    # one drawn base, shared by every prompt so they stay paired
    assert sorted(images.seed.unique()) == [drawn, drawn + 1]
    assert set(images.negative_prompt) == {"blurry"}
    again = run_cli(*args)
    assert again.returncode == 0 and "0 generated, 4 already done" in again.stdout
    assert json.loads((run / "run.json").read_text())["config"]["seed"] == drawn


def test_a_template_with_slots(tmp_path):
    run = tmp_path / "run"
    result = run_cli("generate", "--template", "a photo of {occupation|a}", "--slot",
                     "occupation=doctor,engineer", "--n", "1", "--seed", "7", "--out", str(run),
                     *TINY)
    assert result.returncode == 0, result.stderr
    images = pd.read_parquet(run / "images.parquet").set_index("image_id")
    assert set(images.index) == {"a-photo-of-occupation--doctor/7",
                                 "a-photo-of-occupation--engineer/7"}
    assert images.loc["a-photo-of-occupation--engineer/7"].prompt == "a photo of an engineer"
    assert json.loads(images.loc["a-photo-of-occupation--doctor/7"].slots) == {
        "occupation": "doctor"}


def test_quick_run_mistakes_are_one_line(tmp_path):
    out = ["--out", str(tmp_path / "r"), *TINY]
    cases = [
        (["--template", "a photo of {occupation|a}"], "--template needs --slot"),
        (["--prompt", "a photo of {occupation}"], "contains a {slot}; use --template"),
        (["--template", "a {job}", "--slot", "occupation=doctor"], "needs --slot job="),
        (["--template", "a {job}", "--slot", "job"], "--slot 'job' must be NAME=VALUE"),
        (["smoke", "--prompt", "x"], "not both"),
    ]
    for extra, message in cases:
        result = run_cli("generate", *extra, *out)
        assert result.returncode == 2, (extra, result.stderr)
        assert message in result.stderr, (extra, result.stderr)
    assert not (tmp_path / "r" / "images.parquet").exists()


def test_a_suite_may_ask_for_a_random_seed(tmp_path):
    suite = tmp_path / "s.yaml"
    suite.write_text("name: s\nversion: 0.1.0\ndescription: d\nimages_per_item: 1\nseed: -1\n"
                     "generation: {steps: 1, guidance: 5.0, width: 32, height: 32}\n"
                     "attributes: [gender_presentation]\n"
                     "templates:\n  - {id: p, text: a photo of a person}\n")
    assert run_cli("probes", "validate", str(suite)).returncode == 0
    result = run_cli("generate", str(suite), "-m", "tiny", "--out", str(tmp_path / "r"))
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "r" / "run.json").read_text())["config"]["seed_drawn"]


def test_audit_run_keeps_the_image_seed_and_the_statistics_seed_apart():
    text = run_cli("run", "--help").stdout
    assert "--seed" in text and "--stats-seed" in text


def test_webui_styles_wrap_or_extend_every_prompt(tmp_path):
    styles = tmp_path / "styles.csv"
    styles.write_text('name,prompt,negative_prompt\n'
                      'cinematic,"cinematic still of {prompt}, film grain","cartoon"\n'
                      'sharp,"highly detailed",\n')
    run = tmp_path / "run"
    result = run_cli("generate", "--prompt", "a photo of a doctor", "--negative-prompt",
                     "blurry", "--style", "cinematic", "--style", "sharp", "--styles",
                     str(styles), "--n", "1", "--out", str(run), *TINY)
    assert result.returncode == 0, result.stderr
    (row,) = pd.read_parquet(run / "images.parquet").itertuples()
    assert row.prompt == "cinematic still of a photo of a doctor, film grain, highly detailed"
    assert row.negative_prompt == "blurry, cartoon"
    card = json.loads((run / "run.json").read_text())
    assert [s["name"] for s in card["config"]["styles"]] == ["cinematic", "sharp"]
    bad = run_cli("generate", "--prompt", "x", "--style", "cinematc", "--styles", str(styles),
                  "--out", str(tmp_path / "r2"), *TINY)
    assert bad.returncode == 2 and "did you mean 'cinematic'" in bad.stderr


def test_a_weighted_prompt_is_recorded_as_written(tmp_path):
    from PIL import Image

    run = tmp_path / "run"
    result = run_cli("generate", "--prompt", "a photo of a (doctor:1.4)", "--n", "1",
                     "--out", str(run), *TINY)
    assert result.returncode == 0, result.stderr
    (row,) = pd.read_parquet(run / "images.parquet").itertuples()
    assert row.prompt == "a photo of a (doctor:1.4)"
    with Image.open(run / row.path) as image:
        assert image.text["parameters"].startswith("a photo of a (doctor:1.4)\n")
    card = json.loads((run / "run.json").read_text())
    assert card["model"]["prompt_weighting"] == "a1111"


def test_a_sweep_over_steps_makes_one_item_per_value_with_the_same_seeds(tmp_path):
    run = tmp_path / "run"
    result = run_cli("generate", "--prompt", "a photo of a chef", "--sweep", "steps=1,2",
                     "--n", "2", "--seed", "5", "--out", str(run), "-m", "tiny",
                     "--size", "32x32")
    assert result.returncode == 0, result.stderr
    images = pd.read_parquet(run / "images.parquet").set_index("image_id")
    assert set(images.index) == {"a-photo-of-a-chef--steps-1/5", "a-photo-of-a-chef--steps-1/6",
                                 "a-photo-of-a-chef--steps-2/5", "a-photo-of-a-chef--steps-2/6"}
    assert images.loc["a-photo-of-a-chef--steps-2/6"].steps == 2
    card = json.loads((run / "run.json").read_text())
    assert card["config"]["sweep"] == {"key": "steps", "values": [1, 2]}
    for bad, message in (("width=1,2", "only steps or guidance"),
                         ("steps=1,1", "distinct values"), ("steps", "KEY=V1,V2")):
        result = run_cli("generate", "--prompt", "x", "--sweep", bad, "--out",
                         str(tmp_path / "r"), *TINY)
        assert result.returncode == 2 and message in result.stderr, (bad, result.stderr)


def test_a_quick_run_takes_the_models_own_settings_and_says_so(tmp_path):
    """toyworld was made for 64 px with its own CLIP and a known truth: a quick
    run on it needs no other flag, offline, and tests the world's attributes
    against the world's shares. A flag still overrides a model default."""
    run = tmp_path / "run"
    result = run_cli("run", "--template", "a photo of {occupation|a}", "--slot",
                     "occupation=nurse,ceo", "--model", "toyworld", "--n", "2",
                     "--steps", "4", "--out", str(run))
    assert result.returncode == 0, result.stderr
    assert "quick run with toyworld's own settings: 64x64; guidance 5.0" in " ".join(
        result.stdout.split())
    card = json.loads((run / "run.json").read_text())
    generation = card["config"]["generation"]
    assert (generation["width"], generation["height"], generation["steps"]) == (64, 64, 4)
    suite = yaml.safe_load((run / "suite.yaml").read_text())
    assert suite["reference"] == "toyworld"
    stats = json.loads((run / "stats.json").read_text())
    tested = {(r["attribute"], r["reference"] is not None) for r in stats["proportions"]}
    assert {("presentation", True), ("tone_group", True), ("age_group", True)} <= tested
    clip = next(c for c in card["scorers"] if c["name"] == "clip")
    assert clip["model"] == "toyworld-clip"
