"""Every command block of the README, run as written in a fresh folder,
offline, on the bundled models: a block either exits 0 or says on its first
line that it needs weights. The blocks are read from the README, not copied
here, so a command added there is a command tested here."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

BLOCK = re.compile(r"^```(bash|python)\n(.*?)^```", re.S | re.M)
NEEDS_WEIGHTS = "# needs weights"
INSTALL = re.compile(r"^pip install [^&]+&&\s*")  # CI installs; the rest is the command
TEST_COMMAND = "python -m pytest"  # the README's test command: this very run


def readme_blocks() -> list[tuple[str, str]]:
    return BLOCK.findall((REPO / "README.md").read_text())


def uncommented(line: str) -> str:
    """The line up to a '#' that starts a shell comment (not one in quotes)."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def commands(block: str) -> list[str]:
    """Shell lines of a block, without comments or the install step."""
    return [INSTALL.sub("", line) for line in map(uncommented, block.splitlines()) if line]


def test_the_readme_has_blocks_and_marks_the_ones_needing_weights():
    blocks = readme_blocks()
    runnable = [b for kind, b in blocks if kind == "bash" and not b.startswith(NEEDS_WEIGHTS)]
    assert len(runnable) >= 3 and any(b.startswith(NEEDS_WEIGHTS) for _, b in blocks)
    lines = [c for b in runnable for c in commands(b)]
    assert "audit demo" in lines and TEST_COMMAND in lines


@pytest.mark.slow
def test_every_readme_block_runs_offline_in_a_fresh_folder(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "COLUMNS": "120", "PATH": f"{Path(sys.executable).parent}{os.pathsep}"
                                     f"{os.environ.get('PATH', '')}"}
    ran = []
    for kind, block in readme_blocks():
        if block.startswith(NEEDS_WEIGHTS):
            continue
        if kind == "python":
            result = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, env=env,
                                    capture_output=True, text=True, timeout=600)
            assert result.returncode == 0, f"README python block:\n{block}\n{result.stderr}"
            assert result.stdout == "", "the API prints nothing"
            ran.append("python block: " + block.splitlines()[2])
            continue
        for command in commands(block):
            if command == TEST_COMMAND:
                continue
            result = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env,
                                    capture_output=True, text=True, timeout=600)
            assert result.returncode == 0, f"README: {command}\n{result.stdout}\n" \
                                           f"{result.stderr}"
            ran.append(command)
    print("\n".join(ran))  # the closing note's list: pytest -s tests/test_readme.py
    assert (tmp_path / "runs" / "demo" / "report.html").is_file()
    assert (tmp_path / "review.csv").read_text().startswith("image_id,image_path,prompt")
