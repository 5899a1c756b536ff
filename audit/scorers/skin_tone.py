"""Skin-tone colorimetry: median CIELAB of skin pixels -> ITA and nearest Monk tone.

Colour handling is where published tools fail (BGR read as RGB, Lab computed
on gamma-encoded values, channels scaled twice), collapsing the Monk scale to
a few middle tones. Here scikit-image converts sRGB (linearised) -> XYZ (D65)
-> CIELAB, and the nearest of the 10 published Monk swatches is found by
CIEDE2000 in Lab.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np

from audit.api.scorer import ScoreInput, Scorer, rgb_array, rows_for
from audit.paths import package_data_dir

MIN_SKIN_FRACTION = 0.05
# Chardon et al. (1991) ITA categories, degrees
ITA_CLASSES = [(55, "very_light"), (41, "light"), (28, "intermediate"), (10, "tan"),
               (-30, "brown"), (-math.inf, "dark")]


@cache
def monk_swatches() -> tuple[list[str], np.ndarray]:
    """Monk tones and their CIELAB values, from the bundled sRGB swatches."""
    from skimage.color import rgb2lab

    with (package_data_dir() / "reference" / "monk-skin-tones.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    rgb = np.array([[[int(r["r"]), int(r["g"]), int(r["b"])] for r in rows]], dtype=np.uint8)
    return [r["monk_tone"] for r in rows], rgb2lab(rgb)[0]


def skin_mask(lab: np.ndarray) -> np.ndarray:
    """Pixels whose colour can be skin: warm hue (a*, b* >= 0 up to ~100 deg),
    some chroma, not pure black or white. Wide on purpose: the Monk scale's
    ends (near-white tone 1, near-black tone 10) must pass."""
    light, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
    hue = np.degrees(np.arctan2(b, a))
    chroma = np.hypot(a, b)
    return (light > 5) & (light < 98) & (b > 0) & (hue > -5) & (hue < 100) & (chroma > 1.5)


def ita(lab: np.ndarray) -> float:
    """Individual typology angle of a Lab colour, degrees."""
    return math.degrees(math.atan2(lab[0] - 50, lab[2]))


def ita_class(angle: float) -> str:
    return next(name for bound, name in ITA_CLASSES if angle > bound)


class SkinTone(Scorer):
    name = "skin_tone"
    version = "1.0.0"

    def __init__(self, face_boxes: Any | None = None) -> None:
        """``face_boxes(image) -> (x, y, w, h) | None``; whole image when absent."""
        self.face_boxes = face_boxes

    def labels(self) -> dict[str, list[str]]:
        tones, _ = monk_swatches()
        return {"monk_tone": tones + ["unclear"],
                "ita": [name for _, name in ITA_CLASSES] + ["unclear"]}

    def measure(self, rgb: np.ndarray) -> tuple[np.ndarray | None, float]:
        """Median Lab of skin pixels and the skin fraction of the region."""
        from skimage.color import rgb2lab

        lab = rgb2lab(rgb)
        mask = skin_mask(lab)
        fraction = float(mask.mean())
        if fraction < MIN_SKIN_FRACTION:
            return None, fraction
        return np.median(lab[mask], axis=0), fraction

    def score(self, images: Sequence[ScoreInput]) -> list[dict[str, Any]]:
        from skimage.color import deltaE_ciede2000

        tones, swatches = monk_swatches()
        rows: list[dict[str, Any]] = []
        for item in images:
            rgb = rgb_array(item)
            box = self.face_boxes(rgb) if self.face_boxes else None
            if box is not None:
                x, y, w, h = box
                rgb = rgb[y:y + h, x:x + w] if w > 2 and h > 2 else rgb
            median, fraction = self.measure(rgb)
            region = "face" if box is not None else "image"
            if median is None:
                nan = float("nan")
                rows += rows_for(item.image_id, "monk_tone", dict.fromkeys(tones, nan),
                                 "unclear")
                rows += rows_for(item.image_id, "ita", {"ita_degrees": nan,
                                                        "skin_fraction": fraction}, "unclear")
                continue
            distances = deltaE_ciede2000(np.broadcast_to(median, swatches.shape), swatches)
            rows += rows_for(item.image_id, "monk_tone", dict(zip(tones, distances,
                                                                  strict=True)),
                             tones[int(np.argmin(distances))])
            angle = ita(median)
            rows += rows_for(item.image_id, "ita", {"ita_degrees": angle,
                                                    "skin_fraction": fraction,
                                                    f"region_{region}": 1.0}, ita_class(angle))
        return rows

    def card(self) -> dict[str, Any]:
        return {
            "name": self.name, "version": self.version, "kind": "colorimetry",
            "weights_sha256": None,
            "preprocessing": "PIL RGB uint8 -> scikit-image rgb2lab (sRGB linearised, D65) -> "
                             "skin-coloured pixels (warm hue, chroma > 1.5, 5 < L* < 98) within "
                             "a detected face box when one exists -> median L*a*b*",
            "labels": self.labels(),
            "thresholds": {"min_skin_fraction": MIN_SKIN_FRACTION},
            "score": "monk_tone: CIEDE2000 distance to each Monk swatch (smallest wins); ita: "
                     "angle in degrees, skin fraction of the region",
            "reference": "Monk Skin Tone scale swatches, skintone.google",
            "limitations": [
                "Measures rendered pixel colour under the image's lighting, a proxy for "
                "perceived skin tone, not anyone's skin.",
                "Without a face box, skin-coloured background (wood, sand) is counted.",
                "Monk tones are perceptual categories; nearest-swatch in Lab is an "
                "approximation of how a person would assign them.",
            ],
        }
