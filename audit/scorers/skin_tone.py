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
from pathlib import Path
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
    resolve_file_option,
    rgb_array,
)
from audit.data_files import tone_groups
from audit.errors import UsageError
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
    options = {"faces": "where to look for skin: 'dlib' (the largest face dlib's detector "
               "finds, shared with face_attributes; the default with the [faces] extra), "
               "'nudenet' (NudeNet's most confident face; the default with only [nsfw]) or "
               "'none' (the whole image). With a detector, an image without a face is "
               "'no_person', not measured.",
               "tone_groups": "YAML grouping Monk tones into the coarse groups CLIP decides "
                              "(default: the bundled skin_tone_group file, 1-3/4-7/8-10)"}

    def __init__(self, face_source: str = "none", face_detector: Any | None = None,
                 face_threshold: float = 0.5, tone_groups_file: Path | None = None) -> None:
        """``face_detector``: the dlib FaceDetector or NudeNet detector that
        bounds the skin region (``face_source`` says which); None measures
        the whole image."""
        self.face_source = face_source if face_detector is not None else "none"
        self.face_detector = face_detector
        self.face_threshold = face_threshold
        self.tone_groups_file = Path(tone_groups_file or package_data_dir() / "attributes"
                                     / "tone-groups.yaml")
        spec = tone_groups(self.tone_groups_file)
        self.group_attribute: str = spec["attribute"]
        self.group_of = {tone: group for group, tones in spec["groups"].items()
                         for tone in tones}
        self.tone_groups_version: str = spec["version"]

    @classmethod
    def build(cls, options: dict[str, Any], context: Any) -> SkinTone:
        from audit.scorers import nudenet_available
        from audit.scorers.faces import faces_available

        default = ("dlib" if faces_available() else "nudenet" if nudenet_available()
                   else "none")
        faces = options.get("faces", default)
        groups = options.get("tone_groups")
        if faces == "dlib":
            from audit.scorers.faces import shared_detector

            return cls("dlib", shared_detector(context), tone_groups_file=groups)
        if faces == "nudenet":
            from audit.scorers.nudenet_scorer import nudenet_detector

            return cls("nudenet", context.shared(("nudenet",), nudenet_detector),
                       tone_groups_file=groups)
        if faces != "none":
            raise UsageError(f"skin_tone.faces must be 'dlib', 'nudenet' or 'none', "
                             f"got '{faces}'")
        return cls(tone_groups_file=groups)

    @classmethod
    def resolve_options(cls, options: dict[str, Any], base: Path) -> dict[str, Any]:
        return resolve_file_option(options, "tone_groups", base, tone_groups)

    def face_box(self, item: ScoreInput) -> tuple[int, int, int, int] | None:
        """(x, y, w, h) of the face to measure, or None when none is found."""
        from audit.scorers.faces import detected_faces, largest
        from audit.scorers.shared import best_face

        if self.face_source == "dlib":
            face = largest(detected_faces(item, self.face_detector))
            return None if face is None else (face.x, face.y, face.width, face.height)
        return best_face(item, self.face_detector, self.face_threshold)

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
        abstain = ["unclear", "no_person"] if self.face_detector is not None else ["unclear"]
        return {"monk_tone": tones + abstain,
                "ita": [name for _, name in ITA_CLASSES] + abstain,
                self.group_attribute: list(dict.fromkeys(self.group_of.values())) + abstain}

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

        tones, swatches = monk_swatches()
        out = Scored()
        for item in images:
            rgb = rgb_array(item)
            box = item.shared.get("face_box")  # a box someone already knows, e.g. a renderer
            if box is None and self.face_detector is not None:
                box = self.face_box(item)
                if box is None:  # no face: nothing to measure, not the background
                    out.measurements.append(Measurement(item.image_id, "ita", "face_region",
                                                        None, 0.0))
                    out.decisions += [Decision(item.image_id, a, "no_person")
                                      for a in ("monk_tone", "ita", self.group_attribute)]
                    continue
            out.measurements.append(Measurement(item.image_id, "ita", "face_region", None,
                                                float(box is not None)))
            if box is not None:
                x, y, w, h = box
                rgb = rgb[y:y + h, x:x + w] if w > 2 and h > 2 else rgb
            median, fraction = self.measure(rgb)
            out.measurements.append(Measurement(item.image_id, "ita", "skin_fraction", None,
                                                fraction))
            if median is None:
                out.decisions += [Decision(item.image_id, a, "unclear")
                                  for a in ("monk_tone", "ita", self.group_attribute)]
                continue
            distances = deltaE_ciede2000(np.broadcast_to(median, swatches.shape), swatches)
            angle = ita(median)
            out.measurements += per_label(item.image_id, "monk_tone", "ciede2000_distance",
                                          dict(zip(tones, distances, strict=True)))
            out.measurements.append(Measurement(item.image_id, "ita", "ita", None, angle))
            tone = tones[int(np.argmin(distances))]
            out.decisions += [Decision(item.image_id, "monk_tone", tone),
                              Decision(item.image_id, "ita", ita_class(angle)),
                              Decision(item.image_id, self.group_attribute, self.group_of[tone])]
        return out

    def card(self) -> dict[str, Any]:
        return {
            "name": self.name, "version": self.version, "kind": "colorimetry",
            "weights_sha256": None,
            "preprocessing": "PIL RGB uint8 -> scikit-image rgb2lab (sRGB linearised, D65) -> "
                             "skin-coloured pixels (warm hue, chroma > 1.5, 5 < L* < 98) within "
                             "the largest detected face box (none found: no_person) or the "
                             "whole image when no detector is used -> median L*a*b*",
            "labels": self.labels(),
            "thresholds": {"min_skin_fraction": MIN_SKIN_FRACTION},
            "tone_groups": {"file": str(self.tone_groups_file),
                            "version": self.tone_groups_version,
                            "attribute": self.group_attribute},
            "confidence": None,
            "outputs": [vars(o) for o in self.outputs()],
            "face_detector": None if self.face_source == "none" else self.face_source,
            "reference": "Monk Skin Tone scale swatches, skintone.google",
            "limitations": [
                "Measures rendered pixel colour under the image's lighting, a proxy for "
                "perceived skin tone, not anyone's skin.",
                "With faces 'none', skin-coloured background (wood, sand) is counted; with a "
                "detector, an image whose face it misses is 'no_person'.",
                "Monk tones are perceptual categories; nearest-swatch in Lab is an "
                "approximation of how a person would assign them.",
            ],
        }
