"""Transformed copies of an image: what a copy of a training image looks like
after the web has had it (re-encoded, resized, cropped, colour-shifted).
Calibration measures how often each method still finds the original."""

from __future__ import annotations

import io

import numpy as np


def _jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(rgb).save(out, "JPEG", quality=quality)
    with Image.open(out) as image:
        return np.asarray(image.convert("RGB"))


def _resize(rgb: np.ndarray, factor: float) -> np.ndarray:
    from PIL import Image

    image = Image.fromarray(rgb)
    size = (max(8, round(image.width * factor)), max(8, round(image.height * factor)))
    return np.asarray(image.resize(size, Image.Resampling.LANCZOS))


def _crop(rgb: np.ndarray, keep: float) -> np.ndarray:
    height, width = rgb.shape[:2]
    top, left = round(height * (1 - keep) / 2), round(width * (1 - keep) / 2)
    return np.ascontiguousarray(rgb[top:top + round(height * keep),
                                    left:left + round(width * keep)])


def _colour(rgb: np.ndarray) -> np.ndarray:
    shifted = rgb.astype(np.float32) * np.array([1.1, 1.0, 0.9]) + 8
    return shifted.clip(0, 255).astype(np.uint8)


TRANSFORMS = {"jpeg75": lambda x: _jpeg(x, 75), "jpeg50": lambda x: _jpeg(x, 50),
              "resize0.5": lambda x: _resize(x, 0.5), "crop0.9": lambda x: _crop(x, 0.9),
              "colour": _colour}


def copies(rgb: np.ndarray) -> dict[str, np.ndarray]:
    return {name: change(rgb) for name, change in TRANSFORMS.items()}
