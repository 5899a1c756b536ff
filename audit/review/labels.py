"""Checking, importing and exporting a run's human labels.

A reviewer answers with one of the attribute's declared labels (those the
run's scorers can give, abstentions included) or ``unclear``; free text is
refused, so every label can enter a confusion matrix.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from audit.api.scorer import ON_CLASS
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
    checked before anything is written: one bad row, nothing imported. In a
    review sheet (it has ``model_label``), rows with no label yet are
    skipped, not refused."""
    from audit.user_tables import read_csv, require_columns

    frame = read_csv(path)
    require_columns(frame, CSV_COLUMNS, path)
    card = run.card()
    images = set(run.read_images().image_id)
    checked: set[tuple[str, str]] = set()
    rows = []
    sheet = "model_label" in frame.columns  # written by review_sheet
    skipped = 0
    for index, row in frame.iterrows():
        where = f"{path}:{index + 2}"
        values = {c: "" if pd.isna(row[c]) else str(row[c]).strip() for c in CSV_COLUMNS}
        if sheet and not values["label"] and values["image_id"] and values["attribute"]:
            skipped += 1  # a review sheet's row nobody has filled in yet
            continue
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
    if not rows:
        raise InvalidInput(f"no row has a label ({skipped} empty): fill in the 'label' column",
                           where=str(path))
    added = run.append_labels(rows, source=f"import:{path.name}")
    added.attrs["skipped"] = skipped
    return added


def export_labels(run: RunDir, *, history: bool = False) -> pd.DataFrame:
    """Current labels (each reviewer's latest), or every row with ``history``."""
    table = run.read_labels()
    return table if history else current_labels(table)


SHEET_COLUMNS = ["image_id", "image_path", "prompt", "attribute", "scorer", "model_label",
                 "label", "reviewer"]


def review_sheet(run: RunDir, *, attributes: list[str] | None = None,
                 only: set[str] | None = None) -> pd.DataFrame:
    """A sheet a person fills in: one row per valid image and attribute, with
    the answering scorer's label beside an empty ``label`` column; ``audit
    labels import`` reads it back (rows left empty are skipped). The
    attributes default to the run's audited ones, without safety attributes
    (a person is not asked to grade nudity), and on_class when it was scored."""
    from audit.data_files import default_answers
    from audit.stats.run_tables import SAFETY_ATTRIBUTES, chosen, resolve_answers

    card = run.card()
    if not run.is_scored():
        raise InvalidInput("not scored yet: a review sheet shows the scorer's labels "
                           "('audit score RUN' first)", where=str(run.root))
    decisions = run.read_scores().decisions[["image_id", "scorer", "attribute", "label"]]
    wanted = attributes or [a for a in (card.suite.attributes or
                                        sorted(set(decisions.attribute)))
                            if a not in SAFETY_ATTRIBUTES]
    if not attributes and ON_CLASS in set(decisions.attribute) and ON_CLASS not in wanted:
        wanted.append(ON_CLASS)  # not a suite attribute, but a question a person can answer
    for attribute in wanted:
        if not label_choices(card, attribute):
            check_label(card, attribute, "")  # raises: names the scored attributes
    answers = resolve_answers(decisions[decisions.attribute.isin(wanted)],
                              requested=card.suite.answers, defaults=default_answers(),
                              where=str(run.scores.decisions), needed=wanted)
    labels = chosen(decisions, answers)
    images = run.read_images()
    images = images[images.status == "ok"].sort_values("image_id")
    if only is not None:  # the label sample's images
        images = images[images.image_id.isin(only)]
    rows = []
    for attribute in wanted:
        said = labels[labels.attribute == attribute].set_index("image_id").label
        for image in images.itertuples():
            rows.append({"image_id": image.image_id,
                         "image_path": str(run.image_file(image.path).resolve()),
                         "prompt": image.prompt, "attribute": attribute,
                         "scorer": answers.get(attribute, ""),
                         "model_label": said.get(image.image_id, ""), "label": "",
                         "reviewer": ""})
    return pd.DataFrame(rows, columns=SHEET_COLUMNS)
