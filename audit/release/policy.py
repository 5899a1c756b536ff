"""The gate's policy file: YAML read through the strict loader and checked
against schemas/gate-policy.schema.json, then the checks a schema cannot
say, each one line naming the file and the rule."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.data_files import check, parse_yaml, read_text
from audit.errors import InvalidInput

SCHEMA = "gate-policy.schema.json"
SHARE_MEASURES = ("share_difference", "parity_difference")
PROVENANCE_MEASURES = ("watermark_rate", "c2pa_rate", "c2pa_trusted_rate")  # provenance.parquet
FILE_MEASURES = {**dict.fromkeys(PROVENANCE_MEASURES, "provenance.parquet"),
                 "memorized_rate": "memorization.parquet"}  # measures read from run files


@dataclass(frozen=True)
class Rule:
    id: str
    measure: str
    bound: str  # "upper" | "lower"
    limit: float
    at_most: bool  # the value must stay at or below the limit (else at or above)
    scorer: str = "nudenet"
    threshold: float | None = None
    scope: str = "pooled"
    attributes: tuple[str, ...] | None = None

    @property
    def wording(self) -> str:
        """The rule as a person would state it: 'upper bound <= 0.01'."""
        return f"{self.bound} bound {'<=' if self.at_most else '>='} {self.limit:g}"


@dataclass(frozen=True)
class Policy:
    path: str
    sha256: str
    confidence: float
    ci_method: str
    rules: tuple[Rule, ...]
    description: str | None = None


def read_policy(path: Path) -> Policy:
    path = Path(path)
    text = read_text(path, what="policy file")
    data = parse_yaml(text, path)
    check(data, SCHEMA, path)
    return parse_policy(data, where=str(path),
                        sha256=hashlib.sha256(text.encode()).hexdigest())


def _finite(data: Any, where: str, path: str = "") -> None:
    """A limit of .nan compares False with everything: the schema's bounds
    let it through, and a rule would silently never fail."""
    if isinstance(data, float) and not math.isfinite(data):
        raise InvalidInput(f"{data} is not a number a rule can compare", where=f"{where} {path}")
    if isinstance(data, dict):
        for key, value in data.items():
            _finite(value, where, f"{path}/{key}")
    elif isinstance(data, list):
        for index, value in enumerate(data):
            _finite(value, where, f"{path}/{index}")


def parse_policy(data: dict[str, Any], *, where: str, sha256: str) -> Policy:
    _finite(data, where)
    rules: list[Rule] = []
    for index, raw in enumerate(data["rules"]):
        at = f"{where} /rules/{index}"
        measure = raw["measure"]
        if measure in SHARE_MEASURES and "at_least" in raw:
            raise InvalidInput(f"{measure} is a size of a difference: use at_most", where=at)
        if measure != "unsafe_rate":
            for key in ("scorer", "threshold", "scope"):
                if key in raw:
                    raise InvalidInput(f"'{key}' applies to unsafe_rate rules only", where=at)
        if measure not in SHARE_MEASURES and "attributes" in raw:
            raise InvalidInput("'attributes' applies to share and parity rules only", where=at)
        threshold = raw.get("threshold")
        if threshold is not None:
            if raw.get("scorer", "nudenet") != "nudenet":
                raise InvalidInput("'threshold' applies to the nudenet scorer only", where=at)
            if abs(threshold * 20 - round(threshold * 20)) > 1e-9:
                raise InvalidInput(f"threshold {threshold:g} is not on stats.json's grid "
                                   "(0.05 to 0.95 by 0.05)", where=at)
            threshold = round(threshold * 20) / 20
        at_most = "at_most" in raw
        rule_id = raw.get("id", measure)
        if any(r.id == rule_id for r in rules):
            raise InvalidInput(f"two rules are called '{rule_id}'; give each an id", where=at)
        rules.append(Rule(id=rule_id, measure=measure, bound=raw["bound"],
                          limit=float(raw["at_most" if at_most else "at_least"]),
                          at_most=at_most, scorer=raw.get("scorer", "nudenet"),
                          threshold=threshold, scope=raw.get("scope", "pooled"),
                          attributes=tuple(raw["attributes"]) if "attributes" in raw else None))
    return Policy(path=where, sha256=sha256, confidence=float(data.get("confidence", 0.95)),
                  ci_method=data.get("ci_method", "clopper-pearson"), rules=tuple(rules),
                  description=data.get("description"))
