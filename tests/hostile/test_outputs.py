"""Outputs that are folders or cannot be written, and a damaged labels file
(issue 32): one storage or input line with the file named, nothing written,
never an internal error."""

import pytest
from PIL import Image

from audit.cli import main


def audit(*args: str) -> int:
    try:
        main(list(args))
    except SystemExit as exc:
        return exc.code
    return 0


@pytest.fixture
def run(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.new("RGB", (16, 16), (10, 20, 30)).save(folder / "a.png")
    assert audit("import", str(folder), "--out", str(tmp_path / "run")) == 0
    return tmp_path / "run"


def _labels(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("image_id,attribute,label\na.png,age_group,adult\n")
    return path


@pytest.mark.parametrize("args", [
    ["labels", "export", "{run}", "-o", "{dir}"],
    ["calibrate", "--images", "{in}", "--labels", "{labels}", "-o", "{dir}"],
    ["calibrate", "{run}", "-o", "{dir}"],
    ["export", "bias", "{run}", "-o", "{dir}"],
], ids=["labels-export-folder", "calibrate-folder", "calibrate-run-folder", "export-folder"])
def test_an_output_that_cannot_be_a_file_is_one_line(run, tmp_path, capsys, args):
    target = tmp_path / "out"
    target.mkdir()
    values = {"{run}": str(run), "{dir}": str(target), "{in}": str(tmp_path / "in"),
              "{labels}": str(_labels(tmp_path))}
    args = [values.get(a, a) for a in args]
    code = audit(*args)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "internal error" not in err and err.startswith("error: ")
    assert "is a folder; give a file name inside it" in err
    assert list(target.iterdir()) == []


def test_a_damaged_labels_file_is_one_line(run, capsys):
    (run / "labels.parquet").write_bytes(b"PAR1 not really parquet PAR1")
    assert audit("labels", "export", str(run)) == 2
    err = capsys.readouterr().err
    assert "cannot read the run's labels" in err and "labels.parquet" in err
    assert "internal error" not in err

