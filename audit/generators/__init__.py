"""Generator backends, looked up by name without importing torch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from audit.api.generator import Generator, HostedGenerator
from audit.errors import UsageError
from audit.registry import Registry, suggest

GENERATORS = Registry("model", base=Generator, group="t2i_audit.generators")
GENERATORS.register("tiny", "audit.generators.tiny:TinyGenerator")
GENERATORS.register("toyworld", "audit.toyworld.model:ToyworldGenerator")
GENERATORS.register("diffusers", "audit.generators.diffusers_backend:DiffusersGenerator")
GENERATORS.register("openai", "audit.generators.openai_images:OpenAIGenerator")
GENERATORS.register("stability", "audit.generators.stability:StabilityGenerator")


def hosted_class(name: str) -> type[HostedGenerator] | None:
    """The registered backend ``name`` when it is a provider's API (addressed
    as ``name:MODEL``): bundled or a plugin, known by its class."""
    if name not in GENERATORS:
        return None
    cls = GENERATORS.get(name)
    return cls if issubclass(cls, HostedGenerator) else None


def generator_class(model: str) -> type[Generator]:
    """The backend for a model argument: a registered name (``tiny``), else
    diffusers for a hub id, alias or path. Answers at once, before torch is
    imported; an unknown bare name gets "did you mean" over the names and
    aliases and the list of them."""
    from audit.generators.loading import ALIASES, resolve_source

    provider, sep, _ = model.partition(":")
    hosted = hosted_class(provider) if sep else None
    if hosted is not None:
        return hosted
    hosted = hosted_class(model)
    if hosted is not None:
        raise UsageError(f"--model {model}:MODEL names the provider's model, e.g. "
                         f"{model}:{hosted.example_model}")
    if model in GENERATORS:
        return GENERATORS.get(model)
    if model.startswith(("dall-e", "gpt-image")):
        raise UsageError(f"unknown model '{model}': OpenAI's models are --model openai:{model}")
    looks_like_a_path = ("/" in model or model.endswith((".safetensors", ".ckpt"))
                         or Path(model).exists())
    if not looks_like_a_path and model not in ALIASES:
        names = [n for n in GENERATORS.names() if n != "diffusers"] + list(ALIASES)
        raise UsageError(f"unknown model '{model}'{suggest(model, names)} (names: "
                         f"{', '.join(names)}; or a hub id org/name, a pipeline folder, or a "
                         ".safetensors/.ckpt file)")
    resolve_source(model)
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
