"""stats.json records what it rests on (the scoring, the human labels); the
report and the export refuse it once either has changed, the viewer warns."""

import shutil

import pytest

import audit
from audit.errors import UsageError
from audit.rundir import RunDir
from tests.conftest import TINY_CLIP, run_cli


@pytest.fixture
def run(tmp_path, scored_run):
    copy = tmp_path / "run"
    shutil.copytree(scored_run, copy)
    audit.assess(run=copy)
    return copy


def test_new_labels_make_stats_stale_until_reassessed(run, tmp_path):
    rundir = RunDir(run)
    assert rundir.stale_stats(rundir.read_stats()) is None
    image = rundir.read_images().image_id.iloc[0]
    labels = tmp_path / "labels.csv"
    labels.write_text(f"image_id,attribute,label,reviewer\n{image},gender_presentation,"
                      "female,ann\n")
    assert run_cli("labels", "import", str(run), str(labels)).returncode == 0
    assert rundir.stale_stats(rundir.read_stats()) == "the human labels changed since"
    page = run_cli("report", str(run))
    assert page.returncode == 2
    assert page.stderr.strip() == (f"error: {run / 'stats.json'}: out of date: the human "
                                   f"labels changed since; run 'audit stats {run}' first")
    from audit.views.data import RunView, warnings_for

    assert any("stats.json is out of date" in n for n in warnings_for(RunView(run)))
    audit.assess(run=run)
    assert rundir.stale_stats(rundir.read_stats()) is None
    assert run_cli("report", str(run)).returncode == 0
    # statistics that ignore the labels do not go stale when labels change
    audit.assess(run=run, labels=False)
    labels.write_text(f"image_id,attribute,label,reviewer\n{image},gender_presentation,"
                      "male,bob\n")
    assert run_cli("labels", "import", str(run), str(labels)).returncode == 0
    assert rundir.stale_stats(rundir.read_stats()) is None


def test_rescoring_makes_stats_stale(run):
    audit.score(run=run, scorers=["clip"], device="cpu", scorer_options=TINY_CLIP)
    rundir = RunDir(run)
    assert rundir.stale_stats(rundir.read_stats()) == "the images were scored again since"
    with pytest.raises(UsageError, match="out of date: the images were scored again"):
        audit.report(run=run)
    from audit.assignment.export import export_bias

    with pytest.raises(UsageError, match="out of date"):
        export_bias(run, run.parent / "bias.zip")
