"""The pinned preprocessing for the Inception features, after Clean-FID
(Parmar et al., CVPR 2022), which showed that the resizing library, its
filter and quantisation move FID by more than many published improvements.

Each image is decoded with Pillow to 8-bit RGB, each channel resized alone
as a 32-bit float image with Pillow's bicubic filter (which antialiases
when shrinking) to 299 x 299 without cropping, clipped to [0, 255] and not
requantised. quality.json records this with the Pillow version.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from audit.fidelity.inception import INPUT_SIZE


def clean_resize(rgb: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """(size, size, 3) float32 in [0, 255] from an (H, W, 3) uint8 image."""
    from PIL import Image

    channels = [np.asarray(Image.fromarray(rgb[:, :, c].astype(np.float32))
                           .resize((size, size), resample=Image.Resampling.BICUBIC))
                for c in range(3)]
    return np.clip(np.stack(channels, axis=2), 0, 255).astype(np.float32)


def record() -> dict[str, Any]:
    import PIL

    return {"decode": "Pillow, converted to 8-bit RGB",
            "resize": f"each channel as a float32 image, Pillow {PIL.__version__} bicubic, "
                      f"to {INPUT_SIZE}x{INPUT_SIZE}",
            "crop": "none", "quantise_after_resize": False, "clip": [0, 255],
            "scale": "x / 127.5 - 1",
            "follows": "Clean-FID's 'clean' mode (Parmar et al., CVPR 2022)"}
