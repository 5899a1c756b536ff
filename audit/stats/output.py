"""The stats.json document, checked against schemas/stats.schema.json."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator

from audit.paths import schemas_dir
from audit.stats.assess import StatsResult


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(json.loads((schemas_dir() / "stats.schema.json").read_text()))


def stats_document(result: StatsResult) -> dict[str, Any]:
    """The stats.json document; raises if it breaks its own schema (a bug)."""
    document = result.to_dict()
    errors = sorted(_validator().iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        where = "/" + "/".join(map(str, errors[0].absolute_path))
        raise AssertionError(f"stats.json breaks its schema at {where}: {errors[0].message}")
    return document
