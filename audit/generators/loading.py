"""Resolve a model argument (alias, hub id, local folder, single file) to a
loaded diffusers pipeline, failing with one line that says what to do.

All real models go through this module, and the tests load tiny pipelines
saved with ``save_pretrained`` through the same code.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.common.hashing import file_sha256, folder_sha256
from audit.common.hub import hub_reachable
from audit.errors import UsageError

# The course assignment's names, and other common shorthands.
ALIASES = {
    "SDv1.5": "stable-diffusion-v1-5/stable-diffusion-v1-5",
    "SDv2.1": "stabilityai/stable-diffusion-2-1",
    "SDXL": "stabilityai/stable-diffusion-xl-base-1.0",
    "SD3": "stabilityai/stable-diffusion-3-medium-diffusers",
    "FLUX-schnell": "black-forest-labs/FLUX.1-schnell",
    "FLUX-dev": "black-forest-labs/FLUX.1-dev",  # gated on the hub: accept its licence first
}
SINGLE_FILE_SUFFIXES = (".safetensors", ".ckpt")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")

# single-file model types (diffusers' infer_diffusers_model_type) -> pipeline class
_SINGLE_FILE_PIPELINES = {
    "v1": "StableDiffusionPipeline",
    "v2": "StableDiffusionPipeline",
    "xl_base": "StableDiffusionXLPipeline",
    "playground-v2-5": "StableDiffusionXLPipeline",
    "sd3": "StableDiffusion3Pipeline",
    "flux": "FluxPipeline",
}


@dataclass(frozen=True)
class ModelSource:
    kind: str  # hub | folder | single_file
    location: str  # hub id or path
    alias: str | None = None


def resolve_source(model: str) -> ModelSource:
    alias = model if model in ALIASES else None
    target = ALIASES.get(model, model)
    path = Path(target).expanduser()
    if path.is_file():
        if path.suffix not in SINGLE_FILE_SUFFIXES:
            raise UsageError(f"a single-file checkpoint must end in .safetensors or .ckpt: {path}")
        return ModelSource("single_file", str(path.resolve()))
    if path.is_dir():
        if not (path / "model_index.json").is_file():
            raise UsageError(f"{path} is a folder but has no model_index.json; save the "
                             "pipeline with save_pretrained() or pass the checkpoint file")
        return ModelSource("folder", str(path.resolve()))
    if _HUB_ID.match(target) and not target.startswith((".", "/")):
        return ModelSource("hub", target, alias)
    raise UsageError(f"model '{model}' is not a registered backend, an alias "
                     f"({', '.join(ALIASES)}), a hub id (org/name), or an existing path")


def _unavailable(source: ModelSource, reason: str) -> UsageError:
    return UsageError(
        f"model '{source.alias or source.location}' is not available offline ({reason}). "
        "Pass a local pipeline folder (save_pretrained) or a .safetensors/.ckpt file with "
        "--config FOLDER, or run on a machine that can reach huggingface.co"
    )






def _hub_commit(repo_id: str, revision: str | None) -> str | None:
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id, revision=revision, local_files_only=True)).name
    except Exception:  # provenance only: a missing commit hash is recorded as null
        return None


def load_pipeline(source: ModelSource, *, torch_dtype: Any, revision: str | None,
                  config: str | None, safety_checker: bool,
                  components: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
    """Load a text-to-image pipeline; returns it with provenance fields.

    ``components`` are modules to share instead of loading (an SDXL refiner
    takes the base's second text encoder and VAE); with them the pipeline
    loads as saved (an image-to-image refiner stays one)."""
    from audit.common.onnx import import_onnxruntime

    import_onnxruntime()  # before diffusers does, outside the redirect
    import diffusers

    extra: dict[str, Any] = {"torch_dtype": torch_dtype, **(components or {})}
    if not safety_checker and not components:
        extra.update(safety_checker=None, requires_safety_checker=False)
    info: dict[str, Any] = {"source": source.kind, "location": source.location,
                            "revision": revision, "sha256": None}
    if source.kind == "single_file":
        pipe = _load_single_file(Path(source.location), config, extra)
        info["sha256"] = file_sha256(Path(source.location))
        return pipe, info
    if source.kind == "folder":
        info["sha256"] = folder_sha256(Path(source.location))
        return _from_pretrained(diffusers, source.location, extra), info
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
    try:
        pipe = _from_pretrained(diffusers, source.location,
                                {**extra, "revision": revision, "local_files_only": True})
    except (OSError, ValueError) as exc:
        if offline or not hub_reachable():
            reason = "not in the local Hugging Face cache, and the hub is " + (
                "switched off by HF_HUB_OFFLINE" if offline else "unreachable")
            raise _unavailable(source, reason) from exc
        try:
            pipe = _from_pretrained(diffusers, source.location, {**extra, "revision": revision})
        except (OSError, ValueError) as exc2:
            raise _unavailable(source, type(exc2).__name__) from exc2
    info["revision"] = _hub_commit(source.location, revision) or revision
    return pipe, info


def _from_pretrained(diffusers: Any, location: str, kwargs: dict[str, Any]) -> Any:
    if any(k in kwargs for k in ("text_encoder_2", "vae")):  # a refiner: as saved
        return diffusers.DiffusionPipeline.from_pretrained(location, **kwargs)
    try:
        return diffusers.AutoPipelineForText2Image.from_pretrained(location, **kwargs)
    except ValueError as exc:
        # Pipelines AutoPipeline does not map (custom or newer classes) still
        # load through the generic entry point.
        if "AutoPipeline" not in str(exc):
            raise
        return diffusers.DiffusionPipeline.from_pretrained(location, **kwargs)


def _load_single_file(path: Path, config: str | None, kwargs: dict[str, Any]) -> Any:
    import diffusers
    from diffusers.loaders.single_file_utils import (
        infer_diffusers_model_type,
        load_single_file_checkpoint,
    )

    try:
        model_type = infer_diffusers_model_type(load_single_file_checkpoint(str(path)))
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        first = (str(exc).splitlines() or [""])[0]
        raise UsageError(f"not a loadable checkpoint ({type(exc).__name__}: {first})",
                         where=str(path)) from None
    family = next((v for k, v in _SINGLE_FILE_PIPELINES.items() if model_type.startswith(k)),
                  None)
    if family is None:
        raise UsageError(f"{path}: checkpoint type '{model_type}' has no text-to-image "
                         "pipeline mapping; convert it to a diffusers folder")
    if config is None:
        if os.environ.get("HF_HUB_OFFLINE"):
            raise UsageError(f"{path}: a single-file checkpoint needs its pipeline config; "
                             "pass --config FOLDER (a diffusers folder of the same "
                             "architecture) when the hub is unreachable")
    else:
        kwargs = {**kwargs, "config": config, "local_files_only": True}
    try:
        return getattr(diffusers, family).from_single_file(str(path), **kwargs)
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: cannot build a {family} from this checkpoint ({exc}); "
                         "pass --config FOLDER with a matching diffusers folder") from exc
