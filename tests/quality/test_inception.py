"""The FID Inception network loads from a user's state-dict file, computes
what pytorch-fid's network computes with the same weights, and sees images
through Clean-FID's preprocessing; bad files are refused in one line."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from audit.errors import InvalidInput, UsageError
from audit.fidelity.inception import load_inception, pool_features, published_checkpoint
from audit.fidelity.preprocess import clean_resize
from tests.quality.inception_weights import save_random_inception


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("inception") / "random-inception.pth"
    return path, save_random_inception(path)


def astronaut_crops() -> np.ndarray:
    from skimage import data

    photo = data.astronaut()
    return np.stack([photo[:256, :256], photo[128:384, 100:356], photo[256:, 256:]])


def test_features_equal_pytorch_fids_network_with_the_same_weights(weights, monkeypatch):
    import pytorch_fid.inception as reference

    path, state = weights
    bundle = load_inception(path, device="cpu")
    assert bundle.published is None and len(bundle.sha256) == 64
    monkeypatch.setattr(reference, "load_state_dict_from_url", lambda *a, **k: state)
    theirs = reference.InceptionV3([3], resize_input=False).eval()
    pixels = torch.from_numpy(np.stack([clean_resize(c) for c in astronaut_crops()]))
    pixels = pixels.permute(0, 3, 1, 2)
    with torch.inference_mode():
        ours = pool_features(bundle.net, pixels)
        expected = theirs(pixels / 255)[0].flatten(1)
    assert ours.shape == (3, 2048)
    assert float(ours.std()) > 1e-3  # features that differ between images
    torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-6)


def test_preprocessing_is_clean_fids():
    import warnings

    from cleanfid.resize import build_resizer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # clean-fid passes Pillow's deprecated mode=
        theirs = build_resizer("clean")
        for crop in astronaut_crops():
            np.testing.assert_array_equal(clean_resize(crop), theirs(crop))


def test_published_checkpoints_are_recognised_by_their_hash_prefix():
    assert published_checkpoint("6726825d" + "0" * 56).startswith("pt_inception-2015-12-05")
    assert published_checkpoint("f" * 64) is None


def test_bad_weight_files_are_one_line(tmp_path, weights):
    with pytest.raises(UsageError, match="not found"):
        load_inception(tmp_path / "absent.pth")
    text = tmp_path / "notes.pth"
    text.write_text("not weights")
    with pytest.raises(InvalidInput, match="not a readable state dict") as caught:
        load_inception(text)
    assert caught.value.where == str(text)

    class Payload:  # a pickle that would run code when loaded
        def __reduce__(self):
            return (print, ("pwned",))

    hostile = tmp_path / "hostile.pth"
    hostile.write_bytes(pickle.dumps(Payload()))
    with pytest.raises(InvalidInput, match="not a readable state dict"):
        load_inception(hostile)
    partial = tmp_path / "partial.pth"
    state = dict(weights[1])
    state.pop("fc.weight")
    state["extra.weight"] = torch.zeros(1)
    torch.save(state, partial)
    with pytest.raises(InvalidInput, match="1 missing, 1 unexpected"):
        load_inception(partial)
