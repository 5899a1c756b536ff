"""Other libraries' warnings never reach the terminal (issue 33): Pillow's
DecompressionBombWarning on a 100-megapixel file, numpy's and statsmodels'
RuntimeWarnings on degenerate counts. Run as a user runs the CLI, in a fresh
interpreter whose default filters would print them."""

import pytest
from PIL import Image

from tests.conftest import run_cli


@pytest.fixture(scope="module")
def bomb(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bomb") / "in"
    folder.mkdir()
    Image.new("1", (10_000, 10_000)).save(folder / "b.png")  # 100 MP: Pillow warns at open
    return folder


@pytest.mark.parametrize("command", ["import", "score"])
def test_a_decompression_bomb_is_our_line_not_pillows_warning(bomb, tmp_path, command):
    args = (["import", str(bomb), "--out", str(tmp_path / "run")] if command == "import" else
            ["score", "--images", str(bomb), "--out", str(tmp_path / "s.parquet"),
             "--scorers", "nudenet"])
    result = run_cli(*args, cwd=tmp_path)
    text = result.stdout + result.stderr
    assert "Warning" not in text and "warnings.warn" not in text, text
    assert "1 error" in text or "errors: 1" in text or "1 unreadable" in text, text


def test_degenerate_counts_print_no_runtime_warning(tmp_path):
    counts = tmp_path / "c.csv"
    counts.write_text("group,category,count\ng,a,0\ng,b,0\nh,a,5\nh,b,0\n")
    result = run_cli("stats", "--counts", str(counts), cwd=tmp_path)
    text = result.stdout + result.stderr
    assert "Warning" not in text and "invalid value" not in text, text
    assert "Traceback" not in text
