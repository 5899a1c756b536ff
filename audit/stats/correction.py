"""Correct observed label shares for a classifier's known confusion.

A scorer that calls 10% of women "male" biases every share it produces; with
a confusion matrix measured on labelled images, the true shares can be
estimated (Rogan-Gladen for two classes, least squares on the simplex for
more), with an interval from the joint posterior of the shares and the
matrix, so that a matrix from ten labels per class carries its full
uncertainty (a bootstrap of the counts covered 0.72 there).

Abstentions (``unclear``, ``no_person``) stay in as outcomes: the matrix has
a column for each, and the observed counts include them. Dropping them
instead assumes abstention does not depend on the true class; when it does
(a classifier unsure of one group more than another) the confident shares
are biased and no confusion between confident labels can undo it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


def rogan_gladen(p_observed: float, sensitivity: float, specificity: float) -> float:
    """True prevalence from apparent prevalence, clipped to [0, 1]."""
    youden = sensitivity + specificity - 1
    if youden <= 0:
        raise ValueError("sensitivity + specificity must exceed 1 for a correction")
    return float(np.clip((p_observed + specificity - 1) / youden, 0.0, 1.0))


SUM_WEIGHT = 1e4  # weight of the sum-to-one row: the constraint holds to ~1e-8


def correct_shares(observed: np.ndarray, confusion: np.ndarray) -> np.ndarray:
    """The shares p on the simplex that best explain the observed outcome
    shares: min |M^T p - q|^2 with p >= 0, sum p = 1, where M[i, j] =
    P(outcome j | true i) over every outcome column (abstentions included).
    Non-negative least squares with the sum as a heavily weighted extra row;
    for a square invertible M with a solution inside the simplex this is
    the exact inverse (Rogan-Gladen for two classes)."""
    from scipy.optimize import nnls

    observed = np.asarray(observed, dtype=float)
    confusion = np.asarray(confusion, dtype=float)
    rows = confusion.sum(axis=1, keepdims=True)
    if (rows == 0).any():
        raise ValueError("every true class needs at least one labelled image")
    m = confusion / rows
    shares = observed / observed.sum()
    a = np.vstack([m.T, np.full((1, len(m)), SUM_WEIGHT)])
    b = np.append(shares, SUM_WEIGHT)
    p, _ = nnls(a, b)
    return p / p.sum()


@dataclass(frozen=True)
class Corrected:
    categories: list[str]
    observed: np.ndarray  # share of each true class's label among confident outcomes
    corrected: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    ci_method: str


# Priors of the posterior (stated in stats.json): each confusion row
# Dirichlet(0.5) over the outcomes (Jeffreys; a zero cell is not a certainty),
# the shares Dirichlet(1) (uniform on the simplex).
PRIOR_CONFUSION = 0.5
PRIOR_SHARES = 1.0
MIN_LABELS = 5  # per true class; below it only the interval is reported


def posterior_shares(observed_counts: np.ndarray, confusion_counts: np.ndarray, *,
                     chains: int = 1000, sweeps: int = 40, seed: int = 0) -> np.ndarray:
    """Draws (chains x classes) of the true shares from their joint posterior
    with the confusion rows, by Gibbs sampling: each observed outcome is
    allocated to a true class with probability p_i M_ij, then the shares and
    every row of M are drawn from their Dirichlet posteriors (M's rows from
    the labelled images and the allocations). Independent chains start at
    the least-squares estimate halfway to uniform; the last state of each
    is one draw. Unlike a bootstrap of the counts, the labelled images'
    uncertainty enters in full and a zero cell of the matrix can be nonzero.
    """
    rng = np.random.default_rng(seed)
    observed = np.asarray(observed_counts, dtype=int)
    labelled = np.asarray(confusion_counts, dtype=float)
    classes, outcomes = labelled.shape
    start = correct_shares(observed, labelled + PRIOR_CONFUSION)
    p = np.tile(0.5 * start + 0.5 / classes, (chains, 1))
    m = np.tile((labelled + PRIOR_CONFUSION)
                / (labelled + PRIOR_CONFUSION).sum(axis=1, keepdims=True), (chains, 1, 1))
    for _ in range(sweeps):
        weights = p[:, :, None] * m
        weights /= weights.sum(axis=1, keepdims=True)
        allocated = np.zeros((chains, classes, outcomes))
        for j in np.flatnonzero(observed):
            allocated[:, :, j] = rng.multinomial(observed[j], weights[:, :, j])
        shares = rng.gamma(PRIOR_SHARES + allocated.sum(axis=2))
        p = shares / shares.sum(axis=1, keepdims=True)
        rows = rng.gamma(PRIOR_CONFUSION + labelled[None] + allocated)
        m = rows / rows.sum(axis=2, keepdims=True)
    return p


def correct_with_interval(categories: list[str], observed_counts: np.ndarray,
                          confusion_counts: np.ndarray, *, outcomes: list[str] | None = None,
                          draws: int = 1000, alpha: float = 0.05, seed: int = 0) -> Corrected:
    """Corrected shares: the least-squares point (Rogan-Gladen for two
    classes) and an equal-tailed credible interval from ``posterior_shares``
    (simulated coverage in docs/statistics.md). With fewer than
    ``MIN_LABELS`` labelled images of some true class the point is NaN: the
    interval, wide as it is, is all the labels support.

    ``observed_counts`` and the matrix's columns follow ``outcomes`` (default:
    the categories themselves, i.e. no abstention column)."""
    outcomes = list(outcomes or categories)
    observed_counts = np.asarray(observed_counts, dtype=int)
    confusion_counts = np.asarray(confusion_counts, dtype=int)
    if confusion_counts.shape != (len(categories), len(outcomes)):
        raise ValueError(f"confusion matrix is {confusion_counts.shape}, expected "
                         f"{len(categories)} true classes x {len(outcomes)} outcomes")
    point = correct_shares(observed_counts, confusion_counts)
    if confusion_counts.sum(axis=1).min() < MIN_LABELS:
        point = np.full(len(categories), np.nan)
    samples = posterior_shares(observed_counts, confusion_counts, chains=draws, seed=seed)
    low, high = np.quantile(samples, [alpha / 2, 1 - alpha / 2], axis=0)
    confident = [outcomes.index(c) for c in categories]
    confident_total = observed_counts[confident].sum()
    shown = (observed_counts[confident] / confident_total if confident_total
             else np.full(len(categories), np.nan))
    method = ("Rogan-Gladen" if len(outcomes) == 2 else "constrained least squares")
    kept = [o for o in outcomes if o not in categories]
    abstention = f", abstentions kept as outcomes ({', '.join(kept)})" if kept else ""
    return Corrected(categories, shown, point, low, high,
                     f"{method}{abstention}; {1 - alpha:.0%} credible interval from the joint "
                     f"posterior of shares and confusion (Dirichlet({PRIOR_CONFUSION:g}) prior "
                     f"per confusion row, Dirichlet({PRIOR_SHARES:g}) on the shares; Gibbs, "
                     f"{draws} chains x 40 sweeps, seed {seed})")


@dataclass(frozen=True)
class Confusion:
    """One attribute's confusion of a scorer against known labels: rows the
    true classes, columns every outcome the scorer gives (abstentions
    included when the labelled set has them)."""

    true: list[str]
    outcomes: list[str]
    matrix: np.ndarray
    source: str  # e.g. "confusion file c.json", "human labels"
    groups: dict[str, np.ndarray] | None = None  # per prompt group, where labels allow

    @classmethod
    def from_spec(cls, spec: dict[str, Any], source: str) -> Confusion:
        """A confusion-file entry ({"true", "predicted", "confusion"})."""
        return cls(list(spec["true"]), list(spec["predicted"]),
                   np.asarray(spec["confusion"], dtype=int), source)

    def for_group(self, group: str) -> tuple[np.ndarray, str]:
        if self.groups and group in self.groups:
            return self.groups[group], "group"
        return self.matrix, "pooled"


def outcomes(per_image: pd.DataFrame) -> pd.DataFrame:
    """image_id, group, outcome for valid images with a decision; an image
    without a person is ``no_person`` whatever the label says."""
    valid = per_image[(per_image.status == "ok") & per_image.label.notna()]
    outcome = valid.label.where(valid.person.fillna(False).astype(bool), "no_person")
    return pd.DataFrame({"image_id": valid.image_id, "group": valid.item_id,
                         "outcome": outcome})


def outcome_counts(per_image: pd.DataFrame) -> pd.DataFrame:
    """group, label, count of ``outcomes``."""
    return (outcomes(per_image).groupby(["group", "outcome"]).size().rename("count")
            .reset_index().rename(columns={"outcome": "label"}))


def corrected_rows(outcomes: pd.DataFrame, confusion: dict[str, Confusion], *,
                   alpha: float = 0.05, seed: int = 0) -> list[dict[str, Any]]:
    """Corrected shares per group for every attribute with a confusion.

    ``outcomes``: attribute, group, label, count (abstentions included).
    Outcomes the matrix has no column for are left out and counted in
    ``excluded``: for them, independence of the true class is assumed."""
    rows: list[dict[str, Any]] = []
    for attribute, spec in confusion.items():
        mine = outcomes[outcomes.attribute == attribute]
        for group, frame in mine.groupby("group", sort=False):
            counts = frame.groupby("label")["count"].sum()
            observed = counts.reindex(spec.outcomes).fillna(0).astype(int)
            confident = int(observed.reindex(spec.true).sum())
            if confident == 0:
                continue
            matrix, scope = spec.for_group(str(group))
            out = correct_with_interval(spec.true, observed.to_numpy(), matrix,
                                        outcomes=spec.outcomes, alpha=alpha, seed=seed)
            abstained = int(observed.sum()) - confident
            for i, category in enumerate(spec.true):
                rows.append({"group": group, "attribute": attribute, "category": category,
                             "n": int(observed.sum()), "confident": confident,
                             "abstained": abstained,
                             "excluded": int(counts.sum() - observed.sum()),
                             "observed": float(out.observed[i]),
                             "corrected": float(out.corrected[i]),
                             "ci_low": float(out.ci_low[i]), "ci_high": float(out.ci_high[i]),
                             "ci_method": out.ci_method, "source": spec.source,
                             "confusion_n": int(matrix.sum()), "confusion_scope": scope})
    return rows
