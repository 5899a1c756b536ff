"""The CLI as a user runs it: a real subprocess, exit codes, one-line errors."""

import json
import os
import subprocess
import sys

import pandas as pd

from tests.conftest import REPO


def audit(*args, cwd=REPO):
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "audit.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_generate_smoke_on_tiny(tmp_path):
    result = audit("generate", "probes/smoke.yaml", "--model", "tiny", "--out",
                   str(tmp_path / "run"))
    assert result.returncode == 0, result.stderr
    assert "8 generated" in result.stdout
    table = pd.read_parquet(tmp_path / "run/images.parquet")
    assert len(table) == 8 and set(table.status) == {"ok"}
    card = json.loads((tmp_path / "run/run.json").read_text())
    assert card["command"].startswith("audit generate probes/smoke.yaml")


def test_run_with_overrides_records_them(tmp_path):
    result = audit("run", "smoke", "-m", "tiny", "-n", "1", "--out", str(tmp_path / "r"),
                   "--scheduler", "ddim", "--steps", "3", "--size", "32x48",
                   "--clip-model", "tiny-random", "--clip-pretrained", "none")
    assert result.returncode == 0, result.stderr
    row = pd.read_parquet(tmp_path / "r/images.parquet").iloc[0]
    assert (row.scheduler, row.steps, row.width, row.height) == ("ddim", 3, 32, 48)
    assert (tmp_path / "r/stats.json").exists()


def test_run_without_clip_weights_stops_before_generating_and_says_what_to_pass(tmp_path):
    # Scoring while generating builds the scorers first: nothing is generated
    # (or, for an API, paid for) that could not be scored. (Unnamed default
    # scorers without weights are left out instead: tests/pipeline/
    # test_scorer_defaults.py.)
    result = audit("run", "smoke", "-m", "tiny", "-n", "1", "--scorers", "clip,skin_tone",
                   "--out", str(tmp_path / "r"))
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: CLIP weights ViT-L-14/openai are not in the local cache")
    assert "-S clip.pretrained=" in last
    assert "WARNING" not in result.stderr and "ERROR" not in result.stderr
    assert not (tmp_path / "r/images.parquet").exists()


def test_default_out_is_runs_suite_model(tmp_path):
    result = audit("generate", "smoke", "-m", "tiny", "-n", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "runs/smoke__tiny/images.parquet").exists()


def test_malformed_suite_is_one_line_exit_1(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((REPO / "probes/smoke.yaml").read_text().replace("steps: 2", "steps: two"))
    result = audit("generate", str(bad), "--model", "tiny")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and "/generation/steps" in lines[0]
    assert "Traceback" not in result.stderr


def test_unknown_model_is_exit_2_with_suggestion():
    result = audit("generate", "smoke", "--model", "tinny")
    assert result.returncode == 2
    assert "did you mean 'tiny'" in result.stderr and "Traceback" not in result.stderr


def test_offline_hub_model_says_how_to_provide_weights():
    result = audit("generate", "smoke", "--model", "SDXL")
    assert result.returncode == 2
    *progress, last = result.stderr.strip().splitlines()
    assert last.startswith("error: model 'SDXL' is not available offline")
    assert all(line.endswith("elapsed)") for line in progress)  # heartbeats while loading


def test_debug_shows_the_traceback():
    result = audit("generate", "smoke", "--model", "tinny", "--debug")
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_bad_option_is_a_usage_error():
    result = audit("generate", "smoke", "--model", "tiny", "--size", "64")
    assert result.returncode == 2 and "WIDTHxHEIGHT" in result.stderr


def test_probes_list_show_validate(tmp_path):
    listed = audit("probes", "list")
    assert listed.returncode == 0 and "occupations" in listed.stdout
    shown = audit("probes", "show", "smoke", "--json")
    assert shown.returncode == 0
    assert len(json.loads(shown.stdout)["items"]) == 4
    assert audit("probes", "validate").returncode == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: Bad Name\n")
    result = audit("probes", "validate", str(bad))
    assert result.returncode == 1
    assert f"{bad} /name" in result.stderr and f"{bad} /: 'version'" in result.stderr


def test_help_teaches():
    result = audit("generate", "--help")
    assert result.returncode == 0
    for words in ("--model", "--batch-size", "resumes", "SDXL"):
        assert words in result.stdout
