"""Command-line options generated from the stages' option declarations
(``audit/options.py``): the parameters a command shows, and the flags layer
they give back. A flag left at its default is "not given", so the config
file's value (and then the built-in default) applies."""

from __future__ import annotations

import inspect
import shlex
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperCommand

from audit.options import Alias, Spec, StageOptions, spec_of

# How one command names an option that two stages share a flag for
# (``audit run``'s --stats-seed is the statistics' seed; --seed the images').
Renames = dict[str, tuple[str, tuple[str, ...]]]  # field -> (dest, flags)


def _annotation(cli_type: Any, default: Any) -> Any:
    return cli_type if default is not None else cli_type | None


def _option(default: Any, flags: tuple[str, ...], help: str, minimum: float | None,
            section: str | None = None) -> Any:
    extra = {"min": minimum} if minimum is not None else {}
    return typer.Option(default, *flags, help=help, rich_help_panel=section, **extra)


def parameters(cls: type[StageOptions], renames: Renames | None = None
               ) -> list[inspect.Parameter]:
    """One keyword parameter per option that has flags (or is an argument),
    then one per alias flag."""
    renames = renames or {}
    out = []
    for f in fields(cls):  # type: ignore[arg-type]
        spec: Spec = spec_of(f)
        if not spec.flags and not spec.argument:
            continue
        name, flags = renames.get(f.name, (spec.config_key or f.name, spec.flags))
        default = (typer.Argument(None, help=spec.help) if spec.argument
                   else _option(spec.cli_default, flags, spec.help, spec.minimum, cls.section))
        kind = (inspect.Parameter.POSITIONAL_OR_KEYWORD if spec.argument
                else inspect.Parameter.KEYWORD_ONLY)
        out.append(inspect.Parameter(name, kind, default=default,
                                     annotation=_annotation(spec.cli_type, spec.cli_default)))
    for alias in cls.aliases:
        out.append(inspect.Parameter(alias.dest, inspect.Parameter.KEYWORD_ONLY,
                                     default=_option(None, alias.flags, alias.help,
                                                     alias.minimum, cls.section),
                                     annotation=alias.cli_type | None))
    return out


def _given(value: Any, spec: Spec) -> bool:
    if value is None or (isinstance(value, list | tuple) and not value):
        return False
    return spec.cli_default is None or value != spec.cli_default


def flags_layer(cls: type[StageOptions], values: dict[str, Any], *,
                renames: Renames | None = None, running: list[str] | None = None
                ) -> dict[str, Any]:
    """The options given on the command line, as the stage's keywords. An
    alias flag fills its key of a mapping unless the mapping's own flag set
    it (``-M revision=`` wins over ``--revision``, ``-S clip.model=`` over
    ``--clip-model``); scorer aliases apply to the scorers being run
    (``running``)."""
    renames = renames or {}
    out: dict[str, Any] = {}
    for f in fields(cls):  # type: ignore[arg-type]
        spec = spec_of(f)
        name = renames.get(f.name, (spec.config_key or f.name,))[0]
        if name not in values or not _given(values[name], spec):
            continue
        raw = values[name]
        out[f.name] = spec.parse(list(raw) if isinstance(raw, tuple) else raw) \
            if spec.parse else raw
    for alias in cls.aliases:
        raw = values.get(alias.dest)
        if raw is None:
            continue
        _apply(out, alias, alias.parse(raw) if alias.parse else raw, running or [])
    return out


def _apply(out: dict[str, Any], alias: Alias, value: Any, running: list[str]) -> None:
    mapping = out.get(alias.into) or {}
    if alias.into == "scorer_options":
        for scope in alias.scopes:
            if scope in running:
                scoped = mapping.setdefault(scope, {})
                scoped.setdefault(alias.key, value)  # -S SCORER.KEY given too: it wins
    elif alias.key == "size":
        mapping.setdefault("width", value[0])
        mapping.setdefault("height", value[1])
    else:
        mapping.setdefault(alias.key, value)
    if mapping:
        out[alias.into] = mapping


ConfigParameter = inspect.Parameter(
    "config", inspect.Parameter.KEYWORD_ONLY, annotation=Path | None,
    default=typer.Option(None, "--config", help="A run configuration .yaml (the Python API's "
                         "keywords; schemas/run-config.schema.json; flags win), or, for a "
                         "single-file checkpoint, the diffusers folder with its pipeline "
                         "config (needed offline)."))


def split_config(config: Path | None) -> tuple[dict[str, Any], str | None]:
    """``--config``: a run configuration YAML, or a diffusers config folder."""
    from audit.options import read_config

    if config is not None and config.suffix in (".yaml", ".yml"):
        return read_config(config), None
    return {}, str(config) if config is not None else None


def command_line() -> str:
    return "audit " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def signature(*groups: list[inspect.Parameter]) -> tuple[inspect.Signature, dict[str, Any]]:
    """A command's signature from parameter groups; a name already taken
    (an option two stages share, such as --ray) keeps its first declaration."""
    params: dict[str, inspect.Parameter] = {}
    for group in groups:
        for param in group:
            params.setdefault(param.name, param)
    ordered = sorted(params.values(), key=lambda p: p.kind)
    return (inspect.Signature(ordered), {p.name: p.annotation for p in ordered})


class SectionedCommand(TyperCommand):
    """Plain help with options under their stage's heading (Generation,
    Scoring, Statistics, Output) instead of one long list; options without
    a section come last."""

    def format_options(self, ctx: Any, formatter: Any) -> None:
        arguments: list[tuple[str, str]] = []
        sections: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                arguments.append(record)
            else:
                section = getattr(param, "rich_help_panel", None) or "Options"
                sections.setdefault(section, []).append(record)
        if arguments:
            with formatter.section("Arguments"):
                formatter.write_dl(arguments)
        other = sections.pop("Options", [])
        for title, records in [*sections.items(), ("Other options" if sections else "Options",
                                                   other)]:
            if records:
                with formatter.section(title):
                    formatter.write_dl(records)
