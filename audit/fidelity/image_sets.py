"""The two sets a quality metric compares: a run's valid images, and what it
is compared against (another run, a folder of images, or the toy world's
training renders). Images are decoded when their features are computed, a
batch at a time, so a large set never sits in memory.

Each image carries a group: its prompt in a run, its occupation in the toy
world's training set (a folder has none), so per-prompt metrics compare like
with like.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from audit.errors import UsageError

TOYWORLD_TRAIN = "toyworld-train"
MAX_FOLDER_IMAGES = 50_000


@dataclass
class ImageSet:
    """``load(i)``: image i as (H, W, 3) uint8, or None when it cannot be
    decoded; ``keys``: content hashes for the feature caches (None: hashed
    from the pixels)."""

    kind: str  # run | folder | toyworld-train
    where: str
    ids: list[str]
    keys: list[str | None]
    groups: list[str | None]
    load: Callable[[int], np.ndarray | None]
    slots: dict[str, dict[str, Any]] = field(default_factory=dict)  # a run's group -> slots

    def __len__(self) -> int:
        return len(self.ids)


def _decode(path: Path) -> np.ndarray | None:
    from PIL import Image

    from audit.stages.score import MAX_PIXELS

    try:
        with Image.open(path) as image:
            if image.width * image.height > MAX_PIXELS:
                return None
            return np.asarray(image.convert("RGB"))
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def run_images(rundir: Any) -> ImageSet:
    images = rundir.read_images()
    valid = images[images.status == "ok"].reset_index(drop=True)
    paths = [rundir.image_file(p) for p in valid.path]
    slots = {}
    for prompt, raw in zip(valid.prompt, valid.slots, strict=True):
        if isinstance(prompt, str) and prompt not in slots:
            try:
                slots[prompt] = json.loads(raw) if isinstance(raw, str) and raw else {}
            except ValueError:
                slots[prompt] = {}
    return ImageSet("run", str(rundir.root), list(valid.image_id),
                    [k if isinstance(k, str) and k else None for k in valid.sha256],
                    [p if isinstance(p, str) else None for p in valid.prompt],
                    lambda i: _decode(paths[i]), slots)


def folder_images(folder: Path) -> ImageSet:
    """Regular image files inside ``folder`` (links out of it are not
    followed), by relative path; keyed by their sha256."""
    from audit.common.hashing import file_sha256
    from audit.user_files import image_files

    paths = image_files(folder, limit=MAX_FOLDER_IMAGES,
                        too_many=f"more than {MAX_FOLDER_IMAGES} images; compare against a "
                                 "sample")
    return ImageSet("folder", str(folder), [str(p.relative_to(folder)) for p in paths],
                    [file_sha256(p) for p in paths], [None] * len(paths),
                    lambda i: _decode(paths[i]))


def toyworld_training_set(per_occupation: int) -> ImageSet:
    """The first ``per_occupation`` people of each occupation in the toy
    model's own training set (replayed from its seed in training.json;
    empty scenes left out), rendered."""
    from audit.toyworld.model import WEIGHTS
    from audit.toyworld.train import make_data
    from audit.toyworld.world import render
    from audit.user_files import read_user_json

    training = read_user_json(WEIGHTS / "training.json", what="toy model training record")
    people = make_data(int(training["preset"]["images_per_occupation"]), int(training["seed"]),
                       images=False)["people"]
    chosen: dict[str, list[Any]] = {}
    for person in people:
        if person is not None and len(chosen.setdefault(person.occupation, [])) < per_occupation:
            chosen[person.occupation].append(person)
    flat = [p for group in chosen.values() for p in group]
    return ImageSet(TOYWORLD_TRAIN, f"the toy model's training set (seed {training['seed']})",
                    [f"{p.occupation}/{i}" for i, p in enumerate(flat)], [None] * len(flat),
                    [p.occupation for p in flat],
                    lambda i: np.asarray(render(flat[i])))


def against_set(against: str | Path, *, per_occupation: int) -> ImageSet:
    from audit.rundir import RunDir

    if str(against) == TOYWORLD_TRAIN:
        return toyworld_training_set(per_occupation)
    path = Path(against)
    if not path.is_dir():
        raise UsageError(f"not a run, a folder of images or '{TOYWORLD_TRAIN}'", where=str(path))
    rundir = RunDir(path)
    if rundir.run_json.is_file():
        return run_images(rundir.require())
    return folder_images(path)


def matching_group(run: ImageSet, against: ImageSet, prompt: str) -> str | None:
    """The group of ``against`` a run's prompt is compared with: the same
    prompt in another run; the occupation the prompt's slots name in the toy
    world's training set; none for a folder."""
    if against.kind == "run":
        return prompt if prompt in set(against.groups) else None
    if against.kind == TOYWORLD_TRAIN:
        occupations = set(against.groups)
        occupation = run.slots.get(prompt, {}).get("occupation")
        if occupation is None:  # no slots (an imported run): the one occupation it names
            named = occupations & set(re.findall(r"[a-z]+", prompt.lower()))
            occupation = named.pop() if len(named) == 1 else None
        return occupation if occupation in occupations else None
    return None
