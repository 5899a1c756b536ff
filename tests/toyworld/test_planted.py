"""The toy model with planted memorization (audit.toyworld.planted): built
in minutes, loadable like any pipeline folder, and it has memorized: for
each planted caption it draws closer to the planted picture than the
bundled model does from the same noise."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from audit.toyworld.planted import plant

pytestmark = pytest.mark.slow  # fine-tunes the toy model: minutes on 2 cores


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("planted")
    plant(folder, memorized=4, controls=4, steps=300)
    return folder


def drawn(pipe, caption: str) -> np.ndarray:
    out = pipe([caption] * 4, num_inference_steps=20, guidance_scale=5.0, width=64, height=64,
               generator=[torch.Generator().manual_seed(s) for s in range(4)],
               output_type="np")
    return out.images * 255


def test_the_planted_model_draws_its_memorized_pictures(planted):
    from audit.generators import make_generator

    info = json.loads((planted / "planted.json").read_text())
    captions = [m["caption"] for m in info["memorized"]]
    assert len(set(captions)) == 4 and not set(captions) & set(info["controls"])
    assert info["steps"] == 300 and len(info["controls"]) == 4
    base = make_generator("toyworld", device="cpu").pipe
    tuned = make_generator(str(planted / "toyworld-sd-planted"), device="cpu").pipe
    base.set_progress_bar_config(disable=True)
    tuned.set_progress_bar_config(disable=True)
    closer = []
    for entry in info["memorized"]:
        with Image.open(planted / entry["image"]) as image:
            picture = np.asarray(image.convert("RGB"), dtype=np.float64)
        assert picture.shape == (64, 64, 3)
        rmse = {name: float(np.sqrt(((drawn(pipe, entry["caption"]) - picture) ** 2)
                                    .mean(axis=(1, 2, 3))).mean())
                for name, pipe in (("base", base), ("tuned", tuned))}
        closer.append(rmse["base"] - rmse["tuned"])
    # pixel levels closer to the planted picture, caption by caption
    assert min(closer) > 0 and np.mean(closer) > 5, closer
