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

from audit.errors import InvalidInput
from audit.paths import schemas_dir


@cache
def validator(schema: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads((schemas_dir() / schema).read_text()))


def pointer(path: Any) -> str:
    return "/" + "/".join(str(p) for p in path)


MAX_YAML_BYTES = 1 << 20  # a data file is text a person wrote; 1 MB is plenty
MAX_MESSAGE = 200  # characters of a value quoted in an error message


class StrictLoader(yaml.SafeLoader):
    """Safe YAML without aliases (a few hundred bytes of nested aliases expand
    to gigabytes) and without duplicate keys (silently, the last one wins)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in "
                                              "data files; write the value out",
                                              self.peek_event().start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str | int | float | bool) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {str(key)[:MAX_MESSAGE]!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def parse_yaml(text: str, path: Path | str) -> Any:
    """Strict YAML; a syntax problem is InvalidInput naming file:line:column."""
    try:
        return yaml.load(text, Loader=StrictLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise InvalidInput(f"YAML does not parse: {problem[:MAX_MESSAGE]}",
                           where=where) from None


def read_text(path: Path, *, what: str, limit: int = MAX_YAML_BYTES) -> str:
    """A regular file's UTF-8 text through the one reader of user files."""
    from audit.user_files import read_user_text

    return read_user_text(Path(path), what=what, limit=limit)


def read_yaml(path: Path, *, what: str) -> Any:
    return parse_yaml(read_text(path, what=what), path)


def check(data: Any, schema: str, where: Path | str) -> None:
    """The first schema error (by location) as an InvalidInput."""
    errors = sorted(validator(schema).iter_errors(data),
                    key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        error = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise InvalidInput(f"{error.message[:MAX_MESSAGE]}{more}",
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


def adherence_prompts(path: Path) -> dict[str, Any]:
    data = load_data_file(path, "adherence-prompts.schema.json", what="adherence prompts file")
    for index, text in enumerate(data["class_prompts"]):
        if "{value}" not in text:
            raise InvalidInput("a class prompt must contain {value}",
                               where=f"{path} /class_prompts/{index}")
    return data


def unsafe_concepts(path: Path) -> dict[str, Any]:
    return load_data_file(path, "unsafe-concepts.schema.json", what="concepts file")


def default_answers() -> dict[str, list[str]]:
    """attribute -> scorers in order of preference, for attributes several
    scorers decide."""
    from audit.paths import package_data_dir

    path = package_data_dir() / "attributes" / "answers.yaml"
    answers = load_data_file(path, "answers.schema.json", what="answers file")["answers"]
    return {k: [v] if isinstance(v, str) else list(v) for k, v in answers.items()}


def age_groups(path: Path) -> dict[str, Any]:
    """Age bins: every group but the last has ``below``, increasing; the last has none."""
    data = load_data_file(path, "age-groups.schema.json", what="age groups file")
    groups = data["groups"]
    labels = [g["label"] for g in groups]
    if len(set(labels)) < len(labels):
        raise InvalidInput("group labels must be distinct", where=f"{path} /groups")
    for i, group in enumerate(groups):
        last = i == len(groups) - 1
        if last == ("below" in group):
            raise InvalidInput("every group but the last needs 'below'; the last has none",
                               where=f"{path} /groups/{i}")
        if i and not last and group["below"] <= groups[i - 1]["below"]:
            raise InvalidInput("'below' must increase from group to group",
                               where=f"{path} /groups/{i}/below")
    return data


def tone_groups(path: Path) -> dict[str, Any]:
    """Monk tone -> group: every tone 1-10 in exactly one group."""
    data = load_data_file(path, "tone-groups.schema.json", what="tone groups file")
    tones = [t for members in data["groups"].values() for t in members]
    if sorted(tones, key=int) != [str(t) for t in range(1, 11)]:
        raise InvalidInput("every Monk tone 1-10 must be in exactly one group",
                           where=f"{path} /groups")
    return data


def occupation_aliases() -> dict[str, frozenset[str]]:
    """Normalised name -> every normalised name of the same occupation
    (the row's own and its aliases). A name listed under two rows would make
    a match a guess, so it is refused at load."""
    from audit.paths import package_data_dir
    from audit.reference_names import normalise

    path = package_data_dir() / "reference" / "occupation-aliases.yaml"
    data = load_data_file(path, "occupation-aliases.schema.json", what="occupation aliases")
    out: dict[str, frozenset[str]] = {}
    for row, aliases in data["occupations"].items():
        names = frozenset(normalise(n) for n in [row, *aliases])
        for name in names:
            if name in out:
                raise InvalidInput(f"'{name}' is listed under two occupations",
                                   where=f"{path} /occupations/{row}")
            out[name] = names
    return out
