"""Generator backends, looked up by name without importing torch."""

from __future__ import annotations

from typing import Any

from audit.api.generator import Generator
from audit.registry import Registry

GENERATORS = Registry("model backend")
GENERATORS.register("tiny", "audit.generators.tiny:TinyGenerator")
GENERATORS.register("toyworld", "audit.toyworld.model:ToyworldGenerator")
GENERATORS.register("diffusers", "audit.generators.diffusers_backend:DiffusersGenerator")


def make_generator(model: str, **options: Any) -> Generator:
    """A registered backend by name (``tiny``), else diffusers for a hub id,
    alias or path. Unknown bare names get a "did you mean"."""
    from audit.generators.loading import resolve_source

    if model in GENERATORS:
        return GENERATORS.get(model)(model, **options)
    try:
        resolve_source(model)
    except Exception as exc:
        if "/" not in model and "." not in model:
            raise GENERATORS.unknown(model) from exc
        raise
    return GENERATORS.get("diffusers")(model, **options)
