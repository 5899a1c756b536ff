"""``audit.labels``: a run's human labels, read and added to."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from audit.errors import UsageError


@dataclass(frozen=True)
class LabelsResult:
    table: pd.DataFrame  # current labels (each reviewer's latest), or every row with history
    added: pd.DataFrame | None = None  # the rows ``add`` appended, when given


def labels(*, run: Path, add: Path | None = None, reviewer: str | None = None,
           history: bool = False, sheet: bool = False,
           attributes: list[str] | None = None, sample: int | None = None,
           per_group: bool = False, seed: int = 0, replace: bool = False,
           sampled: bool = False) -> LabelsResult:
    """The run's human labels (``labels.parquet``): each reviewer's current
    label per image and attribute, or with ``history`` every row ever given
    (who, when, from where, which label it replaced). ``add``, a CSV
    ``image_id,attribute,label[,reviewer]``, is checked row by row first
    (labels must be ones the run's scorers declare, or 'unclear') and
    appended only if every row is valid (rows with an empty label, a review
    sheet's unfilled ones, are skipped); ``reviewer`` names rows without
    one. ``sheet`` returns instead a review sheet to fill in: each valid
    image and attribute (``attributes``, default the audited ones) with the
    answering scorer's label and an empty ``label`` column; with ``sampled``
    only the images of the label sample.

    ``sample``: draw that many images at random for people to label (from
    each prompt with ``per_group``; ``seed``; ``replace`` an earlier sample)
    and store them with their probabilities in RUN/label-sample.parquet:
    labels on such a sample give prediction-powered shares in ``audit
    stats``. The result's table is then the sample."""
    from audit.review.labels import export_labels, import_labels, review_sheet
    from audit.review.sample import read_sample, write_sample
    from audit.rundir import RunDir

    rundir = RunDir(Path(run)).require()
    if sample is not None:
        return LabelsResult(write_sample(rundir, n=sample, per_group=per_group, seed=seed,
                                         replace=replace))
    added = import_labels(rundir, Path(add), reviewer=reviewer) if add is not None else None
    if sheet:
        only = None
        if sampled:
            drawn = read_sample(rundir)
            if drawn is None:
                raise UsageError("no label sample yet: 'audit labels sample RUN --n 50' "
                                 "draws one", where=str(rundir.root))
            only = set(drawn.image_id)
        return LabelsResult(review_sheet(rundir, attributes=attributes, only=only), added)
    return LabelsResult(export_labels(rundir, history=history), added)
