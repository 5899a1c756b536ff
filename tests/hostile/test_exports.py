"""Hostile text in tables the CLI writes (issue 33): a cell a spreadsheet
would run as a formula is quoted, control characters are escaped, and a
table's numbers are untouched."""

import io

import pandas as pd

from tests.conftest import run_cli


def test_stats_csv_cells_are_not_formulas(tmp_path):
    counts = tmp_path / "c.csv"
    counts.write_text('group,category,count\n"=HYPERLINK(""http://x"")",a,3\n'
                      '"=HYPERLINK(""http://x"")",b,4\n"@cmd|\' /C calc\'!A0",a,1\n'
                      '"@cmd|\' /C calc\'!A0",b,2\n"ti\x1b]0;x\x07tle",a,2\n'
                      '"ti\x1b]0;x\x07tle",b,2\n')
    result = run_cli("stats", "--counts", str(counts), "--csv")
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    table = pd.read_csv(io.StringIO(result.stdout))
    assert set(table.group) == {"'=HYPERLINK(\"http://x\")", "'@cmd|' /C calc'!A0",
                                "ti\\x1b]0;x\\x07tle"}
    assert table.k.tolist() == [3, 4, 1, 2, 2, 2]  # numbers unchanged
