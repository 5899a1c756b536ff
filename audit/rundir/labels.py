"""``labels.parquet``: human labels, appended, never written over scores."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from audit.rundir.atomic import atomic_path

LABEL_COLUMNS = ["image_id", "attribute", "label", "reviewer", "created"]


def read_labels(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.exists() else pd.DataFrame(columns=LABEL_COLUMNS)


def add_label(path: Path, image_id: str, attribute: str, label: str, reviewer: str) -> None:
    """Append one human label (atomic rewrite of the file)."""
    row = pd.DataFrame([{"image_id": image_id, "attribute": attribute, "label": label,
                         "reviewer": reviewer or "anonymous",
                         "created": dt.datetime.now(dt.timezone.utc).isoformat()}])
    table = pd.concat([read_labels(path), row], ignore_index=True)
    with atomic_path(path) as tmp:
        table.to_parquet(tmp, index=False)
