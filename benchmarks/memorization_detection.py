"""How well do the two memorization checks find planted memorization?

Plants memorization in the toy-world model (audit.toyworld.planted: a short
fine-tune on a few training images, each with a caption no training caption
matches), then scores prompts of three kinds:

- memorized: the planted captions (positives);
- controls: captions of the same style, each new to the model (negatives);
- world: the toy world's own captions ("a photo of a nurse", with one
  attribute or none) (negatives).

Method 1, the prompt score (audit memorization --prompt-score, after Wen et
al.): the model alone. Method 2, near-duplicates (audit memorization
--against DIR): each prompt's images against a reference folder holding
the memorized images among world renders; a prompt's score is its closest
image's CLIP similarity (and pHash distance). Printed per method: the AUC
with a bootstrap 95% interval over prompts, the recall at the highest
threshold that keeps false positives at or under 1% of the negatives, and for
near-duplicates the tool's own calibrated decision (any image matched).

    python benchmarks/memorization_detection.py                # ~20 min on 2 cores
    python benchmarks/memorization_detection.py --planted DIR  # reuse a planted model
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def auc(positives: np.ndarray, negatives: np.ndarray) -> float:
    """P(positive > negative) + P(tie) / 2 (the Mann-Whitney AUC)."""
    greater = (positives[:, None] > negatives[None, :]).mean()
    ties = (positives[:, None] == negatives[None, :]).mean()
    return float(greater + ties / 2)


def auc_interval(positives: np.ndarray, negatives: np.ndarray, reps: int = 2000,
                 seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    draws = [auc(rng.choice(positives, positives.size), rng.choice(negatives, negatives.size))
             for _ in range(reps)]
    return float(np.quantile(draws, 0.025)), float(np.quantile(draws, 0.975))


def recall_at(positives: np.ndarray, negatives: np.ndarray, fpr: float = 0.01
              ) -> tuple[float, int]:
    """Recall at the lowest threshold that lets at most ``fpr`` of the
    negatives through, and how many negatives pass it."""
    allowed = int(np.floor(fpr * negatives.size))
    ordered = np.sort(negatives)[::-1]
    threshold = np.nextafter(ordered[allowed], np.inf) if allowed < ordered.size else -np.inf
    return float((positives >= threshold).mean()), int((negatives >= threshold).sum())


def world_prompts() -> list[str]:
    from audit.toyworld.world import card

    out = []
    for occupation in card()["occupations"]:
        article = "an" if occupation[0] in "aeiou" else "a"
        out.append(f"a photo of {article} {occupation}")
        for extra in ("with long hair", "with short hair", "with light skin",
                      "with medium skin", "with dark skin"):
            out.append(f"a photo of {article} {occupation} {extra}")
        for age in ("young", "old"):
            out.append(f"a photo of {'an' if age[0] in 'aeiou' else 'a'} {age} {occupation}")
    return out


def line(name: str, positives: np.ndarray, negatives: np.ndarray) -> str:
    low, high = auc_interval(positives, negatives)
    recall, passed = recall_at(positives, negatives)
    return (f"| {name} | {auc(positives, negatives):.3f} [{low:.3f}, {high:.3f}] | "
            f"{recall:.2f} ({round(recall * positives.size)}/{positives.size}; "
            f"{passed}/{negatives.size} negatives pass) |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--planted", type=Path, default=None, help="a folder "
                        "audit.toyworld.planted wrote (default: plant one now)")
    parser.add_argument("--seeds", type=int, default=8, help="noises per prompt, prompt score")
    parser.add_argument("--images", type=int, default=4, help="images per prompt, near-dups")
    parser.add_argument("--world-references", type=int, default=400)
    args = parser.parse_args()

    import audit
    from audit.common.devices import quiet_libraries
    from audit.memorized.prompt_score import noise_gaps
    from audit.rundir import RunDir
    from audit.toyworld.planted import plant
    from audit.toyworld.world import card, render, sample

    quiet_libraries()
    scratch = Path(tempfile.mkdtemp(prefix="memorization-benchmark-"))
    start = time.perf_counter()
    folder = args.planted or scratch / "planted"
    if args.planted is None:
        plant(folder)
    info = json.loads((folder / "planted.json").read_text())
    planted_seconds = info["seconds"]
    memorized = [m["caption"] for m in info["memorized"]]
    controls, world = info["controls"], world_prompts()
    prompts = memorized + controls + world
    is_positive = np.array([True] * len(memorized) + [False] * (len(controls) + len(world)))
    model = str(folder / "toyworld-sd-planted")
    settings = dict(steps=20, guidance=5.0, width=64, height=64)

    from audit.generators import make_generator

    pipe = make_generator(model, device="cpu").pipe
    began = time.perf_counter()
    gaps = noise_gaps(pipe, prompts, seeds=range(args.seeds), first_steps=1, **settings)
    score_seconds = time.perf_counter() - began
    wen = gaps.mean(axis=1)

    # near-duplicates: the prompts' images against memorized images among world renders
    references = scratch / "references"
    references.mkdir()
    for m in info["memorized"]:
        (references / Path(m["image"]).name).write_bytes((folder / m["image"]).read_bytes())
    rng = np.random.default_rng(7)
    occupations = list(card()["occupations"])
    for i in range(args.world_references):
        render(sample(occupations[i % len(occupations)], rng)).save(
            references / f"world-{i:04d}.png")
    run = scratch / "run"
    audit.generate(model=model, prompts=prompts, n=args.images, out=run,
                   generation=settings, device="cpu")
    found = audit.memorization(run=run, against=references, clip_model="toyworld-clip",
                               clip_pretrained="default", device="cpu")
    images = RunDir(run).read_images()
    table = found.table.merge(images[["image_id", "prompt"]], on="image_id")
    per_prompt = table.groupby("prompt").agg(clip=("clip_similarity", "max"),
                                             phash=("phash_distance", "min"),
                                             matched=("matched", "any"))
    per_prompt = per_prompt.reindex(prompts)
    copied = table[table.clip_reference.str.startswith(tuple(
        Path(m["image"]).name for m in info["memorized"]))]

    print(f"planted model: {len(memorized)} memorized captions, {len(controls)} controls, "
          f"{len(world)} world captions; fine-tune {planted_seconds:.0f} s, "
          f"{info['steps']} steps")
    print(f"prompt score: {len(prompts)} prompts x {args.seeds} seeds in "
          f"{score_seconds:.0f} s ({score_seconds / len(prompts):.2f} s per prompt)")
    print()
    print("| method | AUC [95% bootstrap CI] | recall at <= 1% false positives |")
    print("|---|---|---|")
    for name, score in (("prompt score (Wen et al.), 1st step", wen),
                        ("near-duplicate, CLIP similarity", per_prompt["clip"].to_numpy()),
                        ("near-duplicate, pHash (minus distance)",
                         -per_prompt["phash"].to_numpy())):
        print(line(name, score[is_positive], score[~is_positive]))
        controls_only = score[len(memorized):len(memorized) + len(controls)]
        print(line("... against controls only", score[is_positive], controls_only))
    hits = per_prompt["matched"].to_numpy()
    print()
    print(f"near-duplicate decision (calibrated to 1% false matches): memorized prompts with "
          f"a match {int(hits[is_positive].sum())}/{int(is_positive.sum())}, controls "
          f"{int(hits[len(memorized):len(memorized) + len(controls)].sum())}/{len(controls)}, "
          f"world {int(hits[len(memorized) + len(controls):].sum())}/{len(world)}")
    print(f"images whose closest reference (CLIP) is a memorized image: {len(copied)}")
    for method in found.methods:
        print(f"  {method.method}: threshold {method.threshold:g}, copies found "
              f"{method.detection.k}/{method.detection.n}, false matches "
              f"{method.false_match.k}/{method.false_match.n}")
    print(f"total {time.perf_counter() - start:.0f} s; scratch {scratch}")


if __name__ == "__main__":
    main()
