"""Generator backends, looked up by name without importing torch."""

from __future__ import annotations

from typing import Any

from audit.api.generator import Generator
from audit.errors import UsageError
from audit.registry import Registry, suggest

GENERATORS = Registry("model backend", base=Generator, group="t2i_audit.generators")
GENERATORS.register("tiny", "audit.generators.tiny:TinyGenerator")
GENERATORS.register("toyworld", "audit.toyworld.model:ToyworldGenerator")
GENERATORS.register("diffusers", "audit.generators.diffusers_backend:DiffusersGenerator")


def generator_class(model: str) -> type[Generator]:
    """The backend for a model argument: a registered name (``tiny``), else
    diffusers for a hub id, alias or path. Unknown bare names get a "did you
    mean"."""
    from audit.generators.loading import resolve_source

    if model in GENERATORS:
        return GENERATORS.get(model)
    try:
        resolve_source(model)
    except Exception as exc:
        if "/" not in model and "." not in model:
            raise GENERATORS.unknown(model) from exc
        raise
    return GENERATORS.get("diffusers")


def check_model_options(cls: type[Generator], options: dict[str, Any]) -> None:
    for key in options:
        if key not in cls.options:
            raise UsageError(f"unknown model option '{key}'{suggest(key, list(cls.options))} "
                             f"for the {cls.name} backend (known: {', '.join(cls.options)})")


def make_generator(model: str, *, device: str = "auto", dtype: str = "auto",
                   options: dict[str, Any] | None = None, **legacy: Any) -> Generator:
    """Build the backend for ``model``; ``options`` are checked against the
    backend's declared options before any weights load."""
    options = {**legacy, **(options or {})}
    cls = generator_class(model)
    check_model_options(cls, options)
    return cls(model, device=device, dtype=dtype, **options)
