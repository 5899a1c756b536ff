"""``audit.labels``: a run's human labels, read and added to."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd


@dataclass(frozen=True)
class LabelsResult:
    table: pd.DataFrame  # current labels (each reviewer's latest), or every row with history
    added: pd.DataFrame | None = None  # the rows ``add`` appended, when given


def labels(*, run: Path, add: Path | None = None, reviewer: str | None = None,
           history: bool = False, sheet: bool = False,
           attributes: list[str] | None = None) -> LabelsResult:
    """The run's human labels (``labels.parquet``): each reviewer's current
    label per image and attribute, or with ``history`` every row ever given
    (who, when, from where, which label it replaced). ``add``, a CSV
    ``image_id,attribute,label[,reviewer]``, is checked row by row first
    (labels must be ones the run's scorers declare, or 'unclear') and
    appended only if every row is valid (rows with an empty label, a review
    sheet's unfilled ones, are skipped); ``reviewer`` names rows without
    one. ``sheet`` returns instead a review sheet to fill in: each valid
    image and attribute (``attributes``, default the audited ones) with the
    answering scorer's label and an empty ``label`` column."""
    from audit.review.labels import export_labels, import_labels, review_sheet
    from audit.rundir import RunDir

    rundir = RunDir(Path(run)).require()
    added = import_labels(rundir, Path(add), reviewer=reviewer) if add is not None else None
    if sheet:
        return LabelsResult(review_sheet(rundir, attributes=attributes), added)
    return LabelsResult(export_labels(rundir, history=history), added)
