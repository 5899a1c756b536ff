"""``labels.parquet``: human labels as an append-only history.

Every label is a row (reviewer, time, where it came from, and the label of
that reviewer it replaces); nothing is overwritten, so a review can be
audited and a reviewer's earlier answer recovered. A reviewer's current
label for an image and attribute is their latest row.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from audit.rundir.atomic import atomic_path

LABEL_COLUMNS = ["image_id", "attribute", "label", "reviewer", "created", "replaces", "source"]
KEY = ["image_id", "attribute", "reviewer"]
ANONYMOUS = "anonymous"


def read_labels(path: Path) -> pd.DataFrame:
    """Every label row, oldest first (files from before the history columns
    read with them empty)."""
    from audit.errors import UsageError

    if not path.exists():
        return pd.DataFrame(columns=LABEL_COLUMNS)
    try:
        table = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise UsageError(f"cannot read the run's labels (Parquet: {str(exc)[:200]}); restore "
                         "it from a backup or remove it and import the labels again",
                         where=str(path)) from None
    for column in LABEL_COLUMNS:
        if column not in table.columns:
            table[column] = None
    return table[LABEL_COLUMNS]


def current_labels(table: pd.DataFrame) -> pd.DataFrame:
    """Each reviewer's latest label per image and attribute."""
    if table.empty:
        return table
    return table.groupby(KEY, sort=False).tail(1).reset_index(drop=True)


LOCK = ".labels.lock"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise read-append-rewrite between processes (two viewer tabs, an
    import): the second waits instead of losing the first one's rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / LOCK, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def idle(root: Path) -> Iterator[bool]:
    """True while no one writes labels (and no one can start): then a
    labels temp file is a leftover, not a write in progress."""
    with open(root / LOCK, "a", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def append_labels(path: Path, rows: list[dict[str, Any]], *, source: str) -> pd.DataFrame:
    """Append labels (image_id, attribute, label, reviewer); ``replaces`` is
    filled from the reviewer's current label. Returns the rows written."""
    created = dt.datetime.now(dt.timezone.utc).isoformat()
    with _locked(path):
        table = read_labels(path)
        latest = {tuple(k): label for *k, label in
                  current_labels(table)[[*KEY, "label"]].itertuples(index=False)}
        new = []
        for row in rows:
            reviewer = str(row.get("reviewer") or "").strip() or ANONYMOUS
            key = (row["image_id"], row["attribute"], reviewer)
            new.append({"image_id": row["image_id"], "attribute": row["attribute"],
                        "label": row["label"], "reviewer": reviewer, "created": created,
                        "replaces": latest.get(key), "source": source})
            latest[key] = row["label"]
        added = pd.DataFrame(new, columns=LABEL_COLUMNS)
        combined = pd.concat([table, added], ignore_index=True) if len(table) else added
        with atomic_path(path) as tmp:
            combined.astype({c: "string" for c in LABEL_COLUMNS}).to_parquet(tmp, index=False)
    return added
