"""A prompt-level memorization score after Wen et al. (ICLR 2024, "Detecting,
Explaining, and Mitigating Memorization in Diffusion Models"): a prompt the
model has memorized pulls the noise prediction hard towards one image from
the first step, so the text-conditional and unconditional predictions differ
by much more than for other prompts. The score is the L2 norm of
eps(x_t, prompt) - eps(x_t, "") over the first sampling steps, averaged over
seeds; it needs only the model, no training data.

It is read off the pipeline's own sampling loop (a forward hook on its
denoiser, which classifier-free guidance calls with the unconditional and
the conditional half in one batch), so the model runs exactly as it does
when it generates. Scores compare prompts of one model at one setting
(steps, guidance, size); they have no meaning across models.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from audit.errors import UsageError


def check_pipeline(pipe: Any) -> None:
    """The score needs a UNet denoiser called once per step with both
    halves of classifier-free guidance, and a step callback to stop early."""
    if getattr(pipe, "unet", None) is None:
        raise UsageError(f"the prompt score needs a UNet pipeline (Stable Diffusion 1.x/2.x, "
                         f"SDXL); {type(pipe).__name__} has none")
    if "callback_on_step_end" not in inspect.signature(pipe.__call__).parameters:
        raise UsageError(f"{type(pipe).__name__} has no step callback to stop after the "
                         "first steps; the prompt score cannot run on it")


def noise_gaps(pipe: Any, prompts: Sequence[str], *, seeds: Sequence[int], steps: int,
               first_steps: int, guidance: float, width: int, height: int,
               generator_device: str = "cpu",
               progress: Callable[[int], None] | None = None) -> np.ndarray:
    """(len(prompts), len(seeds)): per prompt and seed, the mean over the
    first ``first_steps`` of ``steps`` sampling steps of
    ||eps(x_t, prompt) - eps(x_t, "")||_2 over the whole latent."""
    import torch

    check_pipeline(pipe)
    if guidance <= 1.0:
        raise UsageError(f"the prompt score compares the conditional and unconditional noise "
                         f"predictions, which guidance {guidance:g} does not compute; use a "
                         "guidance above 1")
    if not 1 <= first_steps <= steps:
        raise UsageError(f"first_steps must be in 1..{steps} (the sampling steps), got "
                         f"{first_steps}")
    recorded: list[Any] = []

    def record(_module: Any, _args: Any, output: Any) -> None:
        sample = output[0] if isinstance(output, tuple) else output.sample
        unconditional, conditional = sample.float().chunk(2)
        recorded.append((conditional - unconditional).flatten(1).norm(dim=1).cpu())

    def stop_after_first(pipeline: Any, step: int, _t: Any, _kwargs: Any) -> dict[str, Any]:
        if step + 1 >= first_steps:
            pipeline._interrupt = True  # the loop skips the remaining steps
        return {}

    gaps = np.empty((len(prompts), len(seeds)))
    handle = pipe.unet.register_forward_hook(record)
    try:
        for row, prompt in enumerate(prompts):
            recorded.clear()
            generators = [torch.Generator(generator_device).manual_seed(int(s)) for s in seeds]
            with torch.inference_mode():
                pipe(prompt=[prompt] * len(seeds), negative_prompt=[""] * len(seeds),
                     num_inference_steps=steps, guidance_scale=guidance, width=width,
                     height=height, generator=generators, output_type="latent",
                     callback_on_step_end=stop_after_first)
            if len(recorded) != first_steps:
                raise UsageError(f"{type(pipe).__name__} called its denoiser {len(recorded)} "
                                 f"time(s) in {first_steps} step(s); the prompt score needs "
                                 "one call per step")
            gaps[row] = torch.stack(recorded).mean(dim=0).numpy()
            if progress:
                progress(1)
    finally:
        handle.remove()
        pipe._interrupt = False
    return gaps


def modified_z(scores: np.ndarray) -> np.ndarray:
    """Iglewicz and Hoaglin's modified z-score, 0.6745 (x - median) / MAD:
    how far a prompt's score stands above the run's other prompts, robust to
    the few outliers it is meant to find."""
    median = float(np.median(scores))
    mad = float(np.median(np.abs(scores - median)))
    if mad == 0:
        return np.zeros_like(scores)
    return 0.6745 * (scores - median) / mad


OUTLIER_Z = 3.5  # Iglewicz and Hoaglin's cut-off for a potential outlier
MIN_PROMPTS_FOR_OUTLIERS = 10
