"""``images.parquet``: one row per requested image, the generation record.

During a run, finished batches are appended to a journal (one JSON line per
image, flushed and fsynced per batch), which costs O(batch) instead of
rewriting the table. The Parquet file is rewritten atomically at the end of
the stage; after ``kill -9`` the next run reads table + journal, so at most
the batch in flight is lost. A torn last journal line is ignored.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

COLUMNS = [
    "image_id", "suite", "suite_version", "item_id", "template", "role", "slots",
    "reference_keys", "counterfactual_group", "expected", "prompt", "negative_prompt", "model",
    "seed", "steps", "guidance", "width", "height", "scheduler", "batch_id", "batch_index",
    "batch_size", "path", "sha256", "status", "error", "seconds",
    "imported",  # JSON for images brought in by 'audit import': file, field origins, missing
    "revised_prompt",  # the prompt a provider actually drew (DALL-E 3 rewrites prompts)
    "provider",  # JSON of what a remote API said: seed used, finish reason, attempts, price
    "worker",  # the Ray node/actor that made the image; empty in a single-process run
]
TABLE = "images.parquet"
JOURNAL = ".images.journal.jsonl"


def _schema() -> Any:
    import pyarrow as pa

    string, int64, f64 = pa.string(), pa.int64(), pa.float64()
    types = {"seed": int64, "steps": int64, "width": int64, "height": int64,
             "batch_index": int64, "batch_size": int64, "guidance": f64, "seconds": f64}
    return pa.schema([(c, types.get(c, string)) for c in COLUMNS])


class ImagesTable:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.table_path = run_dir / TABLE
        self.journal_path = run_dir / JOURNAL
        self.rows: dict[str, dict[str, Any]] = {}
        self._load()

    def _load(self) -> None:
        if self.table_path.exists():
            import pyarrow.parquet as pq

            from audit.errors import UsageError

            try:
                rows = pq.read_table(self.table_path).to_pylist()
            except Exception as exc:  # pyarrow raises several types for damaged files
                raise UsageError(f"cannot read Parquet ({str(exc)[:200]}); the generation "
                                 "record is damaged", where=str(self.table_path)) from None
            for row in rows:
                if "image_id" not in row:
                    raise UsageError("not an images table (no image_id column)",
                                     where=str(self.table_path))
                self.rows[row["image_id"]] = row
        if self.journal_path.exists():
            with self.journal_path.open("r", encoding="utf-8") as fh:
                for line in fh:
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError:
                        break  # the line a crash cut short; later lines cannot exist
                    self.rows[row["image_id"]] = row

    def append(self, rows: list[dict[str, Any]]) -> None:
        from audit.rundir.atomic import naming

        with naming(self.journal_path), self.journal_path.open("a", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps({c: row.get(c) for c in COLUMNS}) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        for row in rows:
            self.rows[row["image_id"]] = row

    def write(self, order: list[str] | None = None) -> None:
        """Write the table (in request order when given) and drop the journal."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        from audit.rundir.atomic import atomic_path

        ids = [i for i in order if i in self.rows] if order else sorted(self.rows)
        ids += sorted(set(self.rows) - set(ids))
        table = pa.Table.from_pylist([{c: self.rows[i].get(c) for c in COLUMNS} for i in ids],
                                     schema=_schema())
        with atomic_path(self.table_path) as tmp:
            pq.write_table(table, tmp)
        self.journal_path.unlink(missing_ok=True)


def read_images(run_dir: Path) -> Any:
    """images.parquet as a pandas DataFrame (journal rows included)."""
    import pandas as pd

    table = ImagesTable(run_dir)
    return pd.DataFrame([{c: r.get(c) for c in COLUMNS} for r in table.rows.values()],
                        columns=COLUMNS)
