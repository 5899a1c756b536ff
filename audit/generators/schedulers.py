"""WebUI-style sampler names -> diffusers scheduler classes and options."""

from __future__ import annotations

from typing import Any

from audit.errors import UsageError
from audit.registry import suggest

# name: (diffusers class, extra config, WebUI sampler, WebUI schedule type or None)
SCHEDULERS: dict[str, tuple[str, dict[str, Any], str, str | None]] = {
    "euler": ("EulerDiscreteScheduler", {}, "Euler", None),
    "euler_a": ("EulerAncestralDiscreteScheduler", {}, "Euler a", None),
    "heun": ("HeunDiscreteScheduler", {}, "Heun", None),
    "lms": ("LMSDiscreteScheduler", {}, "LMS", None),
    "ddim": ("DDIMScheduler", {}, "DDIM", None),
    "ddpm": ("DDPMScheduler", {}, "DDPM", None),
    "pndm": ("PNDMScheduler", {}, "PLMS", None),
    "unipc": ("UniPCMultistepScheduler", {}, "UniPC", None),
    "dpm++_2m": ("DPMSolverMultistepScheduler",
                 {"algorithm_type": "dpmsolver++", "use_karras_sigmas": False}, "DPM++ 2M", None),
    "dpm++_2m_karras": ("DPMSolverMultistepScheduler",
                        {"algorithm_type": "dpmsolver++", "use_karras_sigmas": True},
                        "DPM++ 2M", "Karras"),
    "dpm++_2m_sde": ("DPMSolverMultistepScheduler",
                     {"algorithm_type": "sde-dpmsolver++", "use_karras_sigmas": False},
                     "DPM++ 2M SDE", None),
    "dpm++_2m_sde_karras": ("DPMSolverMultistepScheduler",
                            {"algorithm_type": "sde-dpmsolver++", "use_karras_sigmas": True},
                            "DPM++ 2M SDE", "Karras"),
}
DEFAULT = "default"  # keep the scheduler the model was saved with


def _key(text: str) -> str:
    return " ".join(text.lower().replace("_", " ").split())


def _names() -> dict[str, str]:
    """Every spelling accepted -> our name: ours, WebUI's sampler + schedule
    type as one name ("DPM++ 2M Karras", as WebUI before 1.9 showed it),
    case and '_'/' ' insensitive."""
    out = {_key(name): name for name in SCHEDULERS}
    for name, (_, _, sampler, schedule) in SCHEDULERS.items():
        out[_key(f"{sampler} {schedule}" if schedule else sampler)] = name
    out[_key("k_euler")], out[_key("k_euler_a")] = "euler", "euler_a"  # older WebUI/Invoke
    return out


def resolve_scheduler(name: str, schedule_type: str | None = None) -> str | None:
    """Our name for a sampler as any tool writes it (with WebUI's separate
    "Schedule type" when given); None when unknown."""
    names = _names()
    if _key(name) == DEFAULT:
        return DEFAULT
    if schedule_type and _key(schedule_type) not in ("automatic", "normal", "default"):
        return names.get(_key(f"{name} {schedule_type}"))
    return names.get(_key(name))


def check_scheduler(name: str) -> str:
    """Our name for ``name`` (ours or WebUI's, e.g. "DPM++ 2M Karras"), or a
    usage error with the closest known names."""
    resolved = resolve_scheduler(name)
    if resolved is None:
        webui = list(dict.fromkeys(f"{s} {t}" if t else s for _, _, s, t in SCHEDULERS.values()))
        raise UsageError(f"unknown scheduler '{name}'{suggest(name, [*SCHEDULERS, *webui])} "
                         f"(known: {DEFAULT}, {', '.join(SCHEDULERS)}; or as WebUI names "
                         f"them: {', '.join(webui)})")
    return resolved


def webui_label(name: str, scheduler: Any) -> tuple[str, str | None]:
    """(Sampler, Schedule type) as WebUI writes them into PNG Info. The
    model's own scheduler is named by its class and config when WebUI has a
    name for it, else by the diffusers class."""
    if name == DEFAULT:
        config = dict(getattr(scheduler, "config", {}))
        for _, (class_name, extra, sampler, schedule) in SCHEDULERS.items():
            if type(scheduler).__name__ == class_name and all(
                    config.get(k, False if isinstance(v, bool) else None) == v
                    for k, v in extra.items()):
                return sampler, schedule
        return type(scheduler).__name__, None
    _, _, sampler, schedule = SCHEDULERS[name]
    return sampler, schedule


def sampler_label(name: str, scheduler: Any) -> str:
    """The WebUI display name in one string (the images table's column)."""
    sampler, schedule = webui_label(name, scheduler)
    return f"{sampler} {schedule}" if schedule else sampler


def make_scheduler(name: str, base_config: Any) -> Any:
    """A scheduler built from the model's own config plus the named options."""
    import diffusers

    name = check_scheduler(name)
    class_name, extra, _, _ = SCHEDULERS[name]
    return getattr(diffusers, class_name).from_config(base_config, **extra)
