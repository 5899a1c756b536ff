"""Run directory contract: files, PNG metadata, resume after crashes."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from audit.errors import InvalidInput
from audit.rundir.images_table import COLUMNS, JOURNAL, ImagesTable
from audit.rundir.pngmeta import read_png_metadata
from audit.stages.generate import run_generate
from audit.suites import load_suite
from tests.conftest import REPO

CONTRACT_COLUMNS = ["image_id", "suite", "item_id", "template", "slots", "prompt",
                    "negative_prompt", "model", "seed", "steps", "guidance", "width", "height",
                    "scheduler", "batch_id", "batch_index", "batch_size", "path", "sha256",
                    "status", "error", "seconds"]


@pytest.fixture()
def smoke():
    return load_suite("smoke")


def test_run_directory_contract(tmp_path, smoke, tiny_generator):
    summary = run_generate(smoke, tiny_generator, tmp_path, batch_size=3)
    assert summary.requested == summary.generated == 8 and summary.statuses == {"ok": 8}
    table = pd.read_parquet(tmp_path / "images.parquet")
    assert set(CONTRACT_COLUMNS) <= set(table.columns)
    assert len(table) == 8 and table.image_id.is_unique
    assert sorted(table.seed.unique()) == [42, 43]
    for row in table.itertuples():
        data = (tmp_path / row.path).read_bytes()
        assert row.path == f"images/{row.item_id}/{row.seed}.png"
        assert hashlib.sha256(data).hexdigest() == row.sha256
    # batches of 3 across prompts: layout recorded per image
    assert table.groupby("batch_id").size().tolist() == [3, 3, 2]
    card = json.loads((tmp_path / "run.json").read_text())
    assert card["suite"]["name"] == "smoke" and len(card["suite"]["sha256"]) == 64
    assert card["model"]["pipeline_class"] == "StableDiffusionPipeline"
    assert card["model"]["scheduler"]["class"] == "EulerDiscreteScheduler"
    assert card["model"]["safety_checker"] is False
    assert card["packages"]["torch"] and card["finished"]
    assert not (tmp_path / JOURNAL).exists()


def test_png_metadata_round_trip(tmp_path, smoke, tiny_generator):
    run_generate(smoke, tiny_generator, tmp_path, n=1)
    row = pd.read_parquet(tmp_path / "images.parquet").iloc[0]
    parameters, record = read_png_metadata(tmp_path / row.path)
    lines = parameters.split("\n")
    assert lines[0] == row.prompt
    assert lines[1] == "Negative prompt: blurry"
    fields = dict(f.split(": ", 1) for f in lines[2].split(", "))
    assert fields == {"Steps": "2", "Sampler": "Euler", "CFG scale": "5", "Seed": "42",
                      "Size": "64x64", "Model": "tiny"}
    assert record["prompt"] == row.prompt and record["seed"] == 42
    assert json.loads(record["slots"]) == {"occupation": "nurse"}


def test_same_command_same_bytes(tmp_path, smoke, tiny_generator):
    run_generate(smoke, tiny_generator, tmp_path / "a", batch_size=4)
    run_generate(smoke, tiny_generator, tmp_path / "b", batch_size=4)
    a = pd.read_parquet(tmp_path / "a/images.parquet")
    b = pd.read_parquet(tmp_path / "b/images.parquet")
    assert a.sha256.tolist() == b.sha256.tolist()


class _CrashAfter:
    """Progress sink that raises after some batches: an exception mid-run."""

    def __init__(self, batches):
        self.left = batches

    def start(self, total, done):
        self.done = done

    def advance(self, count):
        self.left -= 1
        if self.left == 0:
            raise KeyboardInterrupt


def test_resume_after_interrupt_loses_nothing_and_duplicates_nothing(
        tmp_path, smoke, tiny_generator):
    with pytest.raises(KeyboardInterrupt):
        run_generate(smoke, tiny_generator, tmp_path, batch_size=2, progress=_CrashAfter(2))
    assert not (tmp_path / "images.parquet").exists()
    assert len((tmp_path / JOURNAL).read_text().splitlines()) == 4
    progress = _CrashAfter(-1)
    summary = run_generate(smoke, tiny_generator, tmp_path, batch_size=2, progress=progress)
    assert progress.done == 4 and summary.skipped == 4 and summary.generated == 4
    table = pd.read_parquet(tmp_path / "images.parquet")
    assert len(table) == 8 and table.image_id.is_unique
    card = json.loads((tmp_path / "run.json").read_text())
    assert len(card["history"]) == 2 and card["history"][1]["skipped"] == 4


def test_torn_journal_line_and_damaged_image_are_redone(tmp_path, smoke, tiny_generator):
    run_generate(smoke, tiny_generator, tmp_path, batch_size=4)
    table = ImagesTable(tmp_path)
    damaged = next(iter(table.rows.values()))
    with Image.open(tmp_path / damaged["path"]) as image:
        before = np.asarray(image.convert("RGB"), dtype=np.int16)
    (tmp_path / damaged["path"]).write_bytes(b"not a png")
    with (tmp_path / JOURNAL).open("w") as fh:
        fh.write('{"image_id": "face--nurse/4')  # what kill -9 mid-write leaves
    summary = run_generate(smoke, tiny_generator, tmp_path, batch_size=4)
    assert summary.generated == 1 and summary.skipped == 7
    redone = ImagesTable(tmp_path).rows[damaged["image_id"]]
    with Image.open(tmp_path / redone["path"]) as image:
        after = np.asarray(image.convert("RGB"), dtype=np.int16)
    # the same seed redone in a batch of its own: the same image within the
    # rounding docs/generation.md states (batch composition changes kernels)
    assert np.abs(after - before).max() <= 2 and len(redone["sha256"]) == 64


def test_resuming_with_another_suite_is_refused(tmp_path, smoke, tiny_generator):
    run_generate(smoke, tiny_generator, tmp_path, n=1)
    with pytest.raises(InvalidInput, match="/suite/name"):
        run_generate(load_suite("traits"), tiny_generator, tmp_path, n=1)


def test_larger_n_extends_the_run(tmp_path, smoke, tiny_generator):
    run_generate(smoke, tiny_generator, tmp_path, n=1)
    summary = run_generate(smoke, tiny_generator, tmp_path, n=3)
    assert summary.skipped == 4 and summary.generated == 8
    assert len(pd.read_parquet(tmp_path / "images.parquet")) == 12


def test_kill_9_mid_run_then_resume(tmp_path):
    """A real SIGKILL of the CLI: at most the in-flight batch is lost."""
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "audit.cli", "generate", "smoke", "--model", "tiny",
           "--out", str(out), "-n", "40", "--batch-size", "4"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    journal = out / JOURNAL
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if journal.exists() and len(journal.read_text().splitlines()) >= 8:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len([line for line in journal.read_text().splitlines() if line.endswith("}")])
    pngs_before = {p: p.read_bytes() for p in out.rglob("*.png")}
    for path in pngs_before:  # written by rename: never a half-written PNG
        with Image.open(path) as image:
            image.load()
    result = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert f"resuming, {done_before} of 160 images already done" in result.stderr
    table = pd.read_parquet(out / "images.parquet")
    assert len(table) == 160 and table.image_id.is_unique and set(table.status) == {"ok"}
    for path, data in pngs_before.items():  # images finished before the kill are untouched
        assert path.read_bytes() == data
    assert list(table.columns) == COLUMNS


def test_a_prompt_cannot_forge_fields_of_the_parameters_chunk(tmp_path, tiny_generator):
    """A prompt with newlines, a fake 'Negative prompt:' line and a fake
    fields line reads back, by A1111's rules, as exactly the prompt written."""
    from audit.rundir.pngmeta import parse_parameters
    from audit.stages.generate import run_generate
    from audit.suites import load_suite

    forged = "a nurse\nNegative prompt: blurry\nSteps: 99, Seed: 1, Model: fake \\ end"
    suite = tmp_path / "forge.yaml"
    suite.write_text(textwrap.dedent("""\
        name: forge
        version: 0.1.0
        description: a prompt that tries to forge PNG fields
        images_per_item: 1
        seed: 3
        generation: {steps: 1, guidance: 5.0, width: 32, height: 32, scheduler: euler}
        attributes: [gender_presentation]
        templates:
          - {id: p, text: "{who}"}
        slots:
          who: [%s]
    """) % json.dumps(forged))
    run = tmp_path / "run"
    run_generate(load_suite(suite), tiny_generator, run)
    row = pd.read_parquet(run / "images.parquet").iloc[0]
    parameters, record = read_png_metadata(run / row.path)
    parsed = parse_parameters(parameters)
    assert parsed["prompt"] == forged == record["prompt"]
    assert parsed["negative_prompt"] == ""
    assert parsed["fields"]["Steps"] == "1" and parsed["fields"]["Seed"] == "3"
    assert len(parameters.splitlines()) == 2  # the prompt, then our fields line


def test_a_labels_write_in_progress_is_not_a_leftover(tmp_path):
    """A stage starting while someone saves a label must not delete that
    write's temporary file; once the labels lock is free, it is a leftover."""
    import fcntl

    from audit.rundir import RunDir

    run = RunDir(tmp_path)
    writing = tmp_path / ".labels.parquet.abc.tmp"
    stale = tmp_path / ".run.json.x1.tmp"
    for path in (writing, stale):
        path.write_bytes(b"partial")
    with open(tmp_path / ".labels.lock", "a") as handle:  # another process mid-write
        fcntl.flock(handle, fcntl.LOCK_EX)
        holder = subprocess.run([sys.executable, "-c", (
            "from pathlib import Path; from audit.rundir import RunDir; "
            f"print(len(RunDir(Path({str(tmp_path)!r})).remove_leftovers()))")],
            cwd=REPO, capture_output=True, text=True, timeout=60)
        assert holder.stdout.strip() == "1", holder.stderr
        assert writing.exists() and not stale.exists()
    assert run.remove_leftovers() == [writing]
