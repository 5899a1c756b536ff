"""SDXL base + refiner as an ensemble of experts, on tiny SDXL components
built from config and saved to folders (the real folder-loading code)."""

import numpy as np
import pytest

from audit.api.generator import GenerationRequest


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    from audit.generators.tiny import build_random_sdxl

    root = tmp_path_factory.mktemp("sdxl")
    build_random_sdxl().save_pretrained(root / "base")
    build_random_sdxl(refiner=True).save_pretrained(root / "refiner")
    return root / "base", root / "refiner"


def request(seed=1):
    return GenerationRequest("x/1", "a photo of a dog", "blurry", seed, 4, 5.0, 32, 32, "euler")


def test_the_refiner_finishes_what_the_base_starts(folders):
    from audit.generators import make_generator

    base, refiner = folders
    alone = make_generator(str(base), device="cpu")
    both = make_generator(str(base), device="cpu",
                          options={"refiner": str(refiner), "refiner_frac": 0.5})
    assert both.refiner.text_encoder_2 is both.pipe.text_encoder_2  # shared, not loaded twice
    assert both.refiner.vae is both.pipe.vae
    (a,) = alone.generate([request()])
    first, second = both.generate([request(), request(seed=2)])
    assert a.status == first.status == second.status == "ok"
    assert not np.array_equal(np.array(a.image), np.array(first.image))
    again, _ = both.generate([request(), request(seed=2)])
    assert np.array_equal(np.array(first.image), np.array(again.image))  # seeded, reproducible
    info = both.describe()["refiner"]
    assert info["frac"] == 0.5 and info["pipeline_class"] == "StableDiffusionXLImg2ImgPipeline"
    assert len(info["sha256"]) == 64


def test_a_refiner_needs_an_sdxl_base_and_a_refiner_pipeline(folders):
    from audit.errors import UsageError
    from audit.generators import make_generator

    base, refiner = folders
    with pytest.raises(UsageError, match="not an SDXL image-to-image"):
        make_generator(str(base), device="cpu", options={"refiner": str(base)})
    with pytest.raises(UsageError, match="between 0 and 1"):
        make_generator(str(base), device="cpu",
                       options={"refiner": str(refiner), "refiner_frac": 1.5})
    with pytest.raises(UsageError, match="goes with an SDXL base"):
        make_generator("tiny", device="cpu", options={"refiner": str(refiner)})


def test_the_refiner_from_the_command_line(folders, tmp_path):
    import json

    from tests.conftest import run_cli

    base, refiner = folders
    run = tmp_path / "run"
    result = run_cli("generate", "--prompt", "a photo of a dog", "--n", "1", "-m", str(base),
                     "--refiner", str(refiner), "--refiner-frac", "0.6", "--size", "32x32",
                     "--steps", "4", "--out", str(run))
    assert result.returncode == 0, result.stderr
    card = json.loads((run / "run.json").read_text())
    assert card["model"]["refiner"]["frac"] == 0.6
    assert card["model"]["refiner"]["location"] == str(refiner.resolve())


def test_sdxl_weighted_prompts_match_its_own_encoder_when_unweighted(folders):
    """Both encoders' penultimate layers side by side and the second's
    pooled output, exactly as StableDiffusionXLPipeline.encode_prompt."""
    import torch

    from audit.generators import make_generator
    from audit.generators.attention import parse_attention

    xl = make_generator(str(folders[0]), device="cpu")
    with torch.inference_mode():
        reference = xl.pipe.encode_prompt(prompt="a photo of a dog", device="cpu",
                                          num_images_per_prompt=1,
                                          do_classifier_free_guidance=True,
                                          negative_prompt=None)
    ours = xl._weighted_embeds([("a photo of a dog", 1.0)], [("", 1.0)], True)
    for mine, theirs in zip(ours, reference, strict=True):
        assert torch.allclose(mine, theirs, atol=1e-5)
    weighted = xl._weighted_embeds(parse_attention("a photo of a (dog:1.6)"), [("", 1.0)],
                                   True)
    assert not torch.allclose(weighted[0], reference[0], atol=1e-3)
    plain, same = xl.generate([request()]), xl.generate([
        GenerationRequest("x/1", "(a photo of a dog:1.0)", "blurry", 1, 4, 5.0, 32, 32,
                          "euler")])
    assert np.array_equal(np.array(plain[0].image), np.array(same[0].image))
    (heavy,) = xl.generate([GenerationRequest("x/1", "a photo of a (dog:1.6)", "blurry", 1, 4,
                                              5.0, 32, 32, "euler")])
    assert heavy.status == "ok"
    assert not np.array_equal(np.array(plain[0].image), np.array(heavy.image))
