"""The Python API a notebook uses, the seams between stages, and how a
third-party package adds a scorer: through entry points, end to end."""

import json
import os
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

import audit
from audit.errors import InvalidInput, UsageError
from tests.cli.test_cli import audit as cli
from tests.conftest import REPO, TINY_CLIP, plugin_site


def python(code, env=None, cwd=REPO):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def test_run_from_a_plain_script_prints_nothing_and_returns_tables(tmp_path):
    result = python(f"""
        import audit
        result = audit.run(suite="smoke", model="tiny", n=2, out={str(tmp_path / 'run')!r},
                           scorers=["clip"], device="cpu", score_device="cpu",
                           scorer_options={TINY_CLIP!r}, stats={{"ci": "jeffreys"}})
        table = result.assessed.proportions
        assert {{"n", "k", "estimate", "ci_low", "ci_high"}} <= set(table.columns)
        assert set(table.ci_method) == {{"jeffreys"}}
        assert result.report.is_file() and result.scored.decisions > 0
        assert result.generated.requested == result.generated.generated
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    document = json.loads((tmp_path / "run" / "stats.json").read_text())
    assert document["source"]["answers"]["gender_presentation"] == "clip"


def test_stages_one_by_one_resume_and_reread(tmp_path, tiny_generator):
    run = tmp_path / "run"
    first = audit.generate(suite="smoke", model="tiny", n=1, out=run, device="cpu",
                           generation={"steps": 1})
    again = audit.generate(suite="smoke", model="tiny", n=1, out=run, device="cpu",
                           generation={"steps": 1})
    assert first.generated == first.requested and again.skipped == again.requested
    scored = audit.score(run=run, scorers=["clip", "skin_tone"], scorer_options=TINY_CLIP,
                         device="cpu")
    tables = scored.read()
    assert set(tables.decisions.scorer) == {"clip", "skin_tone"}
    assessed = audit.assess(run=run, write=False)
    assert assessed.path is None and not (run / "stats.json").exists()
    assert audit.report(run=run).is_file()


def test_counts_from_a_dataframe():
    counts = pd.DataFrame({"group": ["doctor", "doctor"], "category": ["female", "male"],
                           "count": [5, 15]})
    row = audit.assess(counts=counts).proportions.set_index("category").loc["female"]
    assert (row.n, row.k) == (20, 5) and row.ci_low < 0.25 < row.ci_high


def test_bad_options_fail_before_work(tmp_path):
    with pytest.raises(UsageError, match="unknown option 'clip.modle'; did you mean 'model'"):
        audit.score(images=tmp_path, out=tmp_path / "s.parquet",
                    scorer_options={"clip": {"modle": "x"}}, scorers=["clip"])
    with pytest.raises(UsageError, match="unknown model option 'revison'; did you mean "
                                         "'revision'"):
        audit.generate(suite="smoke", model="tiny", out=tmp_path / "r",
                       model_options={"revison": "main"})
    assert not (tmp_path / "r").exists()


def test_old_single_table_runs_are_refused_with_the_command_that_rescores(tmp_path):
    run = tmp_path / "old"
    audit.generate(suite="smoke", model="tiny", n=1, out=run, device="cpu",
                   generation={"steps": 1})
    pd.DataFrame({"image_id": ["x"], "scorer": ["clip"], "attribute": ["a"], "label": ["b"],
                  "score": [0.5], "decision": ["b"]}).to_parquet(run / "scores.parquet")
    with pytest.raises(InvalidInput, match=f"old single-table format .* audit score {run}"):
        audit.assess(run=run)


def test_probes_validate_rejects_an_unknown_reference_by_name(tmp_path):
    suite = tmp_path / "typo.yaml"
    text = (REPO / "probes" / "smoke.yaml").read_text()
    suite.write_text(text + "reference: bls-cps-2052\n" if "reference:" not in text else
                     text.replace(text.split("reference:")[1].split("\n")[0],
                                  " bls-cps-2052"))
    result = cli("probes", "validate", str(suite))
    assert result.returncode == 1
    assert "/reference: unknown reference 'bls-cps-2052'; did you mean 'bls-cps-2025'?" in (
        result.stdout + result.stderr)


def test_suite_answers_name_known_scorers_and_attributes(tmp_path):
    suite = tmp_path / "answers.yaml"
    suite.write_text((REPO / "probes" / "smoke.yaml").read_text()
                     + "answers: {gender_presentation: nudnet, colour: clip}\n")
    result = cli("probes", "validate", str(suite))
    assert result.returncode == 1
    out = result.stdout + result.stderr
    assert "/answers/gender_presentation: unknown scorer 'nudnet'; did you mean 'nudenet'" in out
    assert "/answers/colour: 'colour' is not one of the suite's attributes" in out


def test_statistics_do_not_depend_on_scorer_order(tmp_path):
    run = tmp_path / "run"
    audit.generate(suite="smoke", model="tiny", n=2, out=run, device="cpu",
                   generation={"steps": 1})
    documents = []
    for order in (["clip", "skin_tone"], ["skin_tone", "clip"]):
        audit.score(run=run, scorers=order, scorer_options=TINY_CLIP, device="cpu")
        documents.append(audit.assess(run=run, write=False).document)
    for key in ("proportions", "comparisons", "funnel"):
        assert documents[0][key] == documents[1][key]


def test_a_malformed_attributes_file_is_one_line_and_exit_1(tmp_path):
    bad = tmp_path / "attrs.yaml"
    bad.write_text("version: 1.0.0\nattributes: {gender: {threshold: 0.1}}\n")
    folder = tmp_path / "images"
    folder.mkdir()
    result = cli("score", "--images", str(folder), "--out", str(tmp_path / "s.parquet"),
                 "--scorers", "clip", "-S", "clip.model=tiny-random", "-S",
                 "clip.pretrained=none", "--attributes", str(bad))
    assert result.returncode == 1
    *progress, last = result.stderr.strip().splitlines()  # progress: heartbeats if slow
    assert last == f"error: {bad} /attributes/gender: 'labels' is a required property"
    assert all(line.endswith("elapsed)") for line in progress)


def test_no_import_cycle_between_stats_references_and_toyworld():
    result = python("""
        import sys
        import audit.stats.run_tables, audit.references, audit.suites
        audit.suites.load_suite("toyworld")  # resolves its reference and scorer options
        heavy = [m for m in ("torch", "diffusers", "audit.toyworld.model",
                             "audit.generators.diffusers_backend") if m in sys.modules]
        print(heavy)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_config_file_and_model_options(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text(textwrap.dedent(f"""\
        suite: smoke
        model: tiny
        n: 1
        out: {tmp_path / 'run'}
        generation: {{steps: 1, scheduler: ddim}}
        scorers: [clip]
        scorer_options: {{clip: {{model: tiny-random, pretrained: none}}}}
        stats: {{correction: holm}}
    """))
    result = cli("run", "--config", str(config), "-M", "generator_device=cpu")
    assert result.returncode == 0, result.stderr
    row = pd.read_parquet(tmp_path / "run" / "images.parquet").iloc[0]
    assert (row.steps, row.scheduler) == (1, "ddim")
    stats = json.loads((tmp_path / "run" / "stats.json").read_text())
    assert stats["settings"]["correction"] == "holm"
    config.write_text("suite: smoke\nmodle: tiny\n")
    result = cli("run", "--config", str(config))
    assert result.returncode == 1 and "modle" in result.stderr


PLUGIN = '''
import numpy as np
from audit.api.scorer import Decision, Measurement, Output, Scored, Scorer, rgb_array


class Brightness(Scorer):
    """Mean brightness, and 'dark' below a threshold."""

    name = "brightness"
    version = "0.1.0"
    options = {"threshold": "mean level below which an image is dark (0-255)"}

    def __init__(self, threshold=128.0):
        self.threshold = float(threshold)

    def labels(self):
        return {"exposure": ["dark", "bright"]}

    def outputs(self):
        return [Output("exposure", "mean_level", "level_0_255", "none",
                       "mean of all RGB values", per_label=False)]

    def score(self, images):
        out = Scored()
        for item in images:
            level = float(rgb_array(item).mean())
            out.measurements.append(Measurement(item.image_id, "exposure", "mean_level",
                                                None, level))
            out.decisions.append(Decision(item.image_id, "exposure",
                                          "dark" if level < self.threshold else "bright"))
        return out

    def card(self):
        return {"name": self.name, "version": self.version, "labels": self.labels(),
                "outputs": [vars(o) for o in self.outputs()]}


class Broken(Brightness):
    name = "broken"

    def score(self, images):
        raise RuntimeError("bug in a plugin")


NOT_A_SCORER = object()
'''


def test_a_third_party_scorer_through_entry_points(tmp_path):
    """What adding a scorer takes: a Scorer subclass and one entry point."""
    site = plugin_site(tmp_path, "brightness_plugin", PLUGIN,
                       "[t2i_audit.scorers]\nbrightness = brightness_plugin:Brightness\n"
                       "broken = brightness_plugin:Broken\n"
                       "nothing = brightness_plugin:NOT_A_SCORER\n")
    folder = tmp_path / "images"
    folder.mkdir()
    from PIL import Image

    night = Image.new("RGB", (16, 16), (20, 20, 20))
    night.putpixel((0, 0), (60, 60, 60))  # not constant, or it would be 'blank'
    night.save(folder / "night.png")
    Image.new("RGB", (16, 16), (230, 220, 210)).save(folder / "day.png")
    Image.new("RGB", (16, 16), (200, 30, 30)).save(folder / "red.png")
    env = {**os.environ, "PYTHONPATH": str(site)}

    def run(*args):
        return subprocess.run([sys.executable, "-m", "audit.cli", *args], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=300)

    out = tmp_path / "scores.parquet"
    result = run("score", "--images", str(folder), "--out", str(out), "--scorers",
                 "brightness", "-S", "brightness.threshold=100")
    assert result.returncode == 0, result.stderr
    decided = pd.read_parquet(out).set_index("image_id").label.to_dict()
    assert decided == {"day.png": "bright", "night.png": "dark", "red.png": "dark"}
    measured = pd.read_parquet(tmp_path / "scores.measurements.parquet")
    assert set(measured.unit) == {"level_0_255"}
    assert run("score", "--images", str(folder), "--out", str(out), "--scorers",
               "brightnes").stderr.strip().endswith("(known: adherence, brightness, broken, "
                                                    "clip, clip_concepts, face_attributes, "
                                                    "nothing, nudenet, "
                                                    "sd_safety_checker, skin_tone, vqa)")
    result = run("score", "--images", str(folder), "--out", str(out), "--scorers", "nothing")
    assert result.returncode == 2 and "is not a Scorer" in result.stderr
    result = run("score", "--images", str(folder), "--out", str(out), "--scorers", "broken")
    assert result.returncode == 3 and "a bug: please report" in result.stderr
