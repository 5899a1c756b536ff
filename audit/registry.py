"""Short names to lazily imported classes, with "did you mean" on typos.

Entries are ``"module:attr"`` strings so that listing or validating names
never imports torch or diffusers.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterator
from typing import Any

from audit.errors import UsageError


def suggest(name: str, choices: list[str]) -> str:
    """A ``; did you mean 'x'?`` suffix, or an empty string."""
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in choices}
        close = [lowered[name.lower()]] if name.lower() in lowered else []
    return f"; did you mean '{close[0]}'?" if close else ""


class Registry:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, str] = {}

    def register(self, name: str, target: str) -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} '{name}' is already registered")
        self._entries[name] = target

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))

    def unknown(self, name: str) -> UsageError:
        known = ", ".join(sorted(self._entries))
        return UsageError(
            f"unknown {self.kind} '{name}'{suggest(name, list(self._entries))} (known: {known})"
        )

    def get(self, name: str) -> Any:
        if name not in self._entries:
            raise self.unknown(name)
        module, _, attr = self._entries[name].partition(":")
        return getattr(importlib.import_module(module), attr)
