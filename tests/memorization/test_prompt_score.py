"""The prompt-level memorization score: read off the pipeline's own sampling
loop it equals the noise-prediction gap computed by hand, and on the toy
model with planted memorization it ranks the memorized captions above
captions of the same style that were never trained."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from audit.memorized.prompt_score import modified_z, noise_gaps
from tests.conftest import run_cli


def by_hand(pipe, prompt: str, seed: int, *, steps: int, guidance: float, size: int) -> float:
    """||eps(x_T, prompt) - eps(x_T, "")|| at the first step, from the
    pipeline's parts: its text encoder, its noise, its scheduler's scaling."""
    positive, negative = pipe.encode_prompt(prompt, "cpu", 1, True, "")
    pipe.scheduler.set_timesteps(steps)
    t = pipe.scheduler.timesteps[0]
    shape = (1, pipe.unet.config.in_channels, size // pipe.vae_scale_factor,
             size // pipe.vae_scale_factor)
    latents = torch.randn(shape, generator=torch.Generator("cpu").manual_seed(seed))
    latents = pipe.scheduler.scale_model_input(latents * pipe.scheduler.init_noise_sigma, t)
    with torch.no_grad():
        conditional = pipe.unet(latents, t, encoder_hidden_states=positive).sample
        unconditional = pipe.unet(latents, t, encoder_hidden_states=negative).sample
    return float((conditional - unconditional).flatten().norm())


def test_the_score_is_the_noise_gap_at_the_first_step():
    from audit.generators import make_generator

    pipe = make_generator("toyworld", device="cpu").pipe
    prompts = ["a photo of a nurse", "a photo of a ceo with long hair"]
    gaps = noise_gaps(pipe, prompts, seeds=[0, 3], steps=20, first_steps=1, guidance=5.0,
                      width=64, height=64)
    expected = [[by_hand(pipe, p, s, steps=20, guidance=5.0, size=64) for s in (0, 3)]
                for p in prompts]
    np.testing.assert_allclose(gaps, expected, rtol=1e-4)
    # more steps average more gaps; the model is left able to generate in full
    assert not np.allclose(noise_gaps(pipe, prompts[:1], seeds=[0], steps=20, first_steps=3,
                                      guidance=5.0, width=64, height=64), gaps[0, 0])
    out = pipe("a photo of a nurse", num_inference_steps=2, width=64, height=64,
               output_type="np")
    assert out.images.shape == (1, 64, 64, 3)


def test_modified_z_against_a_hand_computation():
    scores = np.array([1.0, 1.1, 0.9, 1.2, 1.0, 3.0])
    median, mad = 1.05, 0.1  # |x - 1.05|: .05 .05 .15 .15 .05 1.95 -> median 0.1
    np.testing.assert_allclose(modified_z(scores), 0.6745 * (scores - median) / mad)


def test_the_score_refuses_what_it_cannot_measure(tmp_path):
    from audit.errors import UsageError
    from audit.generators import make_generator

    pipe = make_generator("toyworld", device="cpu").pipe
    with pytest.raises(UsageError, match="guidance above 1"):
        noise_gaps(pipe, ["x"], seeds=[0], steps=4, first_steps=1, guidance=1.0, width=64,
                   height=64)
    with pytest.raises(UsageError, match="first_steps must be in 1..4"):
        noise_gaps(pipe, ["x"], seeds=[0], steps=4, first_steps=5, guidance=5.0, width=64,
                   height=64)


def test_cli_scores_a_runs_prompts_with_the_runs_model(tmp_path):
    run = tmp_path / "run"
    made = run_cli("generate", "--template", "a photo of {occupation|a}", "--slot",
                   "occupation=nurse,ceo,pilot", "--model", "toyworld", "--n", "1",
                   "--out", str(run))
    assert made.returncode == 0, made.stderr
    result = run_cli("memorization", str(run), "--prompt-score", "--seeds", "2")
    assert result.returncode == 0, result.stderr
    document = json.loads((run / "prompt_memorization.json").read_text())
    assert document["model"] == {**document["model"], "id": "toyworld", "same_as_run": True}
    assert document["settings"] == {"seeds": 2, "steps": 20, "first_steps": 1,
                                    "guidance": 5.0, "width": 64, "height": 64}
    assert sorted(p["prompt"] for p in document["prompts"]) == [
        "a photo of a ceo", "a photo of a nurse", "a photo of a pilot"]
    assert all(p["score"] > 0 and p["modified_z"] is None for p in document["prompts"])
    assert "at least 10" in document["notes"][0] and "a photo of a" in result.stdout
    neither = run_cli("memorization", str(run))
    assert neither.returncode == 2 and "--prompt-score" in neither.stderr
    # an imported run has no model to ask: one line says what to give
    imported = run_cli("import", str(run / "images"), "--out", str(tmp_path / "imported"))
    assert imported.returncode == 0, imported.stderr
    refused = run_cli("memorization", str(tmp_path / "imported"), "--prompt-score")
    assert refused.returncode == 2 and "give --model" in refused.stderr
