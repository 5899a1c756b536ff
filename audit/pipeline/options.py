"""Option mappings: ``-S clip.model=ViT-L-14``, ``-M revision=main`` and
``--config run.yaml``, turned into the dicts the Python API takes.

Values are read as YAML scalars (``0.6`` a number, ``true`` a boolean, a path
a string), as inspect_ai reads its task arguments.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from audit.errors import UsageError


def _value(text: str) -> Any:
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, str | int | float | bool) or value is None else text


def parse_pairs(values: list[str] | None, *, flag: str) -> dict[str, Any]:
    """``["key=value", ...]`` -> ``{"key": value}``."""
    out: dict[str, Any] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{flag} takes KEY=VALUE, got '{item}'")
        out[key.strip()] = _value(value.strip())
    return out


def parse_scoped(values: list[str] | None, *, flag: str) -> dict[str, dict[str, Any]]:
    """``["clip.model=X", ...]`` -> ``{"clip": {"model": "X"}}``."""
    out: dict[str, dict[str, Any]] = {}
    for key, value in parse_pairs(values, flag=flag).items():
        scope, dot, name = key.partition(".")
        if not dot or not scope or not name:
            raise UsageError(f"{flag} takes SCORER.KEY=VALUE (e.g. clip.model=ViT-L-14), "
                             f"got '{key}'")
        out.setdefault(scope, {})[name] = value
    return out


def merge_options(*layers: dict[str, dict[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """Later layers win, key by key."""
    out: dict[str, dict[str, Any]] = {}
    for layer in layers:
        for scope, values in (layer or {}).items():
            out.setdefault(scope, {}).update(values)
    return out


def load_config(path: Path) -> dict[str, Any]:
    """A run configuration file: the Python API's keyword arguments as YAML
    (``schemas/run-config.schema.json``); command-line flags override it."""
    from audit.data_files import check, read_yaml

    data = read_yaml(Path(path), what="config file")
    check(data, "run-config.schema.json", path)
    return data
