"""Short names to lazily imported objects, with "did you mean" on typos.

Entries are ``"module:attr"`` strings, so listing or validating names never
imports torch or diffusers. Other packages add entries through entry points
(group ``t2i_audit.<kind>``, e.g. ``t2i_audit.scorers``), read the first time
a registry is asked for a name it does not hold. Every object a registry hands
out is checked against the registry's base type.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
from collections.abc import Iterator
from typing import Any

from audit.errors import UsageError


def suggest(name: str, choices: list[str]) -> str:
    """A ``; did you mean 'x'?`` suffix, or an empty string."""
    lowered = {c.lower(): c for c in choices}
    if name.lower() in lowered and lowered[name.lower()] != name:
        return f"; did you mean '{lowered[name.lower()]}'?"
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    if not close:
        close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
        close = [lowered[c] for c in close]
    return f"; did you mean '{close[0]}'?" if close else ""


class Registry:
    """``kind`` names the thing in messages; ``group`` is the entry-point group;
    ``base`` is the class (or, with ``instances=True``, the type of object)
    every entry must be."""

    def __init__(self, kind: str, *, base: type, group: str, instances: bool = False) -> None:
        self.kind = kind
        self.base = base
        self.group = group
        self.instances = instances
        self._entries: dict[str, str] = {}
        self._plugins_loaded = False

    def register(self, name: str, target: str) -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} '{name}' is already registered")
        if ":" not in target:
            raise ValueError(f"{self.kind} '{name}': target must be 'module:attr'")
        self._entries[name] = target

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for entry in importlib.metadata.entry_points(group=self.group):
            if entry.name not in self._entries:
                self._entries[entry.name] = entry.value

    def names(self) -> list[str]:
        self._load_plugins()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        if name not in self._entries:
            self._load_plugins()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def unknown(self, name: str) -> UsageError:
        names = self.names()
        return UsageError(f"unknown {self.kind} '{name}'{suggest(name, names)} "
                          f"(known: {', '.join(names)})")

    def get(self, name: str) -> Any:
        if name not in self:
            raise self.unknown(name)
        module, _, attr = self._entries[name].partition(":")
        try:
            target = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise UsageError(f"{self.kind} '{name}' points to {self._entries[name]}, which "
                             f"cannot be imported ({type(exc).__name__}: {exc})") from None
        ok = (isinstance(target, self.base) if self.instances
              else isinstance(target, type) and issubclass(target, self.base))
        if not ok:
            raise UsageError(f"{self.kind} '{name}' ({self._entries[name]}) is not a "
                             f"{self.base.__name__}")
        return target
