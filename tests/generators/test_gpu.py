"""Checks that need CUDA (run with --run-gpu on a GPU machine)."""

import numpy as np
import pytest

from audit.api.generator import GenerationRequest

pytestmark = pytest.mark.gpu


def request(seed, prompt):
    return GenerationRequest(image_id=f"{prompt}/{seed}", prompt=prompt, negative_prompt="",
                             seed=seed, steps=4, guidance=7.5, width=64, height=64,
                             scheduler="dpm++_2m")


def test_fp16_on_cuda_with_cpu_seeds_is_batch_invariant():
    from audit.generators.tiny import TinyGenerator

    generator = TinyGenerator(device="cuda", dtype="fp16")
    assert generator.describe()["dtype"] == "float16"
    alone = generator.generate([request(7, "a photo of a nurse")])[0]
    batch = generator.generate([request(1, "a photo of a pilot"), request(7, "a photo of a nurse"),
                                request(3, "a photo of a chef")])
    assert all(r.status == "ok" for r in batch)
    diff = np.abs(np.asarray(alone.image, dtype=int) - np.asarray(batch[1].image, dtype=int))
    print("max 8-bit difference alone vs batched on CUDA fp16:", diff.max())
    assert diff.max() <= 4  # fp16 kernels may pick other algorithms per batch size


def test_cpu_and_cuda_generators_draw_the_same_latents():
    """Seeds are drawn on the CPU by default, so the starting noise is the same on
    any machine; only the arithmetic after it may differ."""
    from audit.generators.tiny import TinyGenerator

    cuda = TinyGenerator(device="cuda", dtype="fp32").generate([request(5, "a nurse")])[0]
    cpu = TinyGenerator(device="cpu", dtype="fp32").generate([request(5, "a nurse")])[0]
    diff = np.abs(np.asarray(cuda.image, dtype=int) - np.asarray(cpu.image, dtype=int))
    print("max 8-bit difference CPU vs CUDA fp32:", diff.max())
    assert diff.mean() < 1.0


def test_fused_scoring_on_cuda_equals_scoring_afterwards(tmp_path):
    """fp16 CLIP on the GPU, in the scorer's own stream, against rescoring
    the same run's PNGs with no cached embeddings: labels equal, numbers
    within 2e-3 (the two routes batch differently; embeddings are held at
    fp16 in both)."""
    import shutil

    import pandas as pd

    import audit

    options = {"clip": {"model": "tiny-random", "pretrained": "none"}}
    kwargs = dict(scorers=["clip", "skin_tone"], scorer_options=options)
    run = tmp_path / "fused"
    audit.run(suite="smoke", model="tiny", out=run, device="cuda", dtype="fp16",
              score_device="cuda", report=False, **kwargs)
    again = tmp_path / "again"
    shutil.copytree(run, again)
    shutil.rmtree(again / "scores")
    shutil.rmtree(again / "cache")
    audit.score(run=again, device="cuda", **kwargs)
    a, b = (pd.read_parquet(r / "scores" / "measurements.parquet") for r in (run, again))
    text = ["image_id", "scorer", "attribute", "quantity", "label"]
    pd.testing.assert_frame_equal(a[text], b[text])
    assert (a.value - b.value).abs().max() <= 2e-3
