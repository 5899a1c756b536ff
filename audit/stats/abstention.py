"""Abstention per group: how often the scorer said ``unclear`` or
``no_person``, whether that rate depends on the group, and what each share
could be if the abstentions were all of one category or none of it.

A share computed from confident labels only is unbiased only if abstention
is unrelated to the true category; these bounds hold without that
assumption (Manski-style worst cases), so a reader sees how much the
abstentions could matter.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from audit.stats.compare import homogeneity
from audit.stats.intervals import binomial_ci


def abstention_tables(outcomes: pd.DataFrame, *, attribute: str, categories: list[str],
                      ci_method: str = "wilson", alpha: float = 0.05
                      ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """``outcomes``: group, label, count over valid images (abstentions included).
    Returns abstention rows per group, share bounds per (group, category) and
    a test of equal abstention across groups."""
    rates, bounds, table = [], [], []
    for group, frame in outcomes.groupby("group", sort=False):
        counts = frame.groupby("label")["count"].sum()
        unclear, no_person = int(counts.get("unclear", 0)), int(counts.get("no_person", 0))
        confident = int(counts.reindex(categories).fillna(0).sum())
        n = confident + unclear + no_person
        abstained = unclear + no_person
        low, high = binomial_ci(abstained, n, method=ci_method, alpha=alpha)
        rates.append({"group": group, "attribute": attribute, "n": n, "confident": confident,
                      "unclear": unclear, "no_person": no_person, "abstained": abstained,
                      "rate": abstained / n if n else float("nan"), "ci_low": low,
                      "ci_high": high, "ci_method": ci_method})
        table.append([confident, abstained])
        for category in categories:
            k = int(counts.get(category, 0))
            bounds.append({"group": group, "attribute": attribute, "category": category,
                           "k": k, "confident": confident, "abstained": abstained,
                           "share": k / confident if confident else float("nan"),
                           "bound_low": k / n if n else float("nan"),
                           "bound_high": (k + abstained) / n if n else float("nan")})
    result = homogeneity(np.array(table)) if len(table) > 1 else None
    test = {"kind": "abstention differs between groups", "attribute": attribute,
            "groups": ", ".join(str(r["group"]) for r in rates), "category": None,
            "n": int(sum(map(sum, table))), "estimate": float("nan"),
            "ci_low": float("nan"), "ci_high": float("nan"), "ci_method": None,
            "test": result.test if result else "none (one group)",
            "test_id": f"abstention:{attribute}",
            "statistic": result.statistic if result else float("nan"),
            "p_value": result.p_value if result else float("nan"), "p_adjusted": float("nan")}
    return rates, bounds, test
