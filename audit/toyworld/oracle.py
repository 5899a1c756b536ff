"""The oracle generator: people drawn from the world card itself, rendered
and passed through the toy model's own VAE (encode, decode), so the images
look like generated ones while their truth is known. An audit of these
images must recover the card's shares; whatever it misses is the scoring's
error, not the generator's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from audit.toyworld.world import Person, card, render, sample


def draw_people(per_occupation: int, seed: int) -> list[Person]:
    rng = np.random.default_rng(seed)
    return [sample(o, rng) for o in card()["occupations"] for _ in range(per_occupation)]


def vae_round_trip(images: np.ndarray, vae_folder: Path, batch: int = 128) -> np.ndarray:
    """uint8 (N, 64, 64, 3) -> the same through encode (posterior mode) and
    decode, in float32 on the CPU."""
    import torch
    from diffusers import AutoencoderKL

    vae = AutoencoderKL.from_pretrained(vae_folder).float().eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(images), batch):
            x = torch.from_numpy(images[start:start + batch]).permute(0, 3, 1, 2).float()
            decoded = vae.decode(vae.encode(x / 127.5 - 1).latent_dist.mode()).sample
            out.append(((decoded.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
                       .permute(0, 2, 3, 1).numpy())
    return np.concatenate(out)


def oracle_images(people: list[Person], vae_folder: Path) -> np.ndarray:
    return vae_round_trip(np.stack([np.asarray(render(p)) for p in people]), vae_folder)


def _truth(person: Person, attribute: str) -> str:
    return {"presentation": person.presentation, "tone_group": person.tone_group,
            "age_group": person.age}[attribute]


def _confusion(truth: np.ndarray, said: np.ndarray, categories: list[str],
               outcomes: list[str]) -> np.ndarray:
    counts = np.array([[np.sum((truth == t) & (said == o)) for o in outcomes]
                       for t in categories])
    return counts + (counts.sum(axis=1, keepdims=True) == 0)  # never an empty row


def oracle_coverage(*, per_cell: int = 40, replicates: int = 4, calibration: int = 100,
                    seed: int = 7, clip_pretrained: str = "default",
                    vae_folder: Path | None = None) -> dict[str, Any]:
    """Audit oracle images: per (occupation, replicate, attribute, category)
    cell, does the 95% interval contain the card's true share? For the pixel
    readers (Wilson), the toy CLIP's confident shares (Wilson), and the CLIP
    shares corrected with a confusion matrix measured on separate oracle
    images (``calibration`` per occupation) - pooled over occupations, and
    per occupation. Also the readers' and CLIP's accuracy on these images."""
    import pandas as pd
    from PIL import Image

    from audit.api.scorer import ScoreInput
    from audit.scorers import make_scorers
    from audit.stats.correction import correct_with_interval
    from audit.stats.intervals import binomial_ci
    from audit.toyworld.ground_truth import ATTRIBUTES
    from audit.toyworld.model import WEIGHTS
    from audit.toyworld.readers import read
    from audit.toyworld.world import true_shares

    vae_folder = vae_folder or WEIGHTS / "toyworld-sd" / "vae"
    (scorer,) = make_scorers(["clip"], options={"clip": {"model": "toyworld-clip",
                                                         "pretrained": clip_pretrained}},
                             device="cpu")

    def clip_labels(images: np.ndarray) -> dict[str, np.ndarray]:
        scored = scorer.score([ScoreInput(str(i), Image.fromarray(image))
                               for i, image in enumerate(images)])
        table = pd.DataFrame(map(vars, scored.decisions)).pivot(
            index="image_id", columns="attribute", values="label")
        order = [str(i) for i in range(len(images))]
        return {a: table.loc[order, a].to_numpy(dtype=object) for a in ATTRIBUTES}

    calibration_people = draw_people(calibration, seed + 1)
    calibration_said = clip_labels(oracle_images(calibration_people, vae_folder))
    people = draw_people(per_cell * replicates, seed)
    said = clip_labels(images := oracle_images(people, vae_folder))
    readings = [read(image) for image in images]
    occupation_of = np.array([p.occupation for p in calibration_people])
    covered: dict[str, list[bool]] = {k: [] for k in ("pixel", "clip", "corrected_pooled",
                                                      "corrected_per_occupation")}
    cells = []
    for attribute, categories in ATTRIBUTES.items():
        outcomes = categories + ["unclear", "no_person"]
        truth = np.array([_truth(p, attribute) for p in calibration_people])
        pooled = _confusion(truth, calibration_said[attribute], categories, outcomes)
        for index, occupation in enumerate(card()["occupations"]):
            mine = occupation_of == occupation
            own = _confusion(truth[mine], calibration_said[attribute][mine], categories,
                             outcomes)
            true = true_shares(occupation)[attribute]
            for replicate in range(replicates):
                start = (index * replicates + replicate) * per_cell
                window = slice(start, start + per_cell)
                pixel = np.array([r.attributes()[attribute] for r in readings[window]])
                labels = said[attribute][window]
                counts = np.array([np.sum(labels == o) for o in outcomes])
                confident = int(counts[:len(categories)].sum())
                corrected = {name: correct_with_interval(categories, counts, matrix,
                                                         outcomes=outcomes, draws=1000,
                                                         seed=replicate)
                             for name, matrix in (("pooled", pooled), ("own", own))}
                for position, category in enumerate(categories):
                    p = true[category]
                    low, high = binomial_ci(int(np.sum(pixel == category)), per_cell)
                    covered["pixel"].append(low <= p <= high)
                    low, high = binomial_ci(int(np.sum(labels == category)), confident)
                    covered["clip"].append(low <= p <= high)
                    for key, name in (("corrected_pooled", "pooled"),
                                      ("corrected_per_occupation", "own")):
                        result = corrected[name]
                        covered[key].append(
                            result.ci_low[position] <= p <= result.ci_high[position])
                    cells.append({"occupation": occupation, "attribute": attribute,
                                  "category": category, "true": p, "n": per_cell})
    accuracy = {
        "readers": {a: float(np.mean([r.attributes()[a] == _truth(p, a)
                                      for r, p in zip(readings, people, strict=True)]))
                    for a in ATTRIBUTES},
        "clip": {a: float(np.mean(said[a] == np.array([_truth(p, a) for p in people])))
                 for a in ATTRIBUTES}}
    return {"coverage": {k: float(np.mean(v)) for k, v in covered.items()},
            "covered": {k: int(np.sum(v)) for k, v in covered.items()},
            "cells": cells, "accuracy": accuracy, "images": len(people),
            "calibration_images": len(calibration_people)}
