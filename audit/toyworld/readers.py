"""Pixel readers of toy-world images: an independent labeller that needs no
learning, because the renderer knows where everything is.

A generated image is read in three steps. The occupation is the one whose
background (sampled at the left edge, where no person or prop ever is) and
clothes (the torso band) are nearest, allowing the background's uniform
jitter. The tone is the Monk swatch nearest to a fixed cheek patch that lies
inside the face at every horizontal shift the world draws. Presentation
(long or short hair) and age are read by synthesis: the image is compared
with every rendering of that occupation, tone and background at each shift,
presentation, age and hair colour, and the closest rendering's attributes are
the reading. Its root-mean-square error says how far the image is from
anything the world can draw; above ``UNREADABLE_RMSE`` the image is not read.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cache

import numpy as np
from PIL import Image

from audit.toyworld.world import HAIR_OLD, HAIR_YOUNG, Person, _skin, card, tone_group

CHEEK = (slice(29, 34), slice(30, 34))  # rows, columns: skin for shifts -4..4
EDGE = (slice(30, 41), slice(0, 4))  # background for every occupation and shift
TORSO = (slice(57, 63), slice(14, 50))  # mostly clothes
SHIFTS = range(-4, 5)
UNREADABLE_RMSE = 30.0  # per channel, 0-255; renders read at < 1, VAE round trips < 12


@dataclass(frozen=True)
class Reading:
    occupation: str
    presentation: str
    tone: int
    age: str
    rmse: float  # distance to the closest rendering

    @property
    def tone_group(self) -> str:
        return tone_group(self.tone)

    @property
    def readable(self) -> bool:
        return self.rmse <= UNREADABLE_RMSE

    def attributes(self) -> dict[str, str]:
        return {"presentation": self.presentation, "tone_group": self.tone_group,
                "age_group": self.age}


def _pixels(image: Image.Image | np.ndarray) -> np.ndarray:
    array = np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image)
    if array.shape[:2] != (64, 64):
        array = np.asarray(Image.fromarray(array).resize((64, 64), Image.Resampling.BOX))
    return array.astype(float)


def _jitter(background: np.ndarray, spec: list[int]) -> tuple[int, float]:
    """The uniform jitter that best explains a background, and what is left."""
    difference = background - np.asarray(spec, dtype=float)
    jitter = int(np.clip(round(float(difference.mean())), -20, 20))
    return jitter, float(np.linalg.norm(difference - jitter))


def read_occupation(pixels: np.ndarray) -> tuple[str, int]:
    """(occupation, background jitter) by nearest background and clothes."""
    background = np.median(pixels[EDGE].reshape(-1, 3), axis=0)
    band = pixels[TORSO].reshape(-1, 3)
    clothes_like = band[np.linalg.norm(band - background, axis=1) > 30]
    clothes = np.median(clothes_like if len(clothes_like) else band, axis=0)
    best = None
    for name, spec in card()["occupations"].items():
        jitter, residual = _jitter(background, spec["background"])
        score = residual + float(np.linalg.norm(clothes - np.asarray(spec["clothes"])))
        if best is None or score < best[0]:
            best = (score, name, jitter)
    assert best is not None
    return best[1], best[2]


@cache
def _swatches() -> np.ndarray:
    return np.array([_skin(t) for t in range(1, 11)], dtype=float)


def read_tone(pixels: np.ndarray) -> int:
    cheek = np.median(pixels[CHEEK].reshape(-1, 3), axis=0)
    return int(np.argmin(np.linalg.norm(_swatches() - cheek, axis=1))) + 1


@cache
def _renderings(occupation: str, tone: int, jitter: int) -> tuple[np.ndarray, list[Person]]:
    from audit.toyworld.world import render

    people = [Person(occupation=occupation, presentation=presentation, tone=tone,
                     age=age, hair=hair, shift=shift, background_jitter=jitter)
              for presentation, (age, palette), shift in itertools.product(
                  ("A", "B"), (("young", HAIR_YOUNG), ("old", HAIR_OLD)), SHIFTS)
              for hair in palette]
    stack = np.stack([np.asarray(render(p, size=64), dtype=np.float32) for p in people])
    return stack, people


def read(image: Image.Image | np.ndarray) -> Reading:
    """Read one 64x64 (or larger, box-downscaled) toy-world image."""
    pixels = _pixels(image)
    occupation, jitter = read_occupation(pixels)
    tone = read_tone(pixels)
    stack, people = _renderings(occupation, tone, jitter)
    errors = ((stack - pixels[None].astype(np.float32)) ** 2).mean(axis=(1, 2, 3))
    best = int(np.argmin(errors))
    person = people[best]
    return Reading(occupation=occupation, presentation=person.presentation, tone=tone,
                   age=person.age, rmse=float(np.sqrt(errors[best])))
