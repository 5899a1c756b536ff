"""Default scorers on a machine without the default CLIP's weights: left out
with one line saying how to add them, unless the caller named or configured
them; one -S clip.model configures every CLIP scorer."""

import json

import pytest

from tests.conftest import run_cli


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("defaults") / "run"
    result = run_cli("generate", "smoke", "--model", "tiny", "-n", "1", "--size", "32x32",
                     "--steps", "1", "--out", str(run))
    assert result.returncode == 0, result.stderr
    return run


@pytest.fixture
def offline():
    return {"HF_HUB_OFFLINE": "1"}  # the hub is never reachable here; this makes it quick


def test_default_clip_scorers_without_weights_are_left_out_and_said(tiny_run, offline):
    result = run_cli("score", str(tiny_run), env=offline)
    assert result.returncode == 0, result.stderr
    said = " ".join(result.stdout.split())
    assert "note: left out clip, clip_concepts: CLIP weights ViT-L-14/openai are not in the " \
           "local cache" in said
    assert "-S clip.model=NAME -S clip.pretrained=FILE" in said
    card = json.loads((tiny_run / "run.json").read_text())
    assert [c["name"] for c in card["scorers"]] and "clip" not in {
        c["name"] for c in card["scorers"]}


def test_a_named_scorer_without_weights_stays_an_error(tiny_run, offline):
    result = run_cli("score", str(tiny_run), "--scorers", "clip,skin_tone", env=offline)
    assert result.returncode == 2
    assert "CLIP weights ViT-L-14/openai are not in the local cache" in result.stderr


def test_one_clip_model_option_configures_every_clip_scorer(tiny_run, offline):
    result = run_cli("score", str(tiny_run), "-S", "clip.model=tiny-random", "-S",
                     "clip.pretrained=none", env=offline)
    assert result.returncode == 0, result.stderr
    card = json.loads((tiny_run / "run.json").read_text())
    models = {c["name"]: c.get("model") for c in card["scorers"]}
    assert models["clip"] == models["clip_concepts"] == "tiny-random"
