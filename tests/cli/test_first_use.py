"""What a new user sees first: tables in an 80-column terminal, progress when
output goes to a file, and errors that answer at once."""

import os
import subprocess
import sys
import threading
import time

import pytest

from tests.conftest import REPO, run_cli

COURSE_COUNTS = "group,category,count\na canadian medical doctor,female,5\n" \
                "a canadian medical doctor,male,15\n"
COURSE_REFERENCE = "group,category,proportion\n*,female,0.45\n*,male,0.55\n"


def audit80(*args):
    env = {**os.environ, "COLUMNS": "80"}
    return subprocess.run([sys.executable, "-m", "audit.cli", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def no_cut_value(text):
    assert "…" not in text, text  # rich's cut mark; help text's own "..." is literal
    assert max(len(line) for line in text.splitlines()) <= 80, text


def test_course_example_fits_80_columns_without_cutting_a_number(tmp_path):
    (tmp_path / "counts.csv").write_text(COURSE_COUNTS)
    (tmp_path / "reference.csv").write_text(COURSE_REFERENCE)
    result = audit80("stats", "--counts", str(tmp_path / "counts.csv"), "--reference",
                     str(tmp_path / "reference.csv"))
    assert result.returncode == 0, result.stderr
    no_cut_value(result.stdout)
    for value in ("5/20", "0.250", "[0.112, 0.469]", "0.077", "exact binomial",
                  "a canadian medical doctor"):
        assert value in result.stdout


@pytest.mark.parametrize("args", [("probes", "list"), ("probes", "show", "smoke"),
                                  ("generate", "--help"), ("run", "--help"),
                                  ("score", "--help"), ("stats", "--help")])
def test_listings_and_help_fit_80_columns(args):
    result = audit80(*args)
    assert result.returncode == 0, result.stderr
    no_cut_value(result.stdout)
    if args == ("probes", "list"):
        assert "counterfactual-controls" in result.stdout


def test_a_wide_table_falls_back_to_blocks_that_keep_every_value():
    from io import StringIO

    from rich.console import Console

    from audit.cli.render import print_table

    out = StringIO()
    console = Console(file=out, width=40)
    print_table(console, ("group", "share", "95% CI", "reference"),
                [("a photo of a software developer", 0.25, "[0.112, 0.469]", "bls=0.45")],
                wrap=("group",))
    text = out.getvalue()
    assert "[0.112, 0.469]" in text and "0.250" in text and "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 40


def test_demo_piped_to_a_file_reports_progress_every_few_seconds_and_no_library_bars(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "audit.cli", "demo", "--n", "4",
                                "--out", str(tmp_path / "demo")], cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "COLUMNS": "80"})
    stamps, lines = [], []

    def read():
        for line in process.stderr:
            stamps.append(time.monotonic())
            lines.append(line)

    started = time.monotonic()
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    stdout = process.stdout.read()
    process.wait(timeout=600)
    reader.join(timeout=10)
    finished = time.monotonic()
    assert process.returncode == 0, "".join(lines)
    gaps = [b - a for a, b in zip([started, *stamps], [*stamps, finished], strict=True)]
    assert max(gaps) <= 10, (gaps, lines)
    text = "".join(lines)
    assert "Loading pipeline components" not in text and "it/s" not in text
    assert any("img/s" in line and "elapsed" in line for line in lines)
    no_cut_value(stdout)
    assert "directional bias amplification, presentation:" in stdout


def test_rate_counts_only_new_images_over_the_stage_time():
    from audit.cli.progress import Reporter

    reporter = Reporter("test", live=False, every=60)
    stage = reporter.stage("generating")
    stage.start(100, 40)  # 40 resumed: not work done now
    time.sleep(0.2)
    stage.advance(10)
    rate = stage.rate()
    assert rate is not None and 10 / 0.5 < rate < 10 / 0.15
    assert "50/100 (50%)" in stage.summary() and "eta" in stage.summary()
    stage.stop()
    reporter.close()


def test_unknown_model_answers_before_torch_with_the_names():
    code = ("import sys\nfrom audit.generators import generator_class\n"
            "try:\n    generator_class('sdxl')\nexcept Exception as exc:\n    print(exc)\n"
            "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=REPO, timeout=60)
    message, torch_loaded = result.stdout.strip().splitlines()
    assert message.startswith("unknown model 'sdxl'; did you mean 'SDXL'? (names: ")
    assert "toyworld" in message and "SDv1.5" in message and "backend" not in message
    assert torch_loaded == "False"


def test_run_help_is_grouped_by_stage():
    text = run_cli("run", "--help").stdout
    headings = [line for line in text.splitlines() if line and not line[0].isspace()
                and line.endswith(":")]
    assert headings == ["Arguments:", "Generation:", "Scoring:", "Statistics:", "Output:",
                        "Other options:"]
    sections = {}
    for line in text.splitlines():
        if line in headings:
            current = line[:-1]
        elif line.strip().startswith("-"):
            sections.setdefault(current, []).append(line.split()[0].rstrip(","))
    assert "--size" in sections["Generation"] and "--scorers" in sections["Scoring"]
    assert "--ci" in sections["Statistics"] and "--grid-intensity" in sections["Output"]
    assert "--score-after" in sections["Scoring"] and "--help" in sections["Other options"]
