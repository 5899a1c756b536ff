"""The toy world's CLIP, registered by name (``toyworld-clip``)."""

from __future__ import annotations

from pathlib import Path

from audit.paths import package_data_dir
from audit.scorers.clip_model import ClipSpec

_HERE = Path(__file__).resolve().parent
TOYWORLD_CLIP = ClipSpec(config=package_data_dir() / "clip" / "toyworld-clip.json",
                         weights=_HERE / "weights" / "toyworld-clip.safetensors",
                         attributes=package_data_dir() / "attributes" /
                         "toyworld-attributes.yaml",
                         adherence=package_data_dir() / "attributes" / "toyworld-adherence.yaml")
