"""Checking, importing and exporting a run's human labels.

A reviewer answers with one of the attribute's declared labels (those the
run's scorers can give, abstentions included) or ``unclear``; free text is
refused, so every label can enter a confusion matrix.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from audit.errors import InvalidInput
from audit.rundir import RunDir
from audit.rundir.card import RunCard
from audit.rundir.labels import current_labels

CSV_COLUMNS = ["image_id", "attribute", "label"]
MAX_FIELD = 200  # characters; longer is not a label or an image id


def label_choices(card: RunCard, attribute: str) -> list[str]:
    """Labels a reviewer may give: every scorer's declared labels for the
    attribute (in the run's scorer order), plus ``unclear``."""
    declared: list[str] = []
    for scorer in card.scorers:
        declared += scorer.get("labels", {}).get(attribute, [])
    return list(dict.fromkeys([*declared, "unclear"])) if declared else []


def check_label(card: RunCard, attribute: str, label: str) -> None:
    choices = label_choices(card, attribute)
    if not choices:
        known = sorted({a for s in card.scorers for a in s.get("labels", {})})
        raise InvalidInput(f"field attribute: '{attribute[:MAX_FIELD]}' is not scored in this "
                           f"run (scored: {', '.join(known) or 'none'})")
    if label not in choices:
        raise InvalidInput(f"field label: '{label[:MAX_FIELD]}' is not a label of {attribute} "
                           f"({', '.join(choices)})")


def add_label(run: RunDir, *, image_id: str, attribute: str, label: str,
              reviewer: str = "", source: str = "viewer") -> None:
    """One label, checked, appended (the viewer's Relabel form)."""
    card = run.card()
    check_label(card, attribute, label)
    if image_id not in set(run.read_images().image_id):
        raise InvalidInput(f"field image_id: '{image_id[:MAX_FIELD]}' is not an image of "
                           "this run")
    run.append_labels([{"image_id": image_id, "attribute": attribute, "label": label,
                        "reviewer": reviewer}], source=source)


def import_labels(run: RunDir, path: Path, *, reviewer: str | None = None) -> pd.DataFrame:
    """``image_id,attribute,label[,reviewer]`` -> appended rows. Every row is
    checked before anything is written: one bad row, nothing imported."""
    from audit.user_tables import read_csv, require_columns

    frame = read_csv(path)
    require_columns(frame, CSV_COLUMNS, path)
    card = run.card()
    images = set(run.read_images().image_id)
    checked: set[tuple[str, str]] = set()
    rows = []
    for index, row in frame.iterrows():
        where = f"{path}:{index + 2}"
        values = {c: str(row[c]).strip() for c in CSV_COLUMNS}
        for column, value in values.items():
            if not value:
                raise InvalidInput(f"field {column}: empty value", where=where)
        pair = (values["attribute"], values["label"])
        if pair not in checked:
            try:
                check_label(card, *pair)
            except InvalidInput as exc:
                raise InvalidInput(exc.message, where=where) from None
            checked.add(pair)
        if values["image_id"] not in images:
            raise InvalidInput(f"field image_id: '{values['image_id'][:MAX_FIELD]}' is not an "
                               "image of this run (ids as in images.parquet or 'audit labels "
                               "export', e.g. item/seed)", where=where)
        given = str(row["reviewer"]).strip() if "reviewer" in frame.columns else ""
        if len(given) > MAX_FIELD:
            raise InvalidInput(f"field reviewer: longer than {MAX_FIELD} characters",
                               where=where)
        rows.append({**values, "reviewer": given or reviewer or ""})
    return run.append_labels(rows, source=f"import:{path.name}")


def export_labels(run: RunDir, *, history: bool = False) -> pd.DataFrame:
    """Current labels (each reviewer's latest), or every row with ``history``."""
    table = run.read_labels()
    return table if history else current_labels(table)
