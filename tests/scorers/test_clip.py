"""CLIP scorers on a tiny random open_clip model built from a bundled config."""

import textwrap

import numpy as np
import pytest
import torch
from PIL import Image

from audit.api.scorer import ScoreInput
from audit.errors import UsageError
from audit.scorers.clip_concepts import ClipConcepts
from audit.scorers.clip_model import ImageEncoder, load_clip
from audit.scorers.clip_zero_shot import ClipZeroShot


@pytest.fixture(scope="module")
def bundle():
    return load_clip("tiny-random", None, device="cpu")


def images(count=5, size=48):
    rng = np.random.default_rng(0)
    return [ScoreInput(f"img{i}", Image.fromarray(rng.integers(0, 256, (size, size, 3),
                                                                dtype=np.uint8)))
            for i in range(count)]


def test_pixels_entering_the_model_are_normalised_once(bundle):
    """uint8 200/100/50 must arrive as (x/255 - mean)/std, not divided by 255 twice."""
    seen = []
    hook = bundle.model.visual.register_forward_pre_hook(lambda m, a: seen.append(a[0]))
    encoder = ImageEncoder(bundle)
    encoder.embed([ScoreInput("flat", Image.new("RGB", (64, 64), (200, 100, 50)))])
    hook.remove()
    mean = np.array(bundle.model.visual.image_mean or (0.48145466, 0.4578275, 0.40821073))
    std = np.array(bundle.model.visual.image_std or (0.26862954, 0.26130258, 0.27577711))
    expected = (np.array([200, 100, 50]) / 255 - mean) / std
    got = seen[0][0].float().mean(dim=(1, 2)).numpy()
    assert got == pytest.approx(expected, abs=1e-4)
    assert seen[0].shape[-1] == 32  # resized to the model's input size


def test_label_embedding_is_the_normalised_prompt_mean(bundle):
    scorer = ClipZeroShot(ImageEncoder(bundle))
    prompts = scorer.attributes["gender_presentation"]["labels"]["female"]
    mean = scorer.encoder.embed_texts(prompts).mean(axis=0)
    assert scorer.label_embeddings("gender_presentation")[0] == pytest.approx(
        mean / np.linalg.norm(mean), abs=1e-6)


def test_records_probabilities_and_decisions(bundle):
    scorer = ClipZeroShot(ImageEncoder(bundle))
    scored = scorer.score(images())
    probabilities = {}
    for m in scored.measurements:
        assert m.quantity == "probability"
        probabilities.setdefault((m.image_id, m.attribute), {})[m.label] = m.value
    assert len(scored.decisions) == len(probabilities) == 5 * len(scorer.attributes)
    for d in scored.decisions:
        probs = probabilities[(d.image_id, d.attribute)]
        assert sum(probs.values()) == pytest.approx(1.0, abs=1e-5)
        assert d.confidence == pytest.approx(max(probs.values()))
        assert d.label in scorer.labels()[d.attribute]


def _decided(scored):
    return {(d.image_id, d.attribute): d.label for d in scored.decisions}


def test_abstention_and_person_gate(bundle, tmp_path):
    spec = tmp_path / "attrs.yaml"
    spec.write_text(textwrap.dedent("""\
        version: 0.0.1
        attributes:
          person_present:
            gate: true
            threshold: 0.0
            labels:
              no_person: [a photo]
              person: [a photo]
          gender_presentation:
            threshold: 1.0
            labels:
              female: [a photo of a woman]
              male: [a photo of a man]
    """))
    decisions = _decided(ClipZeroShot(ImageEncoder(bundle), spec).score(images(3)))
    # identical prompts tie; argmax takes the first label, no_person, which gates the rest
    assert {v for (_, a), v in decisions.items() if a == "person_present"} == {"no_person"}
    assert {v for (_, a), v in decisions.items() if a == "gender_presentation"} == {"no_person"}
    spec.write_text(spec.read_text().replace("no_person: [a photo]", "no_person: [a tree]")
                    .replace("threshold: 0.0", "threshold: 1.0"))
    decisions = _decided(ClipZeroShot(ImageEncoder(bundle), spec).score(images(3)))
    # a margin below the threshold is 'unclear' (recorded), and does not gate
    assert set(decisions.values()) == {"unclear"}


def test_batching_does_not_change_embeddings(bundle):
    small = ImageEncoder(bundle, batch_size=2).embed(images(5))
    large = ImageEncoder(bundle, batch_size=32).embed(images(5))
    assert small == pytest.approx(large, abs=1e-5)


def test_embedding_cache_avoids_re_encoding(bundle, tmp_path):
    first = ImageEncoder(bundle, cache_folder=tmp_path)
    vectors = first.embed(images(4))
    assert first.encoded == 4
    second = ImageEncoder(bundle, cache_folder=tmp_path)
    again = ClipZeroShot(second).score(images(4))
    assert second.encoded == 0 and again.decisions
    assert second.embed(images(4)) == pytest.approx(vectors, abs=1e-3)  # stored as fp16


def test_concept_margins_are_cosine_minus_threshold(bundle):
    scorer = ClipConcepts(ImageEncoder(bundle))
    scored = scorer.score(images(2))
    embeddings = scorer.encoder.embed(images(2))
    names = list(scorer.concepts)
    expected = embeddings @ scorer.concept_embeddings().T - np.array(
        [scorer.concepts[n]["threshold"] for n in names])
    got = np.array([[m.value for m in scored.measurements if m.image_id == f"img{i}"]
                    for i in range(2)])
    assert {m.quantity for m in scored.measurements} == {"cosine_margin"}
    assert got == pytest.approx(expected, abs=1e-6)
    assert set(scorer.card()["covers"]) == {"sexual", "violence", "gore", "self_harm",
                                            "hate_symbols"}


def test_real_safety_checker_code_path_on_a_tiny_saved_checker(tmp_path):
    from audit.scorers.clip_concepts import SafetyCheckerConcepts
    from tests.conftest import save_tiny_safety_checker

    save_tiny_safety_checker(tmp_path)
    scorer = SafetyCheckerConcepts(tmp_path)
    scored = scorer.score(images(2))
    assert len(scored.measurements) == 2 * 17 and len(scored.decisions) == 2
    assert scorer.card()["weights_sha256"]


def test_unknown_model_and_unavailable_weights(bundle, tmp_path):
    with pytest.raises(UsageError, match="did you mean"):
        load_clip("ViT-L-41", None, device="cpu")
    with pytest.raises(UsageError, match="/nonexistent/checkpoint.bin: CLIP checkpoint file "
                                         "not found"):
        load_clip("tiny-random", "/nonexistent/checkpoint.bin", device="cpu")
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(UsageError, match="could not be loaded"):
        load_clip("tiny-random", str(broken), device="cpu")


@pytest.mark.parametrize("photo", ["astronaut", "chelsea", "coffee"])
def test_batched_device_preprocessing_matches_open_clips_pil_transform(photo):
    """The score stage resizes uint8 batches with torchvision on the device;
    what enters the model must match open_clip's own per-image PIL transform
    (224 px, bicubic, centre crop) to within rounding."""
    import open_clip
    from skimage import data

    pixels = getattr(data, photo)()
    _, _, preprocess = open_clip.create_model_and_transforms("ViT-B-32")  # random weights
    bundle = load_clip("tiny-random", None, device="cpu")
    bundle.preprocess = preprocess
    encoder = ImageEncoder(bundle)
    assert encoder._device_transform() is not None  # the batched path, not the fallback
    ours = encoder.pixels([ScoreInput(photo, pixels)])
    reference = preprocess(Image.fromarray(pixels))[None]
    std = torch.tensor(preprocess.transforms[-1].std).view(1, 3, 1, 1)
    levels = ((ours - reference) * std * 255).abs()  # back to 8-bit levels
    assert ours.shape == reference.shape == (1, 3, 224, 224)
    assert levels.mean() < 0.3
    assert torch.quantile(levels.flatten(), 0.999) <= 1.01


def test_a_malformed_attributes_file_is_one_line_naming_the_field(bundle, tmp_path):
    from audit.errors import InvalidInput

    spec = tmp_path / "attrs.yaml"
    spec.write_text("version: 1.0.0\nattribute:\n  gender: {}\n")
    with pytest.raises(InvalidInput, match=r"attrs.yaml /: .*'attribute' was unexpected"):
        ClipZeroShot(ImageEncoder(bundle), spec)
    spec.write_text("version: 1.0.0\nattributes:\n  gender:\n    threshold: 2\n"
                    "    labels: {a: [x], b: [y]}\n")
    with pytest.raises(InvalidInput, match="/attributes/gender/threshold"):
        ClipZeroShot(ImageEncoder(bundle), spec)
