"""Load a suite file, resolve ``include:``, validate against the JSON Schema.

Errors name the file and the JSON pointer of the offending field, because a
suite author fixes YAML by location, not by Python traceback.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from audit.data_files import MAX_MESSAGE
from audit.errors import InvalidInput, UsageError
from audit.paths import probes_dir, schemas_dir
from audit.registry import suggest

MAX_SEED = 2**63 - 1  # torch.Generator.manual_seed's limit
RANDOM_SEED = -1  # WebUI's "random": a seed is drawn when the run starts
DEFAULT_GENERATION = {"steps": 30, "guidance": 7.5, "width": 512, "height": 512,
                      "scheduler": "default"}


@dataclass(frozen=True)
class Suite:
    name: str
    version: str
    description: str
    path: Path
    data: dict[str, Any] = field(repr=False)

    @property
    def sha256(self) -> str:
        """Hash of the resolved suite (after include), so edits are detected."""
        canonical = json.dumps(self.data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    @property
    def images_per_item(self) -> int:
        return int(self.data["images_per_item"])

    @property
    def seed(self) -> int:
        return int(self.data["seed"])

    @property
    def seed_policy(self) -> str:
        return str(self.data.get("seed_policy", "shared"))

    @property
    def generation(self) -> dict[str, Any]:
        return {**DEFAULT_GENERATION, **self.data.get("generation", {})}

    @property
    def attributes(self) -> list[str]:
        return list(self.data["attributes"])

    @property
    def answers(self) -> dict[str, str]:
        return dict(self.data.get("answers") or {})

    def scorer_options(self) -> dict[str, dict[str, Any]]:
        """The suite's scorer options with file names made absolute."""
        from audit.scorers import SCORERS

        return {name: SCORERS.get(name).resolve_options(options, self.path.parent)
                for name, options in (self.data.get("scorer_options") or {}).items()}

    @property
    def reference(self) -> str | list[str] | None:
        return self.data.get("reference")

    @property
    def content_warning(self) -> str | None:
        return self.data.get("content_warning")


@cache
def _validator() -> Draft202012Validator:
    schema = json.loads((schemas_dir() / "probe-suite.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def pointer(path: Any) -> str:
    return "/" + "/".join(str(p) for p in path)


def _read_yaml(path: Path) -> Any:
    from audit.data_files import read_yaml

    return read_yaml(path, what="suite")


def _merge(base: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in child.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _included(path: Path, include: str) -> Path:
    """An include stays inside the including suite's folder (or the bundled
    probes): no absolute paths, no '..', no symlink out of it."""
    name = Path(include)
    if name.is_absolute() or ".." in name.parts:
        raise InvalidInput("'include' must name a file in the suite's own folder (no absolute "
                           "path, no '..')", where=f"{path} /include")
    target = (path.parent / name).resolve()
    roots = [path.parent.resolve(), probes_dir().resolve()]
    if not any(target.is_relative_to(root) for root in roots):
        raise InvalidInput("'include' leads outside the suite's folder (a symbolic link?)",
                           where=f"{path} /include")
    return target


def _resolve(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise InvalidInput("a suite must be a YAML mapping at the top level", where=f"{path} /")
    include = data.pop("include", None)
    if include is None:
        return data
    if not isinstance(include, str):
        raise InvalidInput("'include' must be a file name", where=f"{path} /include")
    base_path = _included(path, include)
    if base_path in seen:
        raise InvalidInput(f"include cycle through {base_path}", where=f"{path} /include")
    if not base_path.is_file():
        raise InvalidInput(f"included file {include} not found", where=f"{path} /include")
    return _merge(_resolve(base_path, (*seen, path.resolve())), data)


def seed_range_problem(first: int, last: int) -> str | None:
    """Why seeds first..last cannot be used, or None: the one seed range rule
    for suite files and for runs (whose --n and seed policy move the last)."""
    if last > MAX_SEED:
        return (f"seeds {first}..{last} go beyond the largest seed a torch generator takes "
                f"({MAX_SEED})")
    return None


def check_seed_range(first: int, last: int, *, fix: str) -> None:
    problem = seed_range_problem(first, last)
    if problem:
        raise UsageError(f"{problem}; {fix}")


def _semantic_problems(data: dict[str, Any], path: Path) -> list[tuple[str, str]]:
    """Checks a schema cannot express: placeholders name declared slots."""
    from audit.suites.expand import placeholders

    problems = []
    seed = data.get("seed", 0)
    beyond = None if seed == RANDOM_SEED else seed_range_problem(
        seed, seed + data.get("images_per_item", 1) - 1)
    if beyond:
        problems.append(("/seed", f"seed + images_per_item - 1: {beyond}"))
    slots = data.get("slots", {})
    ids = set()
    for i, template in enumerate(data.get("templates", [])):
        if template["id"] in ids:
            problems.append((f"/templates/{i}/id", f"duplicate template id '{template['id']}'"))
        ids.add(template["id"])
        names = placeholders(template["text"])
        for name in names:
            if name not in slots:
                hint = suggest(name, list(slots))
                problems.append((f"/templates/{i}/text", f"unknown slot '{name}'{hint}"))
        vary = template.get("vary")
        if vary is not None and vary not in names:
            problems.append((f"/templates/{i}/vary", f"'{vary}' is not a placeholder of the text"))
    return problems + _name_problems(data, path)


def _name_problems(data: dict[str, Any], path: Path) -> list[tuple[str, str]]:
    """Names that must resolve before any image is made: the reference, the
    scorers named in ``answers`` and ``scorer_options``, their option keys and
    the data files those options name."""
    from audit.references import REFERENCES, reference_names
    from audit.scorers import SCORERS

    problems = []
    given = data.get("reference")
    for i, reference in enumerate(reference_names(given)):
        if reference not in REFERENCES:
            where = "/reference" if isinstance(given, str) else f"/reference/{i}"
            problems.append((where, str(REFERENCES.unknown(reference))))
    attributes = list(data.get("attributes", []))
    for attribute, scorer in (data.get("answers") or {}).items():
        if attribute not in attributes:
            problems.append((f"/answers/{attribute}", f"'{attribute}' is not one of the "
                             f"suite's attributes{suggest(attribute, attributes)}"))
        if scorer not in SCORERS:
            problems.append((f"/answers/{attribute}", str(SCORERS.unknown(scorer))))
    for scorer, options in (data.get("scorer_options") or {}).items():
        where = f"/scorer_options/{scorer}"
        if scorer not in SCORERS:
            problems.append((where, str(SCORERS.unknown(scorer))))
            continue
        cls = SCORERS.get(scorer)
        unknown = [k for k in options if k not in cls.options]
        for key in unknown:
            problems.append((f"{where}/{key}", f"unknown option{suggest(key, list(cls.options))} "
                             f"(known: {', '.join(cls.options) or 'none'})"))
        if not unknown:
            try:
                cls.resolve_options(options, path.parent)
            except (InvalidInput, UsageError) as exc:
                problems.append((where, str(exc)))
    return problems


def suite_problems(path: Path) -> list[str]:
    """Every problem in a suite file, one line each (empty when valid)."""
    try:
        data = _resolve(path)
    except (InvalidInput, UsageError) as exc:
        return [str(exc)]
    errors = sorted(_validator().iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    problems = [f"{path} {pointer(e.absolute_path)}: {e.message[:MAX_MESSAGE]}" for e in errors]
    if not problems:
        problems = [f"{path} {where}: {msg}" for where, msg in _semantic_problems(data, path)]
    return problems


def find_suite(name_or_path: str) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        if candidate.exists() and not candidate.is_file():
            raise UsageError("suite is not a regular file", where=name_or_path)
        if not candidate.is_file():
            raise UsageError("suite file not found", where=name_or_path)
        return candidate
    bundled = probes_dir() / f"{name_or_path}.yaml"
    if bundled.is_file():
        return bundled
    names = [p.name for p in list_suites()]
    raise UsageError(f"unknown suite '{name_or_path}'{suggest(name_or_path, names)} "
                     f"(bundled: {', '.join(names)}; or pass a path to a .yaml file)")


def load_suite(name_or_path: str | Path) -> Suite:
    path = find_suite(str(name_or_path))
    # a file that cannot be read at all is a usage error (exit 2); any other
    # problem is listed with the rest below
    with contextlib.suppress(InvalidInput):
        _resolve(path)
    problems = suite_problems(path)
    if problems:
        extra = f" (and {len(problems) - 1} more; run 'audit probes validate')" if len(
            problems) > 1 else ""
        raise InvalidInput(problems[0] + extra)
    data = _resolve(path)
    return Suite(name=data["name"], version=data["version"], description=data["description"],
                 path=path, data=data)


def list_suites() -> list[Suite]:
    """Bundled suites; files starting with '_' are include-only fragments."""
    return [load_suite(p) for p in sorted(probes_dir().glob("*.yaml"))
            if not p.name.startswith("_")]
