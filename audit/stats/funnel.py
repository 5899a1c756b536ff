"""Loss accounting: where images drop out before they are counted.

If "unclear" or "no person" outcomes are more common for some prompts than
others, the shares computed from what remains are biased; the funnel shows
the losses per group and tests whether they differ.
"""

from __future__ import annotations

import pandas as pd

from audit.api.scorer import ABSTAIN
from audit.stats.compare import homogeneity


def funnel(per_image: pd.DataFrame, *, group: str, attribute: str) -> tuple[pd.DataFrame, dict]:
    """``per_image``: one row per requested image with columns ``group``,
    ``status``, ``person`` (bool) and ``label`` (decided label or None).
    Returns the funnel per group and a test of equal drop-out across groups."""
    rows = []
    for name, frame in per_image.groupby(group, sort=False):
        valid = frame.status == "ok"
        person = valid & frame.person.fillna(False).astype(bool)
        labelled = person & frame.label.notna() & ~frame.label.isin(ABSTAIN)
        rows.append({"group": name, "attribute": attribute, "generated": len(frame),
                     "filtered": int((frame.status == "filtered").sum()),
                     "valid": int(valid.sum()), "person": int(person.sum()),
                     "labelled": int(labelled.sum()),
                     "unclear": int((person & (frame.label == "unclear")).sum()),
                     "share_labelled": labelled.sum() / len(frame) if len(frame) else None})
    table = pd.DataFrame(rows)
    result = homogeneity(table[["labelled"]].assign(
        lost=table.generated - table.labelled).to_numpy()) if len(table) > 1 else None
    test = {"kind": "drop-out differs between groups", "attribute": attribute,
            "groups": ", ".join(map(str, table.group)) if len(table) else "",
            "category": None, "n": int(table.generated.sum()) if len(table) else 0,
            "estimate": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"),
            "ci_method": None, "test": result.test if result else "none (one group)",
            "test_id": f"funnel:{attribute}",
            "statistic": result.statistic if result else float("nan"),
            "p_value": result.p_value if result else float("nan"), "p_adjusted": float("nan")}
    return table, test
