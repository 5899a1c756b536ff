"""Which images a person should label: a simple random sample, recorded.

Prediction-powered inference (``audit.stats.ppi``) needs labels on images
drawn at random, not on the images someone chose to look at; the sample is
drawn once with a seed and stored with each image's probability of being
drawn (``RUN/label-sample.parquet``), so that ``audit stats`` knows which
labels form the sample and the design can be checked later.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from audit.errors import UsageError
from audit.rundir import RunDir

COLUMNS = ["image_id", "group", "probability", "seed", "per_group", "drawn"]


def population(run: RunDir) -> pd.DataFrame:
    """Images the shares count: valid, not a control."""
    images = run.read_images()
    return images[(images.status == "ok") & (images.role != "control")][
        ["image_id", "item_id"]].rename(columns={"item_id": "group"})


def draw(images: pd.DataFrame, *, n: int, per_group: bool, seed: int) -> pd.DataFrame:
    """n images without replacement from all (each with probability n/N), or
    n from each group (n_g / N_g, all of a group smaller than n)."""
    if n < 1:
        raise UsageError("--n must be at least 1")
    rng = np.random.default_rng(seed)
    frames = ([frame for _, frame in images.groupby("group", sort=True)] if per_group
              else [images])
    drawn = []
    for frame in frames:
        frame = frame.sort_values("image_id")
        take = min(n, len(frame))
        picked = frame.iloc[np.sort(rng.choice(len(frame), size=take, replace=False))]
        drawn.append(picked.assign(probability=take / len(frame)))
    out = pd.concat(drawn, ignore_index=True)
    return out.assign(seed=seed, per_group=per_group,
                      drawn=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))[
                          COLUMNS]


def write_sample(run: RunDir, *, n: int, per_group: bool = False, seed: int = 0,
                 replace: bool = False) -> pd.DataFrame:
    """Draw and store the sample. An existing one is kept unless ``replace``:
    labels made on it would otherwise stop being a random sample."""
    from audit.rundir.atomic import atomic_path

    if run.label_sample.exists() and not replace:
        raise UsageError("a label sample exists already; --replace draws a new one (labels "
                         "made for the old sample then no longer count as random)",
                         where=str(run.label_sample))
    images = population(run)
    if images.empty:
        raise UsageError("no valid images to sample", where=str(run.root))
    sample = draw(images, n=n, per_group=per_group, seed=seed)
    with atomic_path(run.label_sample) as tmp:
        sample.to_parquet(tmp, index=False)
    return sample


def read_sample(run: RunDir) -> pd.DataFrame | None:
    if not run.label_sample.exists():
        return None
    try:
        sample = pd.read_parquet(run.label_sample)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise UsageError(f"cannot read the label sample: {exc}", where=str(run.label_sample)
                         ) from None
    missing = [c for c in COLUMNS if c not in sample.columns]
    if missing:
        raise UsageError(f"the label sample lacks column(s) {', '.join(missing)}",
                         where=str(run.label_sample))
    return sample
