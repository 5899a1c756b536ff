"""WebUI's attention syntax: the parser by hand, and its weighted text
embeddings on the tiny Stable Diffusion pipeline."""

import numpy as np
import pytest
import torch

from audit.api.generator import GenerationRequest
from audit.generators.attention import BREAK, is_weighted, parse_attention, plain_text

R, S = 1.1, 1 / 1.1


@pytest.mark.parametrize("prompt, runs", [
    ("a photo of a nurse", [("a photo of a nurse", 1.0)]),
    ("a (dog:1.8) on grass", [("a ", 1.0), ("dog", 1.8), (" on grass", 1.0)]),
    ("(dog)", [("dog", R)]),
    ("[dog]", [("dog", S)]),
    ("((dog))", [("dog", R * R)]),
    ("(a [b] c:1.5)", [("a ", 1.5), ("b", 1.5 * S), (" c", 1.5)]),
    ("(dog:0.5) and (cat:1.0)", [("dog", 0.5), (" and cat", 1.0)]),
    (r"a \(literal\) \[x\] back\\slash", [(r"a (literal) [x] back\slash", 1.0)]),
    ("one BREAK two", [("one", 1.0), (BREAK, 0.0), ("two", 1.0)]),
    ("open (paren", [("open ", 1.0), ("paren", R)]),
    ("stray) bracket", [("stray) bracket", 1.0)]),
    ("ratio 1:2 here", [("ratio 1:2 here", 1.0)]),
    ("(dog:1.0)", [("dog", 1.0)]),
    ("", [("", 1.0)]),
])
def test_parse_attention(prompt, runs):
    got = parse_attention(prompt)
    assert [t for t, _ in got] == [t for t, _ in runs]
    assert [w for _, w in got] == pytest.approx([w for _, w in runs])


def test_weighted_or_not():
    assert not is_weighted(parse_attention("(dog:1.0) \\(x\\)"))
    assert is_weighted(parse_attention("(dog)")) and is_weighted(parse_attention("a BREAK b"))
    assert plain_text(parse_attention("a (dog:1.3) BREAK [cat]")) == "a dog cat"


def request(prompt, seed=3, negative=""):
    return GenerationRequest("x/3", prompt, negative, seed, 2, 5.0, 32, 32, "euler")


def test_all_weights_one_give_the_same_image_bytes(tiny_generator):
    (plain,) = tiny_generator.generate([request("a dog")])
    (written,) = tiny_generator.generate([request("(a dog:1.0)")])
    assert np.array_equal(np.array(plain.image), np.array(written.image))


def test_the_chunk_encoder_matches_diffusers_on_unweighted_text(tiny_generator):
    """Our tokenisation, padding and encoding of one chunk is exactly what
    encode_prompt does, so a weight of 1 changes nothing."""
    text = "a photo of a dog on the grass"
    with torch.inference_mode():
        reference = tiny_generator.pipe.encode_prompt(
            prompt=text, device="cpu", num_images_per_prompt=1,
            do_classifier_free_guidance=True, negative_prompt=None)
    positive, negative = tiny_generator._weighted_embeds(
        [(text, 1.0)], [("", 1.0)], True)
    assert torch.allclose(positive, reference[0], atol=1e-6)
    assert torch.allclose(negative, reference[1], atol=1e-6)


def test_weights_scale_the_tokens_then_the_mean_is_restored(tiny_generator):
    """As WebUI: token embeddings times their weights, then rescaled to the
    unweighted mean (skipped when that mean is numerically zero)."""
    pipe = tiny_generator.pipe
    weighted, _ = tiny_generator._weighted_embeds(parse_attention("a (dog:1.5)"),
                                                  [("", 1.0)], True)
    with torch.inference_mode():
        plain = pipe.encode_prompt(prompt="a dog", device="cpu", num_images_per_prompt=1,
                                   do_classifier_free_guidance=False)[0]
    n_a = len(pipe.tokenizer("a ", add_special_tokens=False).input_ids)
    n_dog = len(pipe.tokenizer("dog", add_special_tokens=False).input_ids)
    scale = torch.ones(plain.shape[1])
    scale[1 + n_a:1 + n_a + n_dog] = 1.5  # after the BOS token
    by_hand = plain * scale[None, :, None]
    if abs(plain.mean()) > 1e-6 * plain.abs().mean():  # the tiny encoder's mean is ~0
        by_hand = by_hand * (plain.mean() / by_hand.mean())
    assert torch.allclose(weighted, by_hand, atol=1e-5)
    assert not torch.allclose(weighted, plain, atol=1e-3)
    (a,) = tiny_generator.generate([request("a dog")])
    (b,) = tiny_generator.generate([request("a (dog:1.5)")])
    assert not np.array_equal(np.array(a.image), np.array(b.image))


def test_long_and_short_prompts_share_a_batch(tiny_generator):
    long = " ".join(["(red:1.2) dog"] * 40) + " BREAK on grass"
    results = tiny_generator.generate([request(long), request("a cat", seed=4)])
    assert [r.status for r in results] == ["ok", "ok"]
    positive, _ = tiny_generator._weighted_embeds(parse_attention(long), [("", 1.0)], True)
    assert positive.shape[1] == 3 * 77  # 80 tokens in two chunks, then BREAK's chunk


def test_weighting_off_sends_the_prompt_as_written(tiny_generator):
    tiny_generator.prompt_weighting = "none"
    try:
        (literal,) = tiny_generator.generate([request("a (dog:1.5)")])
    finally:
        tiny_generator.prompt_weighting = "a1111"
    (weighted,) = tiny_generator.generate([request("a (dog:1.5)")])
    assert not np.array_equal(np.array(literal.image), np.array(weighted.image))


def test_fixed_latents_from_a_file_replace_the_seeded_noise(tmp_path):
    """The notebook flow: every image starts from the file's latent, so two
    seeds give the same image with a deterministic scheduler."""
    import pickle

    from audit.errors import UsageError
    from audit.generators import make_generator

    probe = make_generator("tiny", device="cpu")
    shape = (probe.pipe.unet.config.in_channels, 32 // probe.pipe.vae_scale_factor,
             32 // probe.pipe.vae_scale_factor)
    path = tmp_path / "latents.pt"
    torch.save(torch.randn(1, *shape, generator=torch.Generator().manual_seed(0)), path)
    fixed = make_generator("tiny", device="cpu", options={"latents": str(path)})
    a, b = fixed.generate([request("a dog", seed=1), request("a dog", seed=2)])
    assert np.array_equal(np.array(a.image), np.array(b.image))
    (seeded,) = probe.generate([request("a dog", seed=1)])
    assert not np.array_equal(np.array(a.image), np.array(seeded.image))
    assert len(fixed.describe()["latents_sha256"]) == 64
    wrong = GenerationRequest("x/1", "a dog", "", 1, 2, 5.0, 64, 64, "euler")
    with pytest.raises(UsageError, match="needs"):
        fixed.generate([wrong])
    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"not": "a tensor"}))
    with pytest.raises(UsageError, match="cannot read latents|expected one tensor"):
        make_generator("tiny", device="cpu", options={"latents": str(evil)})
