"""The Inception-v3 network FID is defined on, loaded from a weights file the
user supplies (nothing is downloaded).

It is TensorFlow's 2015-12-05 Inception as the FID reference code ran it,
ported to torchvision's layout: 1008 classes, no auxiliary head, and three
pooling differences from torchvision's blocks (average pooling that ignores
the padding in the A, C and first E blocks, max pooling in the last E
block). The features are the 2048 values of the final average pool.

The file's sha256 is compared with the published checkpoints' (their file
names publish a sha256 prefix, which torch.hub checks): a file that matches
none still loads, but its values are said not to be comparable with
published FIDs.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torchvision.models import inception as tv

from audit.errors import InvalidInput, UsageError

# sha256 prefix -> what the checkpoint is
PUBLISHED = {
    "6726825d": "pt_inception-2015-12-05 (pytorch-fid; the same file torch-fidelity and "
                "torchmetrics use as weights-inception-2015-12-05)",
}
FEATURES = 2048
INPUT_SIZE = 299
MAX_WEIGHTS_BYTES = 200 << 20


def _average(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class _BlockA(tv.InceptionA):
    def _forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        five = self.branch5x5_2(self.branch5x5_1(x))
        double = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return [self.branch1x1(x), five, double, self.branch_pool(_average(x))]


class _BlockC(tv.InceptionC):
    def _forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        seven = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        double = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3,
                      self.branch7x7dbl_4, self.branch7x7dbl_5):
            double = layer(double)
        return [self.branch1x1(x), seven, double, self.branch_pool(_average(x))]


class _BlockE(tv.InceptionE):
    def __init__(self, in_channels: int, *, max_pool: bool) -> None:
        super().__init__(in_channels)
        self.max_pool = max_pool

    def _forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        three = self.branch3x3_1(x)
        three = torch.cat([self.branch3x3_2a(three), self.branch3x3_2b(three)], 1)
        double = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        double = torch.cat([self.branch3x3dbl_3a(double), self.branch3x3dbl_3b(double)], 1)
        pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1) if self.max_pool \
            else _average(x)
        return [self.branch1x1(x), three, double, self.branch_pool(pooled)]


def fid_inception() -> tv.Inception3:
    """The architecture, with untrained weights."""
    net = tv.Inception3(num_classes=1008, aux_logits=False, init_weights=False)
    for name, channels, pool in (("Mixed_5b", 192, 32), ("Mixed_5c", 256, 64),
                                 ("Mixed_5d", 288, 64)):
        setattr(net, name, _BlockA(channels, pool_features=pool))
    for name, width in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160),
                        ("Mixed_6e", 192)):
        setattr(net, name, _BlockC(768, channels_7x7=width))
    net.Mixed_7b = _BlockE(1280, max_pool=False)
    net.Mixed_7c = _BlockE(2048, max_pool=True)
    return net


def pool_features(net: tv.Inception3, pixels: torch.Tensor) -> torch.Tensor:
    """(N, 2048) from (N, 3, 299, 299) values in [0, 255]: scaled to [-1, 1]
    as the ported network expects, then up to the final average pool."""
    x = pixels / 127.5 - 1.0
    for layer in (net.Conv2d_1a_3x3, net.Conv2d_2a_3x3, net.Conv2d_2b_3x3, net.maxpool1,
                  net.Conv2d_3b_1x1, net.Conv2d_4a_3x3, net.maxpool2, net.Mixed_5b,
                  net.Mixed_5c, net.Mixed_5d, net.Mixed_6a, net.Mixed_6b, net.Mixed_6c,
                  net.Mixed_6d, net.Mixed_6e, net.Mixed_7a, net.Mixed_7b, net.Mixed_7c,
                  net.avgpool):
        x = layer(x)
    return x.flatten(1)


@dataclass(frozen=True)
class InceptionBundle:
    net: tv.Inception3
    device: str
    sha256: str
    published: str | None  # which published checkpoint the file is, or None

    def card(self) -> dict[str, Any]:
        return {"network": "FID Inception-v3 (TF 2015-12-05, pool3, 2048 features)",
                "weights_sha256": self.sha256, "published_checkpoint": self.published}


def published_checkpoint(sha256: str) -> str | None:
    return next((name for prefix, name in PUBLISHED.items() if sha256.startswith(prefix)), None)


def load_inception(path: Path, *, device: str = "cpu") -> InceptionBundle:
    """Load a state dict (.pth read with weights_only, or .safetensors) into
    the FID architecture; every key must match."""
    from audit.common.hashing import file_sha256

    path = Path(path)
    if not path.is_file():
        raise UsageError("Inception weights file not found", where=str(path))
    if path.stat().st_size > MAX_WEIGHTS_BYTES:
        raise InvalidInput(f"larger than {MAX_WEIGHTS_BYTES >> 20} MiB: not an Inception-v3 "
                           "state dict", where=str(path))
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            with warnings.catch_warnings():  # torch warns about pickle protocols it refuses anyway
                warnings.simplefilter("ignore", UserWarning)
                state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch and safetensors raise many types for a bad file
        first = (str(exc).splitlines() or [""])[0][:200]
        raise InvalidInput(f"not a readable state dict ({type(exc).__name__}: {first})",
                           where=str(path)) from None
    if not isinstance(state, dict):
        raise InvalidInput("not a state dict (a mapping of tensor names to tensors)",
                           where=str(path))
    net = fid_inception()
    expected = net.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state)
                   if not isinstance(state[k], torch.Tensor) or state[k].shape != expected[k].shape)
    if missing or unexpected or wrong:
        first = (missing or unexpected or wrong)[0]
        what = "missing" if missing else "unexpected" if unexpected else "of the wrong shape"
        raise InvalidInput(f"not an FID Inception-v3 state dict: {len(missing)} missing, "
                           f"{len(unexpected)} unexpected and {len(wrong)} wrongly shaped "
                           f"tensors (first {what}: {first})", where=str(path))
    net.load_state_dict(state)
    sha = file_sha256(path)
    return InceptionBundle(net.to(device).eval(), device, sha, published_checkpoint(sha))
