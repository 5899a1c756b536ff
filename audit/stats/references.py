"""Reference distributions: what shares an audit compares against.

A reference maps (group, category) to a proportion; group ``*`` applies to
every group. Named references are in ``audit.references``; CSV files are
read by ``audit.user_tables``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from audit.errors import InvalidInput
from audit.registry import suggest


@dataclass(frozen=True)
class Reference:
    """``table``: group, category, proportion and optionally se, the
    reference's own standard error (a survey estimate is not exact; small
    occupations carry more error)."""

    name: str
    source: str
    table: pd.DataFrame  # group, category, proportion[, se]
    parity: bool = False  # 1/K for every group's K categories; the table is empty

    def expected(self, group: str, categories: list[str]) -> dict[str, float] | None:
        """The shares a group is tested against, or None (no row for it)."""
        if self.parity:
            return dict.fromkeys(categories, 1 / len(categories)) if categories else None
        return self.for_group(group)

    def for_group(self, group: str) -> dict[str, float] | None:
        rows = self.table[self.table.group == group]
        if rows.empty:
            rows = self.table[self.table.group == "*"]
        if rows.empty:
            return None
        return dict(zip(rows.category, rows.proportion.astype(float), strict=True))

    def se_for_group(self, group: str) -> dict[str, float] | None:
        """Standard errors of the group's rows, or None when the table has none."""
        if "se" not in self.table.columns:
            return None
        rows = self.table[self.table.group == group]
        if rows.empty:
            rows = self.table[self.table.group == "*"]
        return dict(zip(rows.category, rows.se.astype(float), strict=True))


UNIFORM = Reference("uniform", "parity: 1/K for each of K categories",
                    pd.DataFrame(columns=["group", "category", "proportion"]), parity=True)


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
