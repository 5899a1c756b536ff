"""Features of an image set, computed a batch at a time and cached per image
content in the run's cache: CLIP embeddings where the scorers keep theirs
(RUN/cache/embeddings/, fp16 as scoring stores them), Inception pool
features in RUN/cache/features/inception-<sha256 prefix>/ at float32."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audit.api.scorer import ScoreInput, rgb_array
from audit.fidelity.image_sets import ImageSet
from audit.fidelity.inception import InceptionBundle, pool_features
from audit.fidelity.preprocess import clean_resize
from audit.scorers.clip_model import EmbeddingCache, content_key


class InceptionEncoder:
    """Batched, cached Inception pool features of uint8 RGB images."""

    def __init__(self, bundle: InceptionBundle, cache_folder: Path | None = None,
                 batch_size: int = 32) -> None:
        self.bundle = bundle
        self.cache = EmbeddingCache(cache_folder / self.key if cache_folder else None,
                                    dtype=np.float32)
        self.batch_size = batch_size
        self.encoded = 0

    @property
    def key(self) -> str:
        return f"inception-{self.bundle.sha256[:16]}"

    def embed(self, items: list[ScoreInput]) -> np.ndarray:
        import torch

        keys = [content_key(i) for i in items]
        missing = [i for i, k in enumerate(keys) if k not in self.cache.vectors]
        for start in range(0, len(missing), self.batch_size):
            chunk = missing[start:start + self.batch_size]
            pixels = np.stack([clean_resize(rgb_array(items[i])) for i in chunk])
            batch = torch.from_numpy(pixels).permute(0, 3, 1, 2).to(self.bundle.device)
            with torch.inference_mode():
                values = pool_features(self.bundle.net, batch).float().cpu().numpy()
            self.cache.add([keys[i] for i in chunk], values)
            self.encoded += len(chunk)
        if not keys:
            return np.zeros((0, 2048), np.float32)
        return np.stack([self.cache.vectors[k] for k in keys]).astype(np.float32)


@dataclass(frozen=True)
class SetFeatures:
    """``index``: which images of the set these rows are (the decodable ones)."""

    values: np.ndarray
    index: np.ndarray
    unreadable: int


def set_features(images: ImageSet, encoder: object, *, batch: int = 64,
                 progress: Callable[[int], None] | None = None) -> SetFeatures:
    rows, kept, unreadable = [], [], 0
    for start in range(0, len(images), batch):
        chunk = []
        for i in range(start, min(start + batch, len(images))):
            rgb = images.load(i)
            if rgb is None:
                unreadable += 1
                continue
            chunk.append(ScoreInput(images.ids[i], rgb, images.keys[i]))
            kept.append(i)
        if chunk:
            rows.append(encoder.embed(chunk))  # type: ignore[attr-defined]
        if progress:
            progress(min(batch, len(images) - start))
    values = np.concatenate(rows) if rows else np.zeros((0, 0), np.float32)
    return SetFeatures(values, np.array(kept, dtype=np.int64), unreadable)
