import pytest

from audit.generators.tokenizer import clip_tokenizer

TEXTS = ["a photo of the face of a nurse", "A Chief-Executive, smiling!!",
         "naïve café owner 42", "", "a " * 100]


@pytest.mark.parametrize("text", TEXTS)
def test_matches_open_clip_tokenizer(tmp_path, text):
    import open_clip

    ours = clip_tokenizer(tmp_path)
    ids = ours(text, padding="max_length", max_length=77, truncation=True).input_ids
    reference = open_clip.get_tokenizer("ViT-B-32")([text])[0].tolist()
    # open_clip pads with 0, transformers with the pad token; compare up to EOT.
    end = ids.index(49407) + 1
    assert ids[:end] == reference[:end]
    assert len(ours) == 49408 and ours.model_max_length == 77
