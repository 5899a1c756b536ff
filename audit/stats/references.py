"""Reference distributions: what shares an audit compares against.

A reference maps (group, category) to a proportion; group ``*`` applies to
every group. Named references are built from the tables in
``audit/data/reference`` (sources in the README there).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from audit.errors import InvalidInput, UsageError
from audit.registry import suggest

TOLERANCE = 1e-6


@dataclass(frozen=True)
class Reference:
    name: str
    source: str
    table: pd.DataFrame  # group, category, proportion

    def for_group(self, group: str) -> dict[str, float] | None:
        rows = self.table[self.table.group == group]
        if rows.empty:
            rows = self.table[self.table.group == "*"]
        if rows.empty:
            return None
        return dict(zip(rows.category, rows.proportion.astype(float), strict=True))


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except FileNotFoundError:
        raise UsageError("file not found", where=str(path)) from None
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise UsageError(f"cannot read CSV: {exc}", where=str(path)) from None
    except pd.errors.EmptyDataError:
        raise InvalidInput("the file is empty; expected a header row", where=str(path)) from None


def _require_columns(frame: pd.DataFrame, columns: list[str], path: Path) -> None:
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
    frame = _read_csv(path)
    _require_columns(frame, ["group", "category", "count"], path)
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
        if value < 0 or value != int(value):
            raise InvalidInput(f"field count: {row['count']} must be a non-negative integer",
                               where=where)
        counts.append(int(value))
    frame = frame[["group", "category"]].assign(count=counts)
    _duplicates(frame, path)
    return frame


def read_reference_csv(path: Path) -> Reference:
    """group,category,proportion; each group's proportions sum to 1 (within 1e-6)."""
    frame = _read_csv(path)
    _require_columns(frame, ["group", "category", "proportion"], path)
    values = []
    for index, row in frame.iterrows():
        where = f"{path}:{index + 2}"
        try:
            value = float(row.proportion)
        except ValueError:
            raise InvalidInput(f"field proportion: '{row.proportion}' is not a number",
                               where=where) from None
        if not 0 <= value <= 1:
            raise InvalidInput(f"field proportion: {value} is outside [0, 1]", where=where)
        values.append(value)
    frame = frame[["group", "category"]].assign(proportion=values)
    _duplicates(frame, path)
    for group, rows in frame.groupby("group", sort=False):
        total = rows.proportion.sum()
        if abs(total - 1) > TOLERANCE:
            raise InvalidInput(f"field proportion: group '{group}' sums to {total:.9g}, not 1",
                               where=str(path))
    return Reference(name=path.name, source=str(path), table=frame)


def check_groups(counts: pd.DataFrame, reference: Reference, counts_path: str) -> None:
    """Every counted group has reference rows; every reference group is counted;
    every counted category exists in its group's reference."""
    counted = list(dict.fromkeys(counts.group))
    for group in dict.fromkeys(reference.table.group):
        if group != "*" and group not in counted:
            raise InvalidInput(f"field group: reference group '{group}' has no counts"
                               f"{suggest(group, counted)}", where=reference.source)
    for group, rows in counts.groupby("group", sort=False):
        expected = reference.for_group(group)
        if expected is None:
            raise InvalidInput(f"field group: '{group}' has no reference rows (add them or a "
                               "'*' group)", where=reference.source)
        for category in rows.category:
            if category not in expected:
                raise InvalidInput(
                    f"field category: '{category}' of group '{group}' is not in the reference"
                    f"{suggest(category, list(expected))}", where=counts_path)
