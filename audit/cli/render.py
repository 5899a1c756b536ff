"""Tables for the terminal; user text is printed as data (no console markup)."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e-3 and value else f"{value:.{digits}f}"
    return str(value)


def _row(*cells: Any) -> list[Text]:
    return [Text(str(c)) for c in cells]


def print_summary(document: dict[str, Any], console: Any) -> None:
    table = Table(title="Perceived-attribute shares (95% CI) vs reference", show_lines=False)
    for column in ("group", "attribute", "category", "k/n", "share", "95% CI", "reference",
                   "log-odds", "test", "p", "p adj."):
        table.add_column(column)
    for row in document["proportions"]:
        table.add_row(*_row(row["group"], row["attribute"], row["category"],
                            f"{row['k']}/{row['n']}", _fmt(row["estimate"]),
                            f"[{_fmt(row['ci_low'])}, {_fmt(row['ci_high'])}]",
                            row["reference"] or "-", _fmt(row["log_odds"], 2), row["test"],
                            _fmt(row["p_value"]), _fmt(row["p_adjusted"])))
    console.print(table)
    if document["comparisons"]:
        comparisons = Table(title="Comparisons")
        for column in ("kind", "attribute", "groups", "estimate (95% CI)", "test", "p",
                       "p adj."):
            comparisons.add_column(column)
        for row in document["comparisons"]:
            estimate = "-" if row["estimate"] is None else (
                f"{_fmt(row['estimate'])} [{_fmt(row['ci_low'])}, {_fmt(row['ci_high'])}]")
            comparisons.add_row(*_row(row["kind"], row["attribute"], row["groups"], estimate,
                                      row["test"], _fmt(row["p_value"]),
                                      _fmt(row["p_adjusted"])))
        console.print(comparisons)
    method = document["multiplicity"]
    answers = document["source"].get("answers")
    if answers:
        console.print("answered by: " + ", ".join(f"{a}={s}" for a, s in answers.items()),
                      markup=False)
    console.print(f"{method['tests']} test(s), p-values adjusted by {method['method']}. "
                  "Labels are perceived attributes, not identities.", markup=False)
