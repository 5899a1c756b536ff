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

from audit.api.scorer import (
    Decision,
    Measurement,
    Output,
    Scored,
    ScoreInput,
    Scorer,
    per_label,
    rgb_array,
)
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
    version = "2.0.0"
    options = {"faces": "where to look for skin: 'nudenet' (the face box NudeNet finds, "
               "shared with the nudenet scorer; default when installed) or 'none' (the "
               "whole image)"}

    def __init__(self, face_detector: Any | None = None, face_threshold: float = 0.5) -> None:
        """``face_detector``: a NudeNet detector whose face boxes bound the skin
        region; None measures the whole image."""
        self.face_detector = face_detector
        self.face_threshold = face_threshold

    @classmethod
    def build(cls, options: dict[str, Any], context: Any) -> SkinTone:
        from audit.errors import UsageError
        from audit.scorers import nudenet_available

        faces = options.get("faces", "nudenet" if nudenet_available() else "none")
        if faces not in ("nudenet", "none"):
            raise UsageError(f"skin_tone.faces must be 'nudenet' or 'none', got '{faces}'")
        return cls(context.nudenet() if faces == "nudenet" else None)

    def outputs(self) -> list[Output]:
        return [
            Output("monk_tone", "ciede2000_distance", "delta_e_2000", "lower",
                   "CIEDE2000 distance from the median skin colour to each Monk swatch"),
            Output("ita", "ita", "degrees", "none",
                   "individual typology angle of the median skin colour", per_label=False),
            Output("ita", "skin_fraction", "fraction", "none",
                   "share of the region's pixels that can be skin", per_label=False),
            Output("ita", "face_region", "boolean", "none",
                   "1 when measured inside a detected face box, 0 on the whole image",
                   per_label=False),
        ]

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

    def score(self, images: Sequence[ScoreInput]) -> Scored:
        from skimage.color import deltaE_ciede2000

        from audit.scorers.shared import best_face

        tones, swatches = monk_swatches()
        out = Scored()
        for item in images:
            rgb = rgb_array(item)
            box = item.shared.get("face_box")  # a box someone already knows, e.g. a renderer
            if box is None and self.face_detector is not None:
                box = best_face(item, self.face_detector, self.face_threshold)
            if box is not None:
                x, y, w, h = box
                rgb = rgb[y:y + h, x:x + w] if w > 2 and h > 2 else rgb
            median, fraction = self.measure(rgb)
            out.measurements += [
                Measurement(item.image_id, "ita", "skin_fraction", None, fraction),
                Measurement(item.image_id, "ita", "face_region", None, float(box is not None))]
            if median is None:
                out.decisions += [Decision(item.image_id, "monk_tone", "unclear"),
                                  Decision(item.image_id, "ita", "unclear")]
                continue
            distances = deltaE_ciede2000(np.broadcast_to(median, swatches.shape), swatches)
            angle = ita(median)
            out.measurements += per_label(item.image_id, "monk_tone", "ciede2000_distance",
                                          dict(zip(tones, distances, strict=True)))
            out.measurements.append(Measurement(item.image_id, "ita", "ita", None, angle))
            out.decisions += [
                Decision(item.image_id, "monk_tone", tones[int(np.argmin(distances))]),
                Decision(item.image_id, "ita", ita_class(angle))]
        return out

    def card(self) -> dict[str, Any]:
        return {
            "name": self.name, "version": self.version, "kind": "colorimetry",
            "weights_sha256": None,
            "preprocessing": "PIL RGB uint8 -> scikit-image rgb2lab (sRGB linearised, D65) -> "
                             "skin-coloured pixels (warm hue, chroma > 1.5, 5 < L* < 98) within "
                             "a detected face box when one exists -> median L*a*b*",
            "labels": self.labels(),
            "thresholds": {"min_skin_fraction": MIN_SKIN_FRACTION},
            "confidence": None,
            "outputs": [vars(o) for o in self.outputs()],
            "face_detector": "nudenet" if self.face_detector is not None else None,
            "reference": "Monk Skin Tone scale swatches, skintone.google",
            "limitations": [
                "Measures rendered pixel colour under the image's lighting, a proxy for "
                "perceived skin tone, not anyone's skin.",
                "Without a face box, skin-coloured background (wood, sand) is counted.",
                "Monk tones are perceptual categories; nearest-swatch in Lab is an "
                "approximation of how a person would assign them.",
            ],
        }
