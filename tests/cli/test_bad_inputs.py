"""Broken input files: one line naming the file, the promised exit code, never
'internal error'. Each case is made here; none is committed."""

import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO


def cli(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "audit.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "200"})


@pytest.fixture(scope="module")
def good_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("good") / "run"
    result = cli("generate", "smoke", "--model", "tiny", "-n", "1", "--steps", "1", "--out",
                 str(run))
    assert result.returncode == 0, result.stderr
    return run


def broken_copy(good_run, tmp_path, name, data):
    run = tmp_path / "run"
    shutil.copytree(good_run, run)
    (run / name).write_bytes(data)
    return run


COUNTS = {
    "nan": ("group,category,count\ng,a,nan\ng,b,3\n", 1, ":2: field count: nan must be"),
    "inf": ("group,category,count\ng,a,inf\ng,b,3\n", 1, ":2: field count: inf must be"),
    "huge": ("group,category,count\ng,a,1e30\ng,b,3\n", 1, ":2: field count: 1e30 must be"),
    "negative": ("group,category,count\ng,a,-1\n", 1, ":2: field count: -1 must be"),
    "fraction": ("group,category,count\ng,a,2.5\n", 1, ":2: field count: 2.5 must be"),
    "header": ("grp,cat,n\ng,a,1\n", 1, "missing column(s) group, category, count"),
    "empty": ("", 1, "the file is empty"),
    "duplicate": ("group,category,count\ng,a,1\ng,a,2\n", 1, "appears twice"),
}


@pytest.mark.parametrize("case", list(COUNTS))
def test_bad_counts_csv(tmp_path, case):
    text, code, message = COUNTS[case]
    path = tmp_path / "counts.csv"
    path.write_text(text)
    result = cli("stats", "--counts", str(path))
    assert result.returncode == code, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {path}") and message in line, line


@pytest.mark.parametrize("name,data,code,message", [
    ("images.parquet", b"garbage", 2, "cannot read Parquet"),
    ("images.parquet", b"", 2, "cannot read Parquet"),
    ("run.json", b"{not json", 2, "cannot read"),
    ("run.json", b"[1, 2]", 1, "not a valid run.json"),
    ("run.json", b'{"format": "t2i-audit-run/2"}', 1, "not a valid run.json"),
    ("run.json", b"\xff\xfe", 2, "cannot read"),
])
def test_damaged_run_files(good_run, tmp_path, name, data, code, message):
    run = broken_copy(good_run, tmp_path, name, data)
    for command in (("stats", str(run)), ("report", str(run)),
                    ("score", str(run), "--scorers", "skin_tone")):
        result = cli(*command)
        assert result.returncode == code, (command, result.stderr)
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith("error: ") and message in last and str(run) in last, last
        assert "internal error" not in result.stderr


def test_random_bytes_as_a_checkpoint(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(os.urandom(2048))
    result = cli("generate", "smoke", "--model", str(path), "--out", str(tmp_path / "r"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(
        f"error: {path}: not a loadable checkpoint")


def test_outputs_at_the_wrong_kind_of_path(good_run, tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    result = cli("generate", "smoke", "--model", "tiny", "--out", str(a_file))
    assert result.returncode == 2 and "is a file, not a run directory" in result.stderr
    result = cli("report", str(good_run), "-o", str(tmp_path))
    assert result.returncode == 2 and "is a folder; give the report's file name" in \
        result.stderr


def test_deeply_nested_json_submission(tmp_path):
    path = tmp_path / "bias.json"
    path.write_text("[" * 100_000)
    result = cli("validate", str(path))
    assert result.returncode == 1 and "nested too deeply" in result.stdout


def test_the_viewer_shows_one_line_for_a_damaged_run(good_run, tmp_path):
    from streamlit.testing.v1 import AppTest

    from audit.paths import viewer_app

    run = broken_copy(good_run, tmp_path, "images.parquet", b"garbage")
    os.environ["T2I_AUDIT_RUNS"] = str(run)
    try:
        at = AppTest.from_file(str(viewer_app()), default_timeout=60).run()
    finally:
        del os.environ["T2I_AUDIT_RUNS"]
    assert not at.exception
    (box,) = at.error
    assert "cannot open run" in box.value and "cannot read Parquet" in box.value
    assert "Traceback" not in box.value


def test_a_full_disk_names_the_file_and_keeps_what_was_written(tmp_path):
    """A real full filesystem (a 64 kB tmpfs): one line naming the file, exit 2;
    with room again, the same command resumes and finishes."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)],
                             capture_output=True)
    if mounted.returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        run = disk / "run"
        args = ["generate", "smoke", "--model", "tiny", "-n", "8", "--steps", "1",
                "--batch-size", "4", "--out", str(run)]
        result = cli(*args)
        assert result.returncode == 2, result.stderr
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith(f"error: {run}") and "No space left on device" in last, last
        assert "rerun the same command to resume" in last
        subprocess.run(["mount", "-o", "remount,size=4m", str(disk)], check=True)
        again = cli(*args)
        assert again.returncode == 0, again.stderr
        import re

        generated, kept = map(int, re.search(r"(\d+) generated, (\d+) already done",
                                             again.stdout).groups())
        assert kept > 0 and generated + kept == 32  # 4 prompts x 8 seeds
    finally:
        subprocess.run(["umount", str(disk)], check=False)
