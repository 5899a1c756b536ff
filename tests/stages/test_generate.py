"""The generation engine on a real (random, tiny) diffusers pipeline."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from audit.api.generator import GenerationRequest
from audit.generators.diffusers_backend import status_of
from audit.generators.tiny import TinyGenerator
from tests.conftest import run_cli

# Batched matmuls on CPU may round differently from single ones: an image made
# inside a batch may differ from the same seed made alone by at most this many
# 8-bit levels per pixel (measured: 1).
BATCH_TOLERANCE = 2


def request(seed, prompt="a photo of a nurse", **kw):
    params = dict(negative_prompt="blurry", steps=2, guidance=5.0, width=64, height=64,
                  scheduler="euler")
    params.update(kw)
    return GenerationRequest(image_id=f"{prompt}/{seed}", prompt=prompt, seed=seed, **params)


def pixels(result):
    return np.asarray(result.image, dtype=np.int16)


def test_one_image_per_request_in_order(tiny_generator):
    reqs = [request(1), request(2, "a photo of a pilot"), request(3)]
    results = tiny_generator.generate(reqs)
    assert [r.request for r in results] == reqs
    assert all(r.status == "ok" and r.image.size == (64, 64) for r in results)
    assert [r.batch_index for r in results] == [0, 1, 2]


def test_same_seed_same_image_different_seed_different_image(tiny_generator):
    a, b, c = tiny_generator.generate([request(5), request(5), request(6)])
    assert np.abs(pixels(a) - pixels(b)).max() <= BATCH_TOLERANCE
    assert np.abs(pixels(a) - pixels(c)).mean() > 5


def test_image_does_not_depend_on_batch_neighbours(tiny_generator):
    alone = tiny_generator.generate([request(11)])[0]
    batch = tiny_generator.generate([request(3, "a photo of a chef"), request(11),
                                     request(99, "a photo of a judge", negative_prompt="")])
    assert np.abs(pixels(alone) - pixels(batch[1])).max() <= BATCH_TOLERANCE


def test_fresh_pipelines_reproduce_identical_pixels(tiny_generator):
    again = TinyGenerator(device="cpu")
    first = tiny_generator.generate([request(21), request(22)])
    second = again.generate([request(21), request(22)])
    for x, y in zip(first, second, strict=True):
        assert np.array_equal(pixels(x), pixels(y))


def test_prompt_embeddings_are_cached_per_prompt(tiny_generator):
    tiny_generator._embeddings.clear()
    tiny_generator.generate([request(1), request(2), request(3, "a photo of a pilot")])
    assert len(tiny_generator._embeddings) == 2


@pytest.mark.parametrize("name", ["euler_a", "ddim", "dpm++_2m_karras", "pndm", "default"])
def test_schedulers_by_webui_name(tiny_generator, name):
    result = tiny_generator.generate([request(1, scheduler=name, steps=5)])[0]
    assert result.status == "ok"
    expected = {"euler_a": "EulerAncestralDiscreteScheduler", "ddim": "DDIMScheduler",
                "dpm++_2m_karras": "DPMSolverMultistepScheduler", "pndm": "PNDMScheduler",
                "default": "DDIMScheduler"}[name]
    assert tiny_generator.describe()["scheduler"]["class"] == expected
    if name == "dpm++_2m_karras":
        assert tiny_generator.pipe.scheduler.config.use_karras_sigmas is True


def test_guidance_one_disables_cfg(tiny_generator):
    result = tiny_generator.generate([request(1, guidance=1.0)])[0]
    assert result.status == "ok"


def test_status_blank_nan_ok():
    rng = np.random.default_rng(0)
    assert status_of(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), True) == "ok"
    assert status_of(np.zeros((8, 8, 3), np.uint8), True) == "blank"
    almost = np.full((8, 8, 3), 128, np.uint8)
    almost[0, 0, 0] = 129  # within one 8-bit level
    assert status_of(almost, True) == "blank"
    assert status_of(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), False) == "nan"


def host_uint8(images) -> np.ndarray:
    """The conversion the engine used to do: diffusers' "np" output (the
    tensor to float32 on the host), clipped, x255, rounded."""
    floats = images.cpu().permute(0, 2, 3, 1).float().numpy()
    return np.round(np.clip(floats, 0, 1) * 255).astype(np.uint8)


def test_device_uint8_conversion_equals_the_host_one_bit_for_bit():
    import torch

    from audit.generators.diffusers_backend import to_uint8

    torch.manual_seed(0)
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        images = (torch.rand(3, 3, 16, 16) * 1.2 - 0.1).to(dtype)
        images[0, 0, 0, :8] = torch.tensor([(k + 0.5) / 255 for k in range(8)])  # ties
        images[2, 1, 3, 3] = float("nan")
        pixels, finite = to_uint8(images)
        assert finite == [True, True, False]
        assert np.array_equal(pixels[:2], host_uint8(images[:2])), dtype


def test_engine_pixels_are_the_pipeline_images(tiny_generator):
    import torch

    wanted = request(3)
    image = np.asarray(tiny_generator.generate([wanted])[0].image)
    pipe = tiny_generator.pipe
    with torch.inference_mode():
        out = pipe(prompt=wanted.prompt, negative_prompt=wanted.negative_prompt,
                   num_inference_steps=wanted.steps,
                   guidance_scale=wanted.guidance, width=wanted.width, height=wanted.height,
                   generator=torch.Generator("cpu").manual_seed(wanted.seed), output_type="pt")
    assert np.array_equal(image, host_uint8(out.images)[0])


class _OOMAbove(TinyGenerator):
    """Runs the real pipeline but reports CUDA OOM above a batch size, as a
    small GPU would."""

    def __init__(self, limit, **kw):
        self.limit = limit
        self.calls = []
        super().__init__(**kw)

    def _call(self, requests):
        self.calls.append(len(requests))
        if len(requests) > self.limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")
        return super()._call(requests)


def test_out_of_memory_halves_the_batch_and_keeps_every_image():
    generator = _OOMAbove(limit=2, device="cpu")
    reqs = [request(s) for s in range(5)]
    results = generator.generate(reqs)
    assert [r.request.seed for r in results] == list(range(5))
    assert all(r.status == "ok" for r in results)
    assert generator.calls == [5, 2, 3, 1, 2]
    assert max(r.batch_size for r in results) == 2
    assert len({r.sub_batch for r in results}) == 3


def test_out_of_memory_at_batch_size_one_is_an_error_status():
    generator = _OOMAbove(limit=0, device="cpu")
    results = generator.generate([request(1), request(2)])
    assert [r.status for r in results] == ["error", "error"]
    assert "out of memory" in results[0].error


def test_mixed_batch_keys_are_refused(tiny_generator):
    with pytest.raises(ValueError):
        tiny_generator.generate([request(1), request(2, steps=3)])


@pytest.mark.slow
def test_compile_is_recorded_and_cached_across_runs(tmp_path):
    """torch.compile on CPU (inductor, C++): the first run compiles, the second
    finds the compiled code in the cache and its first call is far shorter."""
    env = {"TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "inductor")}
    first_calls = []
    for name in ("cold", "warm"):
        out = tmp_path / name
        result = run_cli("generate", "smoke", "--model", "tiny", "--compile", "--out", str(out),
                         "-M", "generator_device=cpu", env=env)
        assert result.returncode == 0, result.stderr
        card = json.loads((out / "run.json").read_text())
        assert card["model"]["compiled"] is True and card["model"]["fused_qkv"] is True
        compiled = card["history"][-1]["runtime"]["compile"]
        assert compiled["mode"] == "default" and compiled["cache"] == env[
            "TORCHINDUCTOR_CACHE_DIR"]
        assert compiled["compile_seconds"] == pytest.approx(
            compiled["first_call_seconds"] - compiled["steady_call_seconds"], abs=2e-3)
        first_calls.append(compiled["first_call_seconds"])
        assert (pd.read_parquet(out / "images.parquet").status == "ok").all()
    assert first_calls[1] < first_calls[0] / 2, first_calls
    assert any((tmp_path / "inductor").iterdir())


def test_compile_mode_is_checked():
    from audit.errors import UsageError

    with pytest.raises(UsageError, match="compile_mode must be one of"):
        TinyGenerator(device="cpu", compile=True, compile_mode="fastest")
    with pytest.raises(UsageError, match="compile_mode goes with compile"):
        TinyGenerator(device="cpu", compile_mode="max-autotune")
