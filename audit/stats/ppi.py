"""Prediction-powered shares: a random sample of human labels plus the
classifier's labels on every image (PPI++, Angelopoulos, Duchi & Zrnic 2023).

The classifier's share over all images is precise but biased by its errors;
the human labels on a random sample are unbiased but few. PPI++ combines
them: lambda x (classifier share on the unlabelled images) + (human share -
lambda x classifier share) on the labelled ones, lambda chosen from the
data to minimise the variance (clipped to [0, 1]; 0 is the labels alone, 1
plain PPI). Its validity rests only on the labels being a random sample of
the images, not on the classifier's errors being the same everywhere, which
is what the confusion-based correction assumes.

The audit's share is of images a person reads as one of the categories (an
image without a person or an unclear one is not counted), a ratio of two
means; it is estimated with one lambda for both and its variance by the
delta method (the PPI++ variance of y_c - share x y_any). With every image
counted the ratio is the mean itself and the numbers are ``ppi_py``'s
``ppi_mean_ci``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

MIN_LABELLED = 10  # per group; below it the normal approximation means little
# labelled images in and outside a category below which the normal interval
# under-covers (simulated 0.84-0.88 at 20-40 labels and a share of 0.1)
FEW_EITHER_WAY = 10


@dataclass(frozen=True)
class Powered:
    estimate: float
    ci_low: float
    ci_high: float
    lam: float
    classical: float  # the labels alone
    classical_ci_low: float
    classical_ci_high: float


def tuned_lambda(y: np.ndarray, yhat: np.ndarray, yhat_unlabelled: np.ndarray) -> float:
    """PPI++'s power-tuning lambda for a mean: Cov(y, yhat) / ((1 + n/N)
    Var(yhat over all images)), clipped to [0, 1]."""
    n, big_n = len(y), len(yhat_unlabelled)
    covariance = float(np.mean((y - y.mean()) * (yhat - yhat.mean())))
    spread = float(np.var(np.concatenate([yhat, yhat_unlabelled]), ddof=1))
    if spread == 0:
        return 0.0
    return float(np.clip(covariance / ((1 + n / big_n) * spread), 0.0, 1.0))


def powered_ratio(y: np.ndarray, y_any: np.ndarray, yhat: np.ndarray, yhat_any: np.ndarray,
                  yhat_unlabelled: np.ndarray, yhat_any_unlabelled: np.ndarray, *,
                  alpha: float = 0.05) -> Powered:
    """Share mean(y) / mean(y_any) with its PPI++ interval; ``y``: the
    labelled images' human indicators (category, any category), ``yhat``:
    the classifier's on the same images, ``*_unlabelled`` on the rest."""
    y, y_any, yhat, yhat_any, u, u_any = (np.asarray(a, dtype=float) for a in (
        y, y_any, yhat, yhat_any, yhat_unlabelled, yhat_any_unlabelled))
    z = stats.norm.ppf(1 - alpha / 2)

    def share(lam: float) -> float:
        top = lam * u.mean() + (y - lam * yhat).mean()
        bottom = lam * u_any.mean() + (y_any - lam * yhat_any).mean()
        return top / bottom if bottom > 0 else float("nan")

    def interval(lam: float, ratio: float) -> tuple[float, float, float]:
        # the delta method: the ratio's error is that of mean(y - ratio y_any) / mean(y_any)
        bottom = lam * u_any.mean() + (y_any - lam * yhat_any).mean()
        labelled = y - ratio * y_any - lam * (yhat - ratio * yhat_any)
        imputed = lam * (u - ratio * u_any)
        se = float(np.sqrt(imputed.var() / len(u) + labelled.var() / len(y))) / bottom
        return ratio, ratio - z * se, ratio + z * se

    first = share(1.0)
    lam = tuned_lambda(y - first * y_any, yhat - first * yhat_any, u - first * u_any)
    estimate, low, high = interval(lam, share(lam))
    classical, c_low, c_high = interval(0.0, share(0.0))
    return Powered(estimate, low, high, lam, classical, c_low, c_high)


def powered_rows(*, people: pd.DataFrame, outcomes: pd.DataFrame, sample: pd.DataFrame,
                 attribute: str, categories: list[str], alpha: float = 0.05
                 ) -> list[dict[str, Any]]:
    """Prediction-powered shares per group and category of ``attribute``.

    ``people``: image_id, label (people's agreed label on this attribute);
    ``outcomes``: image_id, group, outcome (the answering classifier's, on
    every image the shares count); ``sample``: the label sample. The
    labelled set is the sampled images people have labelled; the others are
    the unlabelled set."""
    rows: list[dict[str, Any]] = []
    sampled = set(sample.image_id)
    truth = people.set_index("image_id").label
    for group, frame in outcomes.groupby("group", sort=False):
        in_sample = frame.image_id.isin(sampled)
        labelled = in_sample & frame.image_id.isin(truth.index)
        n, big_n = int(labelled.sum()), int((~labelled).sum())
        said = frame.outcome.to_numpy(object)
        read = truth.reindex(frame.image_id[labelled]).to_numpy(object)
        note = None
        if n < MIN_LABELLED or big_n == 0:
            note = (f"{n} labelled image(s) of the sample; at least {MIN_LABELLED} needed"
                    if n < MIN_LABELLED else "every image is labelled: the labels alone")
        missing = int(in_sample.sum()) - n
        if note is None and missing:
            note = (f"{missing} sampled image(s) not labelled yet: the interval assumes they "
                    "are missing at random")
        confident = np.isin(said, categories)
        for category in categories:
            row = {"group": group, "attribute": attribute, "category": category,
                   "labelled": n, "unlabelled": big_n, "sampled": int(in_sample.sum()),
                   "note": note}
            inside = int((read == category).sum())
            outside = int(np.isin(read, categories).sum()) - inside
            if note is None and n >= MIN_LABELLED and min(inside, outside) < FEW_EITHER_WAY:
                row["note"] = (f"{inside} labelled image(s) in the category and {outside} "
                               f"outside: with fewer than {FEW_EITHER_WAY} either way the "
                               "normal interval may under-cover")
            if n >= MIN_LABELLED and big_n:
                result = powered_ratio(
                    read == category, np.isin(read, categories),
                    (said == category)[labelled.to_numpy()], confident[labelled.to_numpy()],
                    (said == category)[~labelled.to_numpy()], confident[~labelled.to_numpy()],
                    alpha=alpha)
                row.update({
                    "estimate": result.estimate,
                    "ci_low": max(0.0, result.ci_low), "ci_high": min(1.0, result.ci_high),
                    "lambda": result.lam, "labels_only": result.classical,
                    "labels_only_ci_low": max(0.0, result.classical_ci_low),
                    "labels_only_ci_high": min(1.0, result.classical_ci_high)})
            else:
                row.update(dict.fromkeys(("estimate", "ci_low", "ci_high", "lambda",
                                          "labels_only", "labels_only_ci_low",
                                          "labels_only_ci_high"), float("nan")))
            row["ci_method"] = (f"PPI++ (power-tuned lambda), {1 - alpha:.0%} normal interval, "
                                "delta method for the share of confidently labelled images")
            rows.append(row)
    return rows
