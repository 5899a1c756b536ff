"""Device and dtype choice, shared by generators and scorers."""

from __future__ import annotations

from typing import Any

from audit.errors import UsageError

DTYPES = {"fp16": "float16", "bf16": "bfloat16", "fp32": "float32"}

def pick_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"--device {device} asked for, but torch sees no CUDA device")
    return device


def pick_dtype(dtype: str, device: str) -> Any:
    import torch

    if dtype == "auto":
        dtype = "fp16" if device.startswith("cuda") else "fp32"
    if dtype not in DTYPES:
        raise UsageError(f"unknown dtype '{dtype}' (known: auto, {', '.join(DTYPES)})")
    return getattr(torch, DTYPES[dtype])


VERBOSE_ENV = "T2I_AUDIT_VERBOSE"


def quiet_libraries() -> None:
    """diffusers, transformers and the hub client warn about config details
    and draw their own progress bars at every load; the audit reports its own
    progress. ``audit --verbose`` (T2I_AUDIT_VERBOSE=1) keeps them."""
    import os

    if os.environ.get(VERBOSE_ENV):
        return
    import huggingface_hub.utils
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    diffusers_logging.set_verbosity_error()
    diffusers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    huggingface_hub.utils.disable_progress_bars()
