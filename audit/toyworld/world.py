"""Sample people from the world card and render them at 64x64.

Every attribute is drawn from the card's distribution with a seeded
generator, so the true share of each attribute per occupation is known
exactly (the card) and empirically (the sampled data set).
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from PIL import Image, ImageDraw

from audit.paths import package_data_dir

CARD = Path(__file__).with_name("world.yaml")
HAIR_YOUNG = [(40, 28, 20), (90, 60, 30), (200, 170, 90), (20, 20, 20)]
HAIR_OLD = [(200, 200, 200), (170, 170, 175)]


@cache
def card() -> dict[str, Any]:
    return yaml.safe_load(CARD.read_text())


def tone_group(tone: int) -> str:
    return next(g for g, tones in card()["tone_groups"].items() if tone in tones)


@dataclass(frozen=True)
class Person:
    occupation: str
    presentation: str  # A (long hair) or B (short hair)
    tone: int  # Monk 1-10
    age: str  # young / old
    hair: tuple[int, int, int]
    shift: int  # horizontal jitter in pixels
    background_jitter: int

    @property
    def tone_group(self) -> str:
        return tone_group(self.tone)

    def attributes(self) -> dict[str, Any]:
        return {**asdict(self), "tone_group": self.tone_group}


def true_shares(occupation: str) -> dict[str, dict[str, float]]:
    """The card's generating distribution for one occupation."""
    spec = card()["occupations"][occupation]
    weights = np.array(spec.get("tone_weights", card()["tone_weights"]), dtype=float)
    weights /= weights.sum()
    groups = {g: float(sum(weights[t - 1] for t in tones))
              for g, tones in card()["tone_groups"].items()}
    return {"presentation": {"A": spec["presentation_a"], "B": 1 - spec["presentation_a"]},
            "age_group": {"old": spec["old"], "young": 1 - spec["old"]},
            "tone_group": groups,
            "monk_tone": {str(t + 1): float(w) for t, w in enumerate(weights)}}


def sample(occupation: str, rng: np.random.Generator) -> Person:
    spec = card()["occupations"][occupation]
    weights = np.array(spec.get("tone_weights", card()["tone_weights"]), dtype=float)
    old = rng.random() < spec["old"]
    palette = HAIR_OLD if old else HAIR_YOUNG
    return Person(
        occupation=occupation,
        presentation="A" if rng.random() < spec["presentation_a"] else "B",
        tone=int(rng.choice(10, p=weights / weights.sum())) + 1,
        age="old" if old else "young",
        hair=palette[int(rng.integers(len(palette)))],
        shift=int(rng.integers(-4, 5)),
        background_jitter=int(rng.integers(-20, 21)),
    )


@cache
def _skin(tone: int) -> tuple[int, int, int]:
    """The published sRGB swatch of a Monk tone."""
    with (package_data_dir() / "reference" / "monk-skin-tones.csv").open() as fh:
        rows = {int(r["monk_tone"]): (int(r["r"]), int(r["g"]), int(r["b"]))
                for r in csv.DictReader(fh)}
    return rows[tone]


def face_box(person: Person) -> tuple[int, int, int, int]:
    """The cheeks-and-chin region of a rendered 64x64 person (x, y, w, h):
    where skin is, without hair or props."""
    return (32 + person.shift - 7, 23, 14, 12)


def render(person: Person, size: int | None = None) -> Image.Image:
    """A 64x64 picture: background and props by occupation, torso in its
    clothes, a head in the person's Monk swatch colour, hair by presentation
    and age."""
    spec = card()["occupations"][person.occupation]
    size = size or card()["image_size"]
    scale = size / 64
    background = tuple(int(np.clip(c + person.background_jitter, 0, 255))
                       for c in spec["background"])
    image = Image.new("RGB", (64, 64), background)
    draw = ImageDraw.Draw(image)
    x = 32 + person.shift
    skin = _skin(person.tone)
    hair = person.hair
    clothes = tuple(spec["clothes"])
    prop = spec["prop"]
    if prop == "blackboard":
        draw.rectangle([2, 4, 61, 30], fill=(30, 60, 40), outline=(120, 80, 40), width=2)
        draw.line([8, 12, 24, 12], fill=(230, 230, 230))
        draw.line([8, 18, 30, 18], fill=(230, 230, 230))
    stoop = 2 if person.age == "old" else 0
    # torso (shoulders lower and narrower when old)
    draw.rounded_rectangle([x - 17 + stoop, 42 + stoop, x + 17 - stoop, 66], radius=7,
                           fill=clothes)
    if person.presentation == "A":  # long hair falls behind the shoulders
        draw.rounded_rectangle([x - 12, 18, x + 12, 46], radius=6, fill=hair)
    draw.rectangle([x - 4, 36, x + 4, 44], fill=skin)  # neck
    draw.ellipse([x - 10, 16, x + 10, 40], fill=skin)  # head
    draw.ellipse([x - 6, 25, x - 3, 28], fill=(30, 30, 30))  # eyes
    draw.ellipse([x + 3, 25, x + 6, 28], fill=(30, 30, 30))
    draw.line([x - 3, 34, x + 3, 34], fill=(120, 50, 50), width=1)  # mouth
    if person.presentation == "A":
        draw.chord([x - 11, 13, x + 11, 31], 180, 360, fill=hair)
    else:
        draw.chord([x - 11, 14, x + 11, 28], 180, 360, fill=hair)
    if person.age == "old":
        draw.line([x - 7, 22, x - 3, 22], fill=(90, 70, 60))  # brow lines
        draw.line([x + 3, 22, x + 7, 22], fill=(90, 70, 60))
    if prop == "stethoscope":
        draw.arc([x - 8, 42, x + 8, 58], 0, 180, fill=(40, 40, 40), width=2)
        draw.ellipse([x + 5, 54, x + 9, 58], fill=(160, 160, 170))
    elif prop == "nurse_cap":
        draw.rectangle([x - 7, 9, x + 7, 15], fill=(255, 255, 255))
        draw.rectangle([x - 1, 10, x + 1, 14], fill=(220, 30, 30))
    elif prop == "toque":
        draw.rounded_rectangle([x - 9, 0, x + 9, 17], radius=4, fill=(255, 255, 255))
    elif prop == "helmet":
        draw.chord([x - 13, 8, x + 13, 30], 180, 360, fill=(200, 30, 30))
        draw.rectangle([x - 15, 18, x + 15, 20], fill=(200, 30, 30))
    elif prop == "pilot_cap":
        draw.rectangle([x - 11, 10, x + 11, 17], fill=(30, 40, 90))
        draw.rectangle([x - 11, 16, x + 11, 18], fill=(220, 180, 40))
    elif prop == "tie":
        draw.polygon([(x, 44), (x - 3, 50), (x, 62), (x + 3, 50)], fill=(200, 30, 40))
        draw.polygon([(x - 8, 43), (x, 50), (x + 8, 43)], fill=(245, 245, 245))
    elif prop == "mop":
        draw.line([x + 22, 8, x + 22, 60], fill=(150, 110, 60), width=2)
        draw.rectangle([x + 17, 58, x + 27, 63], fill=(220, 220, 200))
    if size != 64:
        image = image.resize((size, size), Image.Resampling.NEAREST if scale > 1
                             else Image.Resampling.BOX)
    return image
