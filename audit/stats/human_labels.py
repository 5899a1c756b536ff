"""What human labels say about the classifiers: consensus truth per image,
confusion of each scorer against it (overall and per prompt group), the
labelled images' own shares, and agreement between reviewers.

Pure functions of DataFrames; ``HumanReview`` gathers them attribute by
attribute for ``audit.stats.run_tables`` when a run has labels.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from audit.api.scorer import ABSTAIN
from audit.stats.correction import Confusion
from audit.stats.correction import outcomes as per_image_outcomes
from audit.stats.intervals import binomial_ci

# Human labels per true class a prompt group needs for its own confusion
# matrix; below it the group uses the pooled one (error differs by prompt,
# but a matrix from three images is noise).
MIN_PER_CLASS = 10


def consensus(labels: pd.DataFrame) -> pd.DataFrame:
    """image_id, attribute, truth, votes, reviewers from current labels. The
    most frequent label wins; a tie, ``unclear`` or ``no_person`` gives no
    truth (truth is None), so such images stay out of every matrix."""
    rows = []
    for (image_id, attribute), frame in labels.groupby(["image_id", "attribute"], sort=False):
        votes = frame.label.value_counts()
        top = votes.index[0]
        tied = len(votes) > 1 and votes.iloc[1] == votes.iloc[0]
        truth = None if tied or top in (*ABSTAIN,) else top
        rows.append({"image_id": image_id, "attribute": attribute, "truth": truth,
                     "votes": int(votes.iloc[0]), "reviewers": int(len(frame))})
    return pd.DataFrame(rows, columns=["image_id", "attribute", "truth", "votes", "reviewers"])


def _matrix(pairs: pd.DataFrame, true: list[str], outcomes: list[str]) -> np.ndarray:
    table = pd.crosstab(pairs.truth, pairs.outcome)
    return table.reindex(index=true, columns=outcomes, fill_value=0).to_numpy(dtype=int)


def scorer_confusion(truth: pd.DataFrame, outcomes: pd.DataFrame, *, attribute: str,
                     scorer: str, true: list[str], outcome_labels: list[str]
                     ) -> tuple[list[dict[str, Any]], Confusion | None]:
    """Confusion records (pooled and per group) and, when every true class has
    a label, the Confusion the correction uses.

    ``truth``: image_id, truth (consensus, confident only). ``outcomes``:
    image_id, group, outcome (the scorer's answer, abstentions included)."""
    pairs = truth[["image_id", "truth"]].merge(outcomes, on="image_id", how="inner")
    pairs = pairs[pairs.truth.isin(true)]
    outcome_labels = list(dict.fromkeys([*outcome_labels, *sorted(set(pairs.outcome))]))
    records = []
    groups: dict[str, np.ndarray] = {}
    pooled = None
    for scope, frame in [("all", pairs), *pairs.groupby("group", sort=True)]:
        if frame.empty:
            continue
        matrix = _matrix(frame, true, outcome_labels)
        confident = frame[~frame.outcome.isin(ABSTAIN)]
        records.append({"scorer": scorer, "attribute": attribute, "scope": str(scope),
                        "n": int(len(frame)), "true": true, "predicted": outcome_labels,
                        "confusion": matrix.tolist(),
                        "accuracy": float((confident.truth == confident.outcome).mean())
                        if len(confident) else None,
                        "abstained": int(len(frame) - len(confident))})
        if scope == "all":
            pooled = matrix
        elif (matrix.sum(axis=1) >= MIN_PER_CLASS).all():
            groups[str(scope)] = matrix
    if pooled is None or (pooled.sum(axis=1) == 0).any():
        return records, None
    return records, Confusion(true, outcome_labels, pooled,
                              f"human labels ({len(pairs)} images)", groups or None)


def labelled_shares(truth: pd.DataFrame, *, attribute: str, categories: list[str],
                    ci_method: str = "wilson", alpha: float = 0.05) -> list[dict[str, Any]]:
    """Shares among the human-labelled images themselves, per group: what a
    person saw, with its own (usually small) n."""
    rows = []
    for group, frame in truth.groupby("group", sort=True):
        n = int(len(frame))
        for category in categories:
            k = int((frame.truth == category).sum())
            low, high = binomial_ci(k, n, method=ci_method, alpha=alpha)
            rows.append({"group": group, "attribute": attribute, "category": category, "n": n,
                         "k": k, "estimate": k / n if n else float("nan"), "ci_low": low,
                         "ci_high": high, "ci_method": ci_method})
    return rows


def reviewer_agreement(labels: pd.DataFrame) -> list[dict[str, Any]]:
    """Cohen's kappa per pair of reviewers over the images both labelled, and
    Fleiss' kappa over images every reviewer labelled (three or more)."""
    from statsmodels.stats.inter_rater import aggregate_raters, cohens_kappa, fleiss_kappa

    out = []
    for attribute, frame in labels.groupby("attribute", sort=True):
        wide = frame.pivot_table(index="image_id", columns="reviewer", values="label",
                                 aggfunc="last")
        reviewers = list(wide.columns)
        categories = sorted(set(frame.label))
        for a, b in combinations(reviewers, 2):
            both = wide[[a, b]].dropna()
            if both.empty:
                continue
            table = pd.crosstab(both[a], both[b]).reindex(index=categories, columns=categories,
                                                          fill_value=0)
            kappa = cohens_kappa(table.to_numpy(), return_results=True)
            out.append({"attribute": attribute, "reviewers": f"{a} vs {b}",
                        "statistic": "Cohen's kappa", "n": int(len(both)),
                        "value": _finite(kappa.kappa), "ci_low": _finite(kappa.kappa_low),
                        "ci_high": _finite(kappa.kappa_upp),
                        "agreement": float((both[a] == both[b]).mean())})
        if len(reviewers) >= 3:
            complete = wide.dropna()
            if len(complete):
                index = {label: i for i, label in enumerate(categories)}
                codes = complete.replace(index).to_numpy(dtype=int)
                counts, _ = aggregate_raters(codes, n_cat=len(categories))
                out.append({"attribute": attribute, "reviewers": ", ".join(reviewers),
                            "statistic": "Fleiss' kappa", "n": int(len(complete)),
                            "value": _finite(fleiss_kappa(counts)), "ci_low": None,
                            "ci_high": None,
                            "agreement": float((complete.nunique(axis=1) == 1).mean())})
    return out


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


class HumanReview:
    """Collects, attribute by attribute, what a run's human labels say."""

    def __init__(self, labels: pd.DataFrame, images: pd.DataFrame) -> None:
        self.labels = labels
        groups = images[["image_id", "item_id"]].rename(columns={"item_id": "group"})
        self.truth = consensus(labels).merge(groups, on="image_id", how="left")
        self.confusion: list[dict[str, Any]] = []
        self.shares: list[dict[str, Any]] = []
        self.corrections: dict[str, Confusion] = {}

    def attribute(self, attribute: str, per_image: pd.DataFrame, decisions: pd.DataFrame,
                  answer: str, categories: list[str], settings: Any) -> None:
        truth = self.truth[(self.truth.attribute == attribute) & self.truth.truth.notna()]
        if truth.empty:
            return
        answered = per_image_outcomes(per_image)
        mine = decisions[decisions.attribute == attribute]
        for scorer in sorted(set(mine.scorer)):
            if scorer == answer:
                given = answered
            else:
                theirs = mine[mine.scorer == scorer][["image_id", "label"]]
                given = answered[["image_id", "group"]].merge(theirs, on="image_id").rename(
                    columns={"label": "outcome"})
            records, fitted = scorer_confusion(truth, given, attribute=attribute,
                                               scorer=scorer, true=categories,
                                               outcome_labels=[*categories, *ABSTAIN])
            for record in records:
                record["answers"] = scorer == answer
            self.confusion += records
            if scorer == answer and fitted is not None:
                self.corrections[attribute] = fitted
        self.shares += labelled_shares(truth[truth.truth.isin(categories)], attribute=attribute,
                                       categories=categories, ci_method=settings.ci_method,
                                       alpha=settings.alpha)

    def document(self) -> dict[str, Any]:
        labels = self.labels
        return {
            "labels": int(len(labels)), "images": int(labels.image_id.nunique()),
            "reviewers": sorted(set(labels.reviewer)),
            "with_truth": int(self.truth.truth.notna().sum()),
            "without_truth": int(self.truth.truth.isna().sum()),
            "confusion": self.confusion, "shares": self.shares,
            "agreement": reviewer_agreement(labels)}
