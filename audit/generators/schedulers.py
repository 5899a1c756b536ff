"""WebUI-style sampler names -> diffusers scheduler classes and options."""

from __future__ import annotations

from typing import Any

from audit.errors import UsageError
from audit.registry import suggest

# name: (diffusers class, extra config, A1111 "Sampler" label)
SCHEDULERS: dict[str, tuple[str, dict[str, Any], str]] = {
    "euler": ("EulerDiscreteScheduler", {}, "Euler"),
    "euler_a": ("EulerAncestralDiscreteScheduler", {}, "Euler a"),
    "heun": ("HeunDiscreteScheduler", {}, "Heun"),
    "lms": ("LMSDiscreteScheduler", {}, "LMS"),
    "ddim": ("DDIMScheduler", {}, "DDIM"),
    "ddpm": ("DDPMScheduler", {}, "DDPM"),
    "pndm": ("PNDMScheduler", {}, "PLMS"),
    "unipc": ("UniPCMultistepScheduler", {}, "UniPC"),
    "dpm++_2m": ("DPMSolverMultistepScheduler", {"use_karras_sigmas": False}, "DPM++ 2M"),
    "dpm++_2m_karras": ("DPMSolverMultistepScheduler", {"use_karras_sigmas": True},
                        "DPM++ 2M Karras"),
    "dpm++_2m_sde": ("DPMSolverMultistepScheduler",
                     {"algorithm_type": "sde-dpmsolver++", "use_karras_sigmas": False},
                     "DPM++ 2M SDE"),
    "dpm++_2m_sde_karras": ("DPMSolverMultistepScheduler",
                            {"algorithm_type": "sde-dpmsolver++", "use_karras_sigmas": True},
                            "DPM++ 2M SDE Karras"),
}
DEFAULT = "default"  # keep the scheduler the model was saved with


def check_scheduler(name: str) -> str:
    if name != DEFAULT and name not in SCHEDULERS:
        known = ", ".join([DEFAULT, *SCHEDULERS])
        raise UsageError(f"unknown scheduler '{name}'{suggest(name, list(SCHEDULERS))} "
                         f"(known: {known})")
    return name


def sampler_label(name: str, scheduler: Any) -> str:
    if name == DEFAULT:
        return type(scheduler).__name__
    return SCHEDULERS[name][2]


def make_scheduler(name: str, base_config: Any) -> Any:
    """A scheduler built from the model's own config plus the named options."""
    import diffusers

    check_scheduler(name)
    class_name, extra, _ = SCHEDULERS[name]
    return getattr(diffusers, class_name).from_config(base_config, **extra)
