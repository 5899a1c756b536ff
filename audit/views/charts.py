"""Charts with matplotlib, one function for the viewer and the static report:
per attribute, one row per group and one dot per category with its 95%
interval as a whisker and the reference as a hollow diamond on the same
axis, in the category's colour; the legend sits outside the plot."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd


def share_chart(rows: pd.DataFrame, attribute: str) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = rows[rows.attribute == attribute]
    groups = list(dict.fromkeys(data.group))
    categories = list(dict.fromkeys(data.category))
    step = 0.8 / max(len(categories), 1)  # categories of one group spread inside its row
    height = max(2.2, 0.32 * len(groups) * max(1, len(categories) / 2) + 1.4)
    figure, axis = plt.subplots(figsize=(9, height))
    colours = plt.get_cmap("tab10")
    for c, category in enumerate(categories):
        colour = colours(c % 10)
        mine = data[data.category == category].set_index("group")
        for y, group in enumerate(groups):
            if group not in mine.index or pd.isna(mine.loc[group, "estimate"]):
                continue
            row = mine.loc[group]
            offset = y - 0.4 + step * (c + 0.5)
            axis.errorbar(row.estimate, offset, xerr=[[row.estimate - row.ci_low],
                                                     [row.ci_high - row.estimate]],
                          fmt="o", color=colour, ecolor=colour, capsize=2.5, lw=1.2,
                          markersize=4.5, label=category if y == 0 else None)
            reference = _reference_share(row.reference)
            if reference is not None:
                axis.plot(reference, offset, marker="D", markerfacecolor="none",
                          markeredgecolor=colour, markersize=6, linestyle="none")
    for y in range(1, len(groups)):
        axis.axhline(y - 0.5, color="#dddddd", lw=0.6)
    axis.set_yticks(range(len(groups)), [f"{g} (n={_n(data, g)})" for g in groups])
    axis.set_ylim(len(groups) - 0.5, -0.5)
    axis.set_xlim(-0.02, 1.02)
    axis.grid(axis="x", color="#eeeeee", lw=0.6)
    axis.set_xlabel(f"share of confidently labelled images: perceived {attribute.replace('_', ' ')}"
                    " (dot, 95% CI whisker; ◇ reference)")
    axis.legend(title="category", loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
                frameon=False)
    figure.tight_layout()
    return figure


def _n(data: pd.DataFrame, group: str) -> int:
    return int(data[data.group == group].n.iloc[0])


def _reference_share(reference: str | None) -> float | None:
    if not isinstance(reference, str) or "=" not in reference:
        return None
    try:
        return float(reference.rpartition("=")[2])
    except ValueError:
        return None


def png_bytes(figure: Any) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()
