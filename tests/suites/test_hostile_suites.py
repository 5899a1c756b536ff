"""Suites written by someone careless or hostile: reads stay in the suite's
folder, work stays bounded, values are checked before a model loads."""

import os
import subprocess
import sys
import time

import pytest

from audit.errors import AuditError, InvalidInput, UsageError
from audit.suites import load_suite, suite_problems
from tests.conftest import REPO

SMOKE = (REPO / "probes" / "smoke.yaml").read_text()


def cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "audit.cli", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "200"})


@pytest.mark.parametrize("target", ["/etc/passwd", "../outside.yaml", "sub/../../outside.yaml"])
def test_include_cannot_leave_the_suite_folder(tmp_path, target):
    (tmp_path / "outside.yaml").write_text("secret: root:x:0:0\n")
    folder = tmp_path / "suites"
    folder.mkdir()
    suite = folder / "evil.yaml"
    suite.write_text(f"include: {target}\n" + SMOKE)
    (problem,) = suite_problems(suite)
    assert "/include" in problem and "suite's own folder" in problem
    assert "root:x" not in problem


def test_include_through_a_symlink_out_is_refused(tmp_path):
    (tmp_path / "outside.yaml").write_text("secret: hunter2\n")
    folder = tmp_path / "suites"
    folder.mkdir()
    (folder / "base.yaml").symlink_to(tmp_path / "outside.yaml")
    suite = folder / "evil.yaml"
    suite.write_text("include: base.yaml\n" + SMOKE)
    (problem,) = suite_problems(suite)
    assert "leads outside the suite's folder" in problem and "hunter2" not in problem


def test_include_inside_the_folder_still_works(tmp_path):
    (tmp_path / "base.yaml").write_text("images_per_item: 3\n")
    suite = tmp_path / "child.yaml"
    suite.write_text("include: base.yaml\n" + SMOKE.replace("images_per_item: 2\n", ""))
    assert load_suite(suite).images_per_item == 3


def test_nested_aliases_are_refused_at_once(tmp_path):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(9))
    suite = tmp_path / "laughs.yaml"
    suite.write_text(bomb)
    started = time.monotonic()
    (problem,) = suite_problems(suite)
    assert time.monotonic() - started < 5
    assert "aliases (*name) are not allowed" in problem and "laughs.yaml:2:" in problem


def test_duplicate_keys_are_an_error_with_the_line(tmp_path):
    suite = tmp_path / "twice.yaml"
    suite.write_text(SMOKE + "seed: 7\n")
    (problem,) = suite_problems(suite)
    assert "duplicate key 'seed'" in problem and f"twice.yaml:{SMOKE.count(chr(10)) + 1}:" \
        in problem


def test_a_seed_past_what_torch_takes_is_caught_by_validate(tmp_path):
    suite = tmp_path / "big.yaml"
    suite.write_text(SMOKE.replace("seed: 42", f"seed: {2**63 - 1}"))
    (problem,) = suite_problems(suite)
    assert "/seed" in problem and "largest seed a torch generator takes" in problem


def test_non_utf8_and_fifo_suites_are_unreadable_not_internal(tmp_path):
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(SMOKE.replace("Four prompts", "Quatre caf\xe9s").encode("latin-1"))
    with pytest.raises(UsageError, match="not UTF-8"):
        load_suite(latin)
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    with pytest.raises(UsageError, match="not a regular file"):
        load_suite(fifo)  # returns at once instead of blocking on the pipe


@pytest.mark.parametrize("args,message", [
    (("--guidance", "inf"), "guidance must be a finite number"),
    (("--size", "0x0"), "width must be a positive multiple of 8"),
    (("--device", "quantum"), "unknown device 'quantum'"),
])
def test_bad_values_stop_before_a_model_loads(tmp_path, args, message):
    result = cli("generate", "smoke", "--model", "tiny", "--out", str(tmp_path / "r"), *args)
    assert result.returncode == 2 and message in result.stderr
    assert not (tmp_path / "r").exists()


def test_a_second_process_on_one_run_is_refused_and_a_dead_ones_lock_taken_over(tmp_path):
    from audit.rundir import RunDir

    run = tmp_path / "run"
    with RunDir(run).lock():
        result = cli("generate", "smoke", "--model", "tiny", "-n", "1", "--out", str(run))
    assert result.returncode == 2
    assert f"another audit process (PID {os.getpid()}) is working on this run" in result.stderr
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nfrom audit.rundir import RunDir\n"
        f"with RunDir({str(run)!r}).lock():\n    print('held', flush=True)\n    time.sleep(60)")],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    holder.kill()  # kill -9 style: the lock file stays, the kernel's lock does not
    holder.wait()
    assert (run / ".lock").exists()
    result = cli("generate", "smoke", "--model", "tiny", "-n", "1", "--out", str(run),
                 "--steps", "1")
    assert result.returncode == 0, result.stderr


def test_leftovers_of_interrupted_writes_are_removed_at_the_next_start(tmp_path):
    run = tmp_path / "run"
    first = cli("generate", "smoke", "--model", "tiny", "-n", "1", "--out", str(run),
                "--steps", "1")
    assert first.returncode == 0, first.stderr
    leftovers = [run / ".images.parquet.abc123.tmp", run / ".run.json.x1.tmp",
                 next((run / "images").iterdir()) / ".42.png.zz.tmp"]
    for path in leftovers:
        path.write_bytes(b"half written")
    again = cli("generate", "smoke", "--model", "tiny", "-n", "1", "--out", str(run),
                "--steps", "1")
    assert again.returncode == 0, again.stderr
    assert not any(path.exists() for path in leftovers)


def test_error_messages_do_not_echo_long_values(tmp_path):
    suite = tmp_path / "long.yaml"
    suite.write_text(SMOKE.replace("name: smoke", "name: [" + "x, " * 5000 + "x]"))
    (problem,) = suite_problems(suite)
    assert len(problem) < 600
    assert isinstance(InvalidInput("x"), AuditError)


def test_console_markup_in_user_text_is_printed_as_text(tmp_path):
    suite = tmp_path / "markup.yaml"
    suite.write_text(SMOKE.replace("name: smoke", "name: smoke\ncontent_warning: 'see [/x] and "
                                                  "[bold]this[/bold]'")
                     .replace("a photo of the face of", "a [/b] photo of the face of"))
    shown = cli("probes", "show", str(suite))
    assert shown.returncode == 0, shown.stderr
    assert "see [/x] and [bold]this[/bold]" in shown.stdout
    assert "a [/b] photo of the face of a nurse" in shown.stdout
    out = tmp_path / "out [/b] dir"
    made = cli("generate", str(suite), "--model", "tiny", "-n", "1", "--steps", "1",
               "--out", str(out))
    assert made.returncode == 0, made.stderr
    assert "see [/x] and [bold]this[/bold]" in made.stderr
    assert f"{out}: 4 generated" in made.stdout
