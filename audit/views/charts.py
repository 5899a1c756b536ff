"""Charts with matplotlib: shares per group with 95% intervals and the
reference marked; one function serves the viewer and the static report."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd


def share_chart(rows: pd.DataFrame, attribute: str) -> Any:
    """Stacked horizontal bar per group; each segment's end carries its 95%
    interval, and black diamonds mark where the reference would put it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = rows[rows.attribute == attribute]
    groups = list(dict.fromkeys(data.group))
    categories = list(dict.fromkeys(data.category))
    height = max(2.0, 0.45 * len(groups) + 1.2)
    figure, axis = plt.subplots(figsize=(8, height))
    colours = plt.get_cmap("tab10")
    for y, group in enumerate(groups):
        start, ref_start = 0.0, 0.0
        for c, category in enumerate(categories):
            row = data[(data.group == group) & (data.category == category)]
            if row.empty or pd.isna(row.estimate.iloc[0]):
                continue
            row = row.iloc[0]
            axis.barh(y, row.estimate, left=start, color=colours(c % 10),
                      label=category if y == 0 else None)
            end = start + row.estimate
            if c < len(categories) - 1:
                axis.errorbar(end, y, xerr=[[row.estimate - row.ci_low],
                                            [row.ci_high - row.estimate]],
                              fmt="none", ecolor="black", capsize=3, lw=1)
                reference = _reference_share(row.reference)
                if reference is not None:
                    ref_start += reference
                    axis.plot(ref_start, y, marker="D", color="black", markersize=5)
            start = end
    axis.set_yticks(range(len(groups)), [f"{g} (n={_n(data, g)})" for g in groups])
    axis.set_xlim(0, 1)
    axis.set_xlabel(f"share of confidently labelled images ({attribute.replace('_', ' ')}); "
                    "bars: 95% CI; ◆: reference")
    axis.invert_yaxis()
    axis.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    return figure


def _n(data: pd.DataFrame, group: str) -> int:
    return int(data[data.group == group].n.iloc[0])


def _reference_share(reference: str | None) -> float | None:
    if not reference or "=" not in reference:
        return None
    try:
        return float(reference.rpartition("=")[2])
    except ValueError:
        return None


def png_bytes(figure: Any) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return buffer.getvalue()
