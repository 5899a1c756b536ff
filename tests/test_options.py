"""Options declared once (audit/options.py): the config file's schema is
generated from them and covers every API keyword, the commands' flags come
from them, layers resolve flags > config file > defaults, and every stage's
options are checked before the first image."""

import inspect
import json
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

import audit
from audit.errors import UsageError
from audit.options import (
    GenerationOptions,
    ReportOptions,
    ScoringOptions,
    StatsOptions,
    config_schema,
    spec_of,
)

REPO = Path(__file__).resolve().parents[1]
RUNTIME = {"progress", "command", "scoring"}  # objects, not settings a file can hold


def _keywords(function, *, drop=()):
    return {n for n in inspect.signature(function).parameters if n not in RUNTIME | set(drop)}


def test_the_config_schema_file_is_the_generated_one():
    written = json.loads((REPO / "schemas" / "run-config.schema.json").read_text())
    assert written == config_schema()
    printed = subprocess.run([sys.executable, "-m", "audit.options"], capture_output=True,
                             text=True, check=True, cwd=REPO).stdout
    assert json.loads(printed) == written


def test_the_config_schema_covers_every_api_keyword():
    properties = config_schema()["properties"]
    assert _keywords(audit.run) == set(properties)
    assert _keywords(audit.generate) <= set(properties)
    score = {"device": "score_device", "batch_size": "score_batch_size"}
    assert {score.get(k, k) for k in _keywords(audit.score, drop=("run", "images", "out"))} \
        <= set(properties)
    stats = _keywords(audit.assess, drop=("run", "counts", "reference", "attribute", "out",
                                          "write"))
    assert stats == set(properties["stats"]["properties"])
    assert all(properties[k].get("description") for k in properties)


def test_every_option_of_a_stage_is_a_keyword_of_its_function():
    for cls, function in ((GenerationOptions, audit.generate), (ScoringOptions, audit.score),
                          (StatsOptions, audit.assess), (ReportOptions, audit.report)):
        assert {f.name for f in fields(cls)} <= _keywords(function), cls.__name__


def _command_flags(name):
    import typer

    from audit.cli import _register, app

    _register()
    command = typer.main.get_command(app).commands[name]
    return {flag for p in command.params for flag in (*p.opts, *p.secondary_opts)
            if p.param_type_name == "option"}


def _declared_flags(*classes):
    out = set()
    for cls in classes:
        for f in fields(cls):
            out |= {part for flag in spec_of(f).flags for part in flag.split("/")}
        for alias in cls.aliases:
            out |= {part for flag in alias.flags for part in flag.split("/")}
    return out


@pytest.mark.parametrize("command, classes, own", [
    ("generate", (GenerationOptions,), {"--config"}),
    ("score", (ScoringOptions,), {"--config", "--images", "--out", "-o"}),
    ("stats", (StatsOptions,), {"--counts", "--reference", "--attribute", "--json", "--csv",
                                "--all", "--out", "-o"}),
    ("report", (ReportOptions,), {"--out", "-o"}),
    ("run", (GenerationOptions, ScoringOptions, StatsOptions, ReportOptions),
     {"--config", "--score-after", "--stats-seed"}),
])
def test_the_commands_flags_are_generated_from_the_declarations(command, classes, own):
    declared = _declared_flags(*classes)
    shown = _command_flags(command)
    if command == "run":
        declared.discard("--seed")  # both stages have one: --seed is the images'
        declared.add("--seed")
    assert shown == declared | own


def test_layers_flags_over_config_over_defaults_mappings_key_by_key():
    config = {"suite": "smoke", "model": "tiny", "n": 5, "device": "cpu",
              "generation": {"steps": 9, "width": 64}, "model_options": {"revision": "a"}}
    merged = GenerationOptions.merge(
        flags={"n": 3, "generation": {"steps": 4}, "model_options": {"compile": True}},
        config=config)
    assert merged["n"] == 3 and merged["device"] == "cpu" and merged["suite"] == "smoke"
    assert merged["generation"] == {"steps": 4, "width": 64}
    assert merged["model_options"] == {"revision": "a", "compile": True}
    built = GenerationOptions(**merged)
    assert built.dtype == "auto"  # the built-in default
    quick = GenerationOptions.merge(flags={"prompts": ["a nurse"]}, config=config)
    assert "suite" not in quick  # a quick run on the command line replaces the file's suite
    assert ScoringOptions.merge(flags={}, config={"score_device": "cpu"})["device"] == "cpu"


@pytest.mark.parametrize("bad, words", [
    ({"stats": {"alpha": 2}}, "alpha"),
    ({"stats": {"correction": "bonferoni"}}, "unknown correction"),
    ({"stats": {"confidence": 0.9}}, "stats:"),
    ({"score_device": "gpu0"}, "unknown device"),
    ({"scorers": ["clpi"]}, "did you mean 'clip'"),
    ({"grid_intensity": -1}, "grid intensity"),
    ({"generation": {"width": 30}}, "multiple of 8"),
])
def test_every_stage_is_checked_before_the_first_image(tmp_path, bad, words):
    out = tmp_path / "run"
    with pytest.raises(UsageError, match=words):
        audit.run(suite="smoke", model="tiny", n=1, out=out, **bad)
    assert not out.exists()
