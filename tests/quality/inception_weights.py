"""A random FID Inception saved as a state dict: the real loading code on
weights that exist here (the published checkpoint cannot be downloaded)."""

from __future__ import annotations

from pathlib import Path

import torch


def save_random_inception(path: Path, seed: int = 0) -> dict[str, torch.Tensor]:
    from audit.fidelity.inception import fid_inception

    torch.manual_seed(seed)
    net = fid_inception()
    for module in net.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight)
        elif isinstance(module, torch.nn.BatchNorm2d):
            # features that neither vanish nor explode through 90 layers
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
            module.weight.data.uniform_(0.5, 1.0)
            module.bias.data.uniform_(-0.1, 0.2)
    state = net.state_dict()
    torch.save(state, path)
    return state
