"""Bias among images that follow the prompt.

A prompt for a teacher that draws a teacher half the time reports shares
over teachers and whatever else was drawn. With the adherence scorer's
on-class decision per image, each share is also computed among on-class
images (conditional) beside the share over all images (unconditional), and
a test says whether on- and off-class images differ in the attribute: the
two shares can differ only if they do.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from audit.api.scorer import ON_CLASS
from audit.stats.compare import homogeneity
from audit.stats.intervals import binomial_ci


def on_class_labels(decisions: pd.DataFrame, scorer: str | None = None,
                    people: pd.Series | None = None) -> pd.Series:
    """image_id -> on / off / unclear, from ``scorer`` (the one answering
    on_class when two decide it: adherence's CLIP and a VQA model); where
    people agree on an image (``people``: image_id -> label), theirs wins, as
    for every other attribute."""
    rows = decisions[decisions.attribute == ON_CLASS]
    if scorer is not None:
        rows = rows[rows.scorer == scorer]
    said = rows.drop_duplicates("image_id").set_index("image_id").label
    if people is None or people.empty:
        return said
    return pd.concat([said[~said.index.isin(people.index)], people.astype(str)])


def adherence_rates(images: pd.DataFrame, decisions: pd.DataFrame,
                    measurements: pd.DataFrame | None, *, ci_method: str, alpha: float,
                    scorer: str | None = None,
                    people: pd.Series | None = None) -> list[dict[str, Any]]:
    """Per prompt: how many images were judged, on / off / unclear, the
    on-class rate among decided images with its interval (``scorer``'s
    decisions, people's where they labelled on_class: ``reviewed`` counts
    those), and CLIPScore."""
    said = on_class_labels(decisions, scorer, people)
    people = people if people is not None else pd.Series(dtype=str)
    scores = pd.Series(dtype=float)
    truncated = pd.Series(dtype=float)
    if measurements is not None and len(measurements):
        mine = measurements[(measurements.attribute == ON_CLASS)
                            & (measurements.scorer == "adherence")]
        scores = mine[mine.quantity == "clipscore"].set_index("image_id").value
        truncated = mine[mine.quantity == "prompt_truncated"].set_index("image_id").value
    if said.empty and scores.empty:
        return []
    valid = images[images.status == "ok"]
    rows = []
    for item_id, frame in valid.groupby("item_id", sort=False):
        labels = said.reindex(frame.image_id).dropna()
        on, off = int((labels == "on").sum()), int((labels == "off").sum())
        clip = scores.reindex(frame.image_id).dropna()
        low, high = binomial_ci(on, on + off, method=ci_method, alpha=alpha)
        rows.append({
            "group": item_id, "prompt": frame.prompt.iloc[0], "images": len(frame),
            "scorer": scorer,
            "judged": len(labels), "reviewed": int(frame.image_id.isin(people.index).sum()),
            "on": on, "off": off,
            "unclear": int((labels == "unclear").sum()),
            "on_rate": on / (on + off) if on + off else float("nan"),
            "ci_low": low, "ci_high": high, "ci_method": ci_method,
            "clipscore_mean": float(clip.mean()) if len(clip) else float("nan"),
            "clipscore_sd": float(clip.std(ddof=1)) if len(clip) > 1 else float("nan"),
            "clipscore_n": len(clip),
            "truncated_prompt": bool(truncated.reindex(frame.image_id).fillna(0).gt(0).any()),
        })
    return rows


def conditional_rows(labelled: pd.DataFrame, said: pd.Series, *, attribute: str,
                     categories: list[str], ci_method: str, alpha: float, seed: int = 0,
                     draws: int = 20000) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``labelled``: the images counted in the shares (item_id, image_id,
    label). Per prompt and category: the share among all of them and among
    the on-class ones, each with n and an interval; and per prompt a test of
    equal shares in on- and off-class images (a diagnostic, outside the
    multiplicity family)."""
    rows, tests = [], []
    frame = labelled.assign(on_class=labelled.image_id.map(said))
    for item_id, group in frame.groupby("item_id", sort=False):
        if group.on_class.isna().all():
            continue
        on = group[group.on_class == "on"]
        off = group[group.on_class == "off"]
        for category in categories:
            k_all, n_all = int((group.label == category).sum()), len(group)
            k_on, n_on = int((on.label == category).sum()), len(on)
            rows.append({
                "group": item_id, "attribute": attribute, "category": category,
                "n": n_all, "k": k_all, "estimate": k_all / n_all if n_all else float("nan"),
                "ci_low": binomial_ci(k_all, n_all, method=ci_method, alpha=alpha)[0],
                "ci_high": binomial_ci(k_all, n_all, method=ci_method, alpha=alpha)[1],
                "n_on_class": n_on, "k_on_class": k_on,
                "on_class_estimate": k_on / n_on if n_on else float("nan"),
                "on_class_ci_low": binomial_ci(k_on, n_on, method=ci_method, alpha=alpha)[0],
                "on_class_ci_high": binomial_ci(k_on, n_on, method=ci_method, alpha=alpha)[1],
                "n_off_class": len(off), "ci_method": ci_method,
            })
        table = np.array([[int((part.label == c).sum()) for c in categories]
                          for part in (on, off)])
        table = table[:, table.sum(axis=0) > 0]
        testable = len(on) and len(off) and table.shape[1] > 1
        result = homogeneity(table, draws=draws, seed=seed) if testable else None
        tests.append({
            "kind": "shares differ between on- and off-class images", "attribute": attribute,
            "groups": str(item_id), "category": None, "n": len(on) + len(off),
            "estimate": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"),
            "ci_method": None,
            "test": result.test if result else "none (needs on- and off-class images in "
                                                "two or more categories)",
            "test_id": f"adherence:{attribute}:{item_id}",
            "statistic": result.statistic if result else float("nan"),
            "p_value": result.p_value if result else float("nan"),
            "p_adjusted": float("nan")})
    return rows, tests
