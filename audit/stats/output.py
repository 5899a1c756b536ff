"""Write stats.json (validated against schemas/stats.schema.json, atomically)
and print the readable table."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from audit.paths import schemas_dir
from audit.rundir.atomic import write_text
from audit.stats.assess import StatsResult


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(json.loads((schemas_dir() / "stats.schema.json").read_text()))


def stats_document(result: StatsResult) -> dict[str, Any]:
    """The stats.json document; raises if it breaks its own schema (a bug)."""
    document = result.to_dict()
    errors = sorted(_validator().iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        where = "/" + "/".join(map(str, errors[0].absolute_path))
        raise AssertionError(f"stats.json breaks its schema at {where}: {errors[0].message}")
    return document


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, allow_nan=False) + "\n"


def write_stats(result: StatsResult, path: Path) -> dict[str, Any]:
    document = stats_document(result)
    write_text(path, dumps(document))
    return document


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e-3 and value else f"{value:.{digits}f}"
    return str(value)


def print_summary(document: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    table = Table(title="Perceived-attribute shares (95% CI) vs reference", show_lines=False)
    for column in ("group", "attribute", "category", "k/n", "share", "95% CI", "reference",
                   "log-odds", "test", "p", "p adj."):
        table.add_column(column)
    for row in document["proportions"]:
        table.add_row(row["group"], row["attribute"], row["category"], f"{row['k']}/{row['n']}",
                      _fmt(row["estimate"]), f"[{_fmt(row['ci_low'])}, {_fmt(row['ci_high'])}]",
                      row["reference"] or "-", _fmt(row["log_odds"], 2), row["test"],
                      _fmt(row["p_value"]), _fmt(row["p_adjusted"]))
    console.print(table)
    if document["comparisons"]:
        comparisons = Table(title="Comparisons")
        for column in ("kind", "attribute", "groups", "estimate (95% CI)", "test", "p",
                       "p adj."):
            comparisons.add_column(column)
        for row in document["comparisons"]:
            estimate = "-" if row["estimate"] is None else (
                f"{_fmt(row['estimate'])} [{_fmt(row['ci_low'])}, {_fmt(row['ci_high'])}]")
            comparisons.add_row(row["kind"], row["attribute"], row["groups"], estimate,
                                row["test"], _fmt(row["p_value"]), _fmt(row["p_adjusted"]))
        console.print(comparisons)
    method = document["multiplicity"]
    console.print(f"{method['tests']} test(s), p-values adjusted by {method['method']}. "
                  "Labels are perceived attributes, not identities.")
