"""The score tables: decisions, measurements and input statuses (format 2).

- ``decisions``: one row per (image, scorer, attribute): the label chosen
  (``unclear`` / ``no_person`` included) and ``confidence`` in [0, 1] (null
  when the scorer gives none).
- ``measurements``: one row per number: (image, scorer, attribute, quantity,
  label) -> value, with the quantity's unit and direction in the row.
- ``inputs``: one row per image the stage tried to load: ok, blank or error.

JSON Schemas for a row of each are ``schemas/score-*.schema.json``. The three
files of one scoring carry the same ``scoring_id`` in their Parquet metadata,
so a set torn by an interrupted write is detected instead of mixed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from audit.errors import InvalidInput, UsageError

FORMAT = "t2i-audit-scores/2"
DECISION_COLUMNS = ["image_id", "scorer", "attribute", "label", "confidence"]
MEASUREMENT_COLUMNS = ["image_id", "scorer", "attribute", "quantity", "label", "value", "unit",
                       "direction"]
INPUT_COLUMNS = ["image_id", "status", "error"]
_FLOATS = {"confidence", "value"}


@dataclass
class ScoreTables:
    decisions: pd.DataFrame
    measurements: pd.DataFrame
    inputs: pd.DataFrame
    scoring_id: str | None = None  # the scoring that wrote all three (None: not read from files)


def _arrow_schema(columns: list[str]) -> Any:
    import pyarrow as pa

    return pa.schema([(c, pa.float64() if c in _FLOATS else pa.string()) for c in columns])


def empty_tables() -> ScoreTables:
    return ScoreTables(pd.DataFrame(columns=DECISION_COLUMNS),
                       pd.DataFrame(columns=MEASUREMENT_COLUMNS),
                       pd.DataFrame(columns=INPUT_COLUMNS))


def write_tables(rows: dict[str, list[dict[str, Any]]], paths: dict[str, Path]) -> None:
    """``rows`` and ``paths`` keyed by decisions / measurements / inputs.
    Decisions are written last: a reader that finds them finds the rest."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from audit.rundir.atomic import atomic_path

    scoring_id = uuid.uuid4().hex
    columns = {"decisions": DECISION_COLUMNS, "measurements": MEASUREMENT_COLUMNS,
               "inputs": INPUT_COLUMNS}
    for name in ("inputs", "measurements", "decisions"):
        schema = _arrow_schema(columns[name]).with_metadata(
            {"format": FORMAT, "table": name, "scoring_id": scoring_id})
        table = pa.Table.from_pylist([{c: r.get(c) for c in columns[name]} for r in rows[name]],
                                     schema=schema)
        with atomic_path(paths[name]) as tmp:
            pq.write_table(table, tmp)


def _read_one(path: Path, name: str, columns: list[str]) -> tuple[pd.DataFrame, str | None]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except FileNotFoundError:
        raise UsageError(f"no {name} table: score the run first", where=str(path)) from None
    except Exception as exc:  # pyarrow raises several types for damaged files
        raise UsageError(f"cannot read Parquet: {str(exc)[:200]}", where=str(path)) from None
    meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
    if meta.get("format") != FORMAT:
        raise InvalidInput(f"not a {FORMAT} {name} table (format "
                           f"{meta.get('format', 'unknown')!r})", where=str(path))
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise InvalidInput(f"missing column(s) {', '.join(missing)}", where=str(path))
    return table.to_pandas()[columns], meta.get("scoring_id")


def scoring_id_of(path: Path) -> str | None:
    """The scoring that wrote a score table, from its Parquet footer alone."""
    import pyarrow.parquet as pq

    try:
        meta = pq.read_schema(path).metadata or {}
    except Exception as exc:  # pyarrow raises several types for damaged files
        raise UsageError(f"cannot read Parquet: {str(exc)[:200]}", where=str(path)) from None
    value = meta.get(b"scoring_id")
    return value.decode() if value is not None else None


def read_tables(paths: dict[str, Path]) -> ScoreTables:
    frames, ids = {}, set()
    columns = {"decisions": DECISION_COLUMNS, "measurements": MEASUREMENT_COLUMNS,
               "inputs": INPUT_COLUMNS}
    for name in ("decisions", "measurements", "inputs"):
        frames[name], scoring_id = _read_one(paths[name], name, columns[name])
        ids.add(scoring_id)
    if len(ids) > 1:
        raise InvalidInput("the score tables come from different scorings (an interrupted "
                           "write?); rescore", where=str(paths["decisions"].parent))
    return ScoreTables(**frames, scoring_id=ids.pop())
