"""Tables a user brings: counts and reference CSVs, confusion-matrix JSON.
Read and checked here, with one line naming the file, row and field for any
problem; the statistics receive DataFrames and dicts."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from audit.errors import InvalidInput
from audit.stats.references import Reference

TOLERANCE = 1e-6
MAX_COUNT = 10**12  # more images than anyone generates; beyond it a count is a typo


def read_csv(path: Path, *, what: str = "CSV file") -> pd.DataFrame:
    """Every cell as text, through the one user-file reader. The index is the
    row's line minus 2, so ``index + 2`` names the line, as callers print it."""
    from audit.user_files import csv_header, csv_rows

    lines, rows = [], []
    for line, row in csv_rows(Path(path), what=what):
        lines.append(line - 2)
        rows.append(row)
    if not rows:
        return pd.DataFrame(columns=csv_header(Path(path), what=what), dtype=str)
    return pd.DataFrame(rows, index=lines, dtype=str)


def require_columns(frame: pd.DataFrame, columns: list[str], path: Path) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InvalidInput(f"missing column(s) {', '.join(missing)}; expected a header "
                           f"'{','.join(columns)}' (found '{','.join(frame.columns)}')",
                           where=str(path))
    if frame.empty:
        raise InvalidInput("no data rows", where=str(path))


def _duplicates(frame: pd.DataFrame, path: Path) -> None:
    dup = frame.duplicated(["group", "category"], keep="first")
    if dup.any():
        line = int(dup.idxmax()) + 2
        row = frame.loc[dup.idxmax()]
        raise InvalidInput(f"field group,category: ({row.group}, {row.category}) appears twice",
                           where=f"{path}:{line}")


def read_counts_csv(path: Path) -> pd.DataFrame:
    """group,category,count (long format) -> DataFrame with integer counts."""
    frame = read_csv(path)
    require_columns(frame, ["group", "category", "count"], path)
    counts = []
    for index, row in frame.iterrows():
        where = f"{path}:{index + 2}"
        if not row.group or not row.category:
            raise InvalidInput("field group/category: empty value", where=where)
        try:
            value = float(row["count"])
        except ValueError:
            raise InvalidInput(f"field count: '{row['count']}' is not a number",
                               where=where) from None
        if not math.isfinite(value) or value < 0 or value != int(value) or value > MAX_COUNT:
            raise InvalidInput(f"field count: {row['count'][:40]} must be a whole number from 0 "
                               f"to {MAX_COUNT:.0e}",
                               where=where)
        counts.append(int(value))
    frame = frame[["group", "category"]].assign(count=counts)
    _duplicates(frame, path)
    return frame


def _number(row: Any, field: str, where: str) -> float:
    try:
        value = float(row[field])
    except ValueError:
        raise InvalidInput(f"field {field}: '{str(row[field])[:40]}' is not a number",
                           where=where) from None
    if not math.isfinite(value):
        raise InvalidInput(f"field {field}: {row[field]} is not a finite number", where=where)
    return value


def read_reference_csv(path: Path) -> Reference:
    """group,category,proportion[,se | ,n]; each group's proportions sum to 1
    (within 1e-6). ``se`` is the reference's standard error per row, ``n``
    the sample it was estimated from (se = sqrt(p (1 - p) / n)); either makes
    the tests and differences account for the reference's own error."""
    frame = read_csv(path)
    require_columns(frame, ["group", "category", "proportion"], path)
    if {"se", "n"} <= set(frame.columns):
        raise InvalidInput("give either an 'se' or an 'n' column, not both", where=str(path))
    values, errors = [], []
    for index, row in frame.iterrows():
        where = f"{path}:{index + 2}"
        value = _number(row, "proportion", where)
        if not 0 <= value <= 1:
            raise InvalidInput(f"field proportion: {value} is outside [0, 1]", where=where)
        values.append(value)
        if "se" in frame.columns:
            error = _number(row, "se", where)
            if not 0 <= error < math.sqrt(value * (1 - value)) or (
                    error > 0 and value in (0.0, 1.0)):
                raise InvalidInput(f"field se: {error} must be >= 0 and below "
                                   f"sqrt(p (1 - p)) = {math.sqrt(value * (1 - value)):.4g}",
                                   where=where)
            errors.append(error)
        elif "n" in frame.columns:
            size = _number(row, "n", where)
            if size < 2 or size != int(size):  # one person's answer has no error estimate
                raise InvalidInput(f"field n: {row['n'][:40]} must be a whole number >= 2",
                                   where=where)
            errors.append(math.sqrt(value * (1 - value) / size))
    frame = frame[["group", "category"]].assign(proportion=values)
    if errors:
        frame = frame.assign(se=errors)
    _duplicates(frame, path)
    for group, rows in frame.groupby("group", sort=False):
        total = rows.proportion.sum()
        if abs(total - 1) > TOLERANCE:
            raise InvalidInput(f"field proportion: group '{group}' sums to {total:.9g}, not 1",
                               where=str(path))
    return Reference(name=path.name, source=str(path), table=frame)


def read_confusion(path: Any) -> dict[str, dict[str, Any]]:
    """A confusion file: {"attributes": {name: {"true": [...], "predicted": [...],
    "confusion": [[...]]}}} (rows true, columns predicted), as
    benchmarks/toyworld_validity.py writes it or a labelled validation set gives."""
    from audit.user_files import read_user_json

    path = Path(path)
    document = read_user_json(path, what="confusion file")
    attributes = document.get("attributes") if isinstance(document, dict) else None
    if not isinstance(attributes, dict):
        raise InvalidInput("expected an object with 'attributes'", where=f"{path} /attributes")
    for name, spec in attributes.items():
        where = f"{path} /attributes/{name}"
        if not isinstance(spec, dict):
            raise InvalidInput("expected an object with true, predicted, confusion", where=where)
        for key in ("true", "predicted", "confusion"):
            if key not in spec:
                raise InvalidInput(f"missing '{key}'", where=where)
        true, predicted, matrix = spec["true"], spec["predicted"], spec["confusion"]
        for key, labels in (("true", true), ("predicted", predicted)):
            if (not isinstance(labels, list) or not labels or len(set(labels)) < len(labels)
                    or not all(isinstance(x, str) for x in labels)):
                raise InvalidInput(f"field {key}: expected a list of distinct label names",
                                   where=where)
        missing = [t for t in true if t not in predicted]
        if missing:
            raise InvalidInput(f"field predicted: lacks the true label(s) {', '.join(missing)}",
                               where=where)
        if (not isinstance(matrix, list) or len(matrix) != len(true)
                or not all(isinstance(r, list) and len(r) == len(predicted) for r in matrix)):
            raise InvalidInput(f"field confusion: expected {len(true)} rows (true) of "
                               f"{len(predicted)} counts (predicted)", where=where)
        for i, row in enumerate(matrix):
            if not all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= MAX_COUNT
                       for x in row):
                raise InvalidInput(f"field confusion/{i}: counts must be whole numbers >= 0",
                                   where=where)
            if sum(row) == 0:
                raise InvalidInput(f"field confusion/{i}: no labelled image of true class "
                                   f"'{true[i]}'", where=where)
    return attributes


