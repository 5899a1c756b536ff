"""Data files (attribute prompts, concepts, answer tables) read and checked
against their JSON Schema when loaded, so a malformed file is one line naming
the file and the field, never an error deep inside scoring."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from audit.errors import InvalidInput, UsageError
from audit.paths import schemas_dir


@cache
def validator(schema: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads((schemas_dir() / schema).read_text()))


def pointer(path: Any) -> str:
    return "/" + "/".join(str(p) for p in path)


def read_yaml(path: Path, *, what: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{what} not found", where=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {what}: {exc}", where=str(path)) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise InvalidInput(f"YAML does not parse: {problem}", where=where) from None


def check(data: Any, schema: str, where: Path | str) -> None:
    """The first schema error (by location) as an InvalidInput."""
    errors = sorted(validator(schema).iter_errors(data),
                    key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        error = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise InvalidInput(f"{error.message[:300]}{more}",
                           where=f"{where} {pointer(error.absolute_path)}")


@cache
def _load(path: Path, schema: str, what: str, mtime: float) -> dict[str, Any]:
    data = read_yaml(path, what=what)
    check(data, schema, path)
    return data


def load_data_file(path: Path, schema: str, *, what: str) -> dict[str, Any]:
    """A validated YAML data file (cached until it changes on disk)."""
    path = Path(path)
    try:
        mtime = path.stat().st_mtime
    except OSError:
        mtime = -1.0
    return _load(path.resolve() if path.exists() else path, schema, what, mtime)


def clip_attributes(path: Path) -> dict[str, Any]:
    data = load_data_file(path, "clip-attributes.schema.json", what="attributes file")
    gates = [name for name, spec in data["attributes"].items() if spec.get("gate")]
    if len(gates) > 1:
        raise InvalidInput(f"only one attribute may be the person gate (found "
                           f"{', '.join(gates)})", where=f"{path} /attributes")
    for name in gates:
        if "no_person" not in data["attributes"][name]["labels"]:
            raise InvalidInput("a gate attribute needs a 'no_person' label",
                               where=f"{path} /attributes/{name}/labels")
    return data


def unsafe_concepts(path: Path) -> dict[str, Any]:
    return load_data_file(path, "unsafe-concepts.schema.json", what="concepts file")


def default_answers() -> dict[str, str]:
    """attribute -> scorer, for attributes several scorers decide."""
    from audit.paths import package_data_dir

    path = package_data_dir() / "attributes" / "answers.yaml"
    return dict(load_data_file(path, "answers.schema.json", what="answers file")["answers"])
