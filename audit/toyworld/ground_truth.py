"""Separate what the generator drew from what the classifier read.

Per (occupation, attribute, category) cell of an audit of the toy model, the
pixel readers give each generated image's true occupation and attributes.
The share the audit reports (the toy CLIP's, over every image of the
prompt) minus the training-data share splits exactly into four terms:

    CLIP share - data = (model share, readable on-class images - data)  generator
                      + (pixel share, readable images - model share)    off-class images
                      + (CLIP share - pixel share, readable images)     classifier

where on-class images show the prompted occupation. Only the first term is
the model's bias, and it is called amplification only in its direction:
following Wang & Russakovsky (2021, "directional bias amplification", task
-> attribute), a cell's term is + (model - data) when the category is
over-represented in that occupation's training data (its data share above
its share over all occupations) and - (model - data) when under-represented.
Positive: the model exaggerates a correlation in its data; negative: it
weakens or reverses it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from audit.api.scorer import ABSTAIN
from audit.stats.intervals import binomial_ci
from audit.toyworld.readers import read

ATTRIBUTES = {"presentation": ["A", "B"], "tone_group": ["dark", "light", "medium"],
              "age_group": ["old", "young"]}
# The cell each attribute's headline table shows (terminal and report).
HEADLINE = {"presentation": "A", "tone_group": "dark", "age_group": "old"}


def read_run(run: Path) -> pd.DataFrame:
    """One row per stored image of a toy-world run: the prompted occupation
    and the pixel readers' reading."""
    from PIL import Image

    from audit.rundir import RunDir

    rundir = RunDir(Path(run)).require()
    images = rundir.read_images()
    rows = []
    for row in images[images.status == "ok"].itertuples():
        with Image.open(rundir.root / row.path) as image:
            reading = read(image)
        rows.append({"image_id": row.image_id, "item_id": row.item_id,
                     "prompted": json.loads(row.slots)["occupation"],
                     "drawn": reading.occupation, "readable": reading.readable,
                     "rmse": reading.rmse, **reading.attributes()})
    return pd.DataFrame(rows)


def overall_shares(data: dict[tuple[str, str, str], float]) -> dict[tuple[str, str], float]:
    """Each category's share over all occupations (equal numbers per
    occupation in the training data)."""
    sums: dict[tuple[str, str], list[float]] = {}
    for (_, attribute, category), share in data.items():
        sums.setdefault((attribute, category), []).append(share)
    return {key: float(np.mean(values)) for key, values in sums.items()}


def _said(labels: pd.DataFrame, image_ids: pd.Series, attribute: str
          ) -> tuple[np.ndarray, np.ndarray]:
    """The answering scorer's labels for these images, and which are confident."""
    said = (labels[attribute].reindex(image_ids) if attribute in labels
            else pd.Series(None, index=image_ids, dtype=object)).to_numpy(object)
    return said, np.array([isinstance(s, str) and s not in ABSTAIN for s in said])


def _clip_labels(clip: pd.DataFrame) -> pd.DataFrame:
    return clip.pivot_table(index="image_id", columns="attribute", values="label",
                            aggfunc="first")


def _direction(data: dict[tuple[str, str, str], float], overall: dict[tuple[str, str], float],
               occupation: str, attribute: str, category: str) -> int:
    """+1 where the category is over-represented in the occupation's data."""
    return 1 if data[(occupation, attribute, category)] > overall[(attribute, category)] else -1


def _percentiles(values: np.ndarray, alpha: float) -> tuple[float, float]:
    values = values[np.isfinite(values)]
    if not len(values):
        return float("nan"), float("nan")
    low, high = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def separated_terms(readings: pd.DataFrame, clip: pd.DataFrame,
                    data: dict[tuple[str, str, str], float], *, alpha: float = 0.05,
                    draws: int = 2000, seed: int = 0) -> pd.DataFrame:
    """The decomposition per cell. ``readings``: ``read_run``'s table;
    ``clip``: image_id, attribute, label (the audit's answering scorer);
    ``data``: (occupation, attribute, category) -> training-data share.
    Intervals: Wilson for the on-class rate and the model share (so for the
    amplification: the data share is a fixed number); the other terms by a
    percentile bootstrap over the prompt's images."""
    overall = overall_shares(data)
    labels = _clip_labels(clip)
    rng = np.random.default_rng(seed)
    rows = []
    for occupation, frame in readings.groupby("prompted", sort=False):
        on = (frame.drawn == occupation).to_numpy()
        readable = frame.readable.to_numpy(dtype=bool)
        n, n_on = len(frame), int(on.sum())
        on_low, on_high = binomial_ci(n_on, n, alpha=alpha)
        picks = rng.integers(0, n, size=(draws, n))
        for attribute, categories in ATTRIBUTES.items():
            said, decided = _said(labels, frame.image_id, attribute)
            for category in categories:
                truth = (frame[attribute] == category).to_numpy() & readable
                hit = np.array([s == category for s in said]) & decided

                def terms(t: np.ndarray, o: np.ndarray, r: np.ndarray, d: np.ndarray,
                          c: np.ndarray) -> np.ndarray:
                    """(model share, pixel share, CLIP share on readable, CLIP share)
                    along the last axis: rows of draws or one row."""
                    with np.errstate(invalid="ignore", divide="ignore"):
                        return np.stack([(t & o & r).sum(-1) / (o & r).sum(-1),
                                         t.sum(-1) / r.sum(-1),
                                         (c & d & r).sum(-1) / (d & r).sum(-1),
                                         (c & d).sum(-1) / d.sum(-1)], axis=-1)

                model, pixel, clip_readable, clip_share = terms(truth, on, readable, decided,
                                                                hit)
                boot = terms(truth[picks], on[picks], readable[picks], decided[picks],
                             hit[picks])
                k = int((truth & on).sum())
                low, high = binomial_ci(k, int((on & readable).sum()), alpha=alpha)
                share = data[(occupation, attribute, category)]
                sign = _direction(data, overall, occupation, attribute, category)
                amp_low, amp_high = sorted((sign * (low - share), sign * (high - share)))
                rows.append({
                    "occupation": occupation, "attribute": attribute, "category": category,
                    "n": n, "on_class": n_on, "on_class_rate": n_on / n,
                    "on_class_ci_low": on_low, "on_class_ci_high": on_high,
                    "readable": int(readable.sum()), "read_on_class": int((on & readable).sum()),
                    "model_share": model, "model_ci_low": low, "model_ci_high": high,
                    "data_share": share, "over_represented": sign == 1,
                    "amplification": sign * (model - share), "amplification_ci_low": amp_low,
                    "amplification_ci_high": amp_high,
                    "off_class_term": pixel - model,
                    "off_class_ci": _percentiles(boot[:, 1] - boot[:, 0], alpha),
                    "classifier_term": clip_readable - pixel,
                    "classifier_ci": _percentiles(boot[:, 2] - boot[:, 1], alpha),
                    "unreadable_term": clip_share - clip_readable,
                    "unreadable_ci": _percentiles(boot[:, 3] - boot[:, 2], alpha),
                    "clip_n": int(decided.sum()), "clip_share": clip_share})
    return pd.DataFrame(rows)


SMOOTHING = 0.5  # images added, spread evenly, when reading an occupation's variance


def bias_amplification(readings: pd.DataFrame, data: dict[tuple[str, str, str], float], *,
                       alpha: float = 0.05) -> dict[str, dict[str, Any]]:
    """Per attribute, the directional bias amplification of the generator:
    the mean cell term over occupations and categories, on on-class images
    read by pixels. It is a stratified mean (occupation c's images each
    score their category's direction sign), so its variance is the sum of
    the occupations' unbiased variances over their image counts, with a t
    quantile at Welch-Satterthwaite degrees of freedom. Each occupation's
    variance is read from its counts plus half an image spread over the
    categories, so four images all of one category do not claim zero
    variance. A percentile bootstrap over each prompt's images covered
    0.90-0.95, 0.90 at the demo's counts (benchmarks/amplification_coverage.py)."""
    from scipy import stats

    overall = overall_shares(data)
    readable = readings[readings.readable]
    out = {}
    for attribute, categories in ATTRIBUTES.items():
        strata = []
        for occupation, frame in readable.groupby("prompted", sort=False):
            values = frame[frame.drawn == occupation][attribute].to_numpy()
            if len(values):
                signs = np.array([_direction(data, overall, occupation, attribute, c)
                                  for c in categories])
                counts = np.array([(values == c).sum() for c in categories], dtype=float)
                shares = np.array([data[(occupation, attribute, c)] for c in categories])
                strata.append((signs, counts, shares))
        weight = 1 / (len(strata) * len(categories)) if strata else float("nan")
        point, variance, parts = 0.0, 0.0, []
        for signs, counts, shares in strata:
            n = counts.sum()
            point += weight * float(signs @ (counts / n - shares))
            spread = (counts + SMOOTHING / len(categories)) / (n + SMOOTHING)
            scale = n / (n - 1) if n > 1 else 1.0
            part = weight ** 2 * scale * float(signs ** 2 @ spread - (signs @ spread) ** 2) / n
            variance += part
            parts.append((part, max(n - 1, 1)))
        if variance > 0:
            df = variance ** 2 / sum(part ** 2 / d for part, d in parts)
            half = float(stats.t.ppf(1 - alpha / 2, df) * np.sqrt(variance))
        else:
            half = float("nan")
        out[attribute] = {"value": point if strata else float("nan"), "ci_low": point - half,
                          "ci_high": point + half, "occupations": len(strata),
                          "ci_method": "stratified mean over occupations: unbiased variance "
                                       "per occupation, t at Welch-Satterthwaite df"}
    return out


def clip_confusion(readings: pd.DataFrame, clip: pd.DataFrame) -> pd.DataFrame:
    """The toy CLIP against the pixel readers on generated images, per
    prompted occupation and attribute: n, accuracy among confident labels,
    abstention rate."""
    labels = _clip_labels(clip)
    rows = []
    for occupation, frame in readings[readings.readable].groupby("prompted", sort=False):
        for attribute in ATTRIBUTES:
            if attribute not in labels:
                continue
            said, decided = _said(labels, frame.image_id, attribute)
            truth = frame[attribute].to_numpy()
            rows.append({"occupation": occupation, "attribute": attribute, "n": len(frame),
                         "decided": int(decided.sum()),
                         "accuracy": float((said[decided] == truth[decided]).mean())
                         if decided.any() else float("nan"),
                         "abstained": float(1 - decided.mean())})
    return pd.DataFrame(rows)
