"""Ground-truth checks of the toy world (prints a report; writes artefacts):

1. the pixel readers' accuracy on fresh renders and on their VAE round trips;
2. the bundled toy CLIP's zero-shot accuracy on fresh renders, per attribute,
   with confusion matrices -> written to
   audit/toyworld/weights/clip-confusion.json for classifier-error correction;
3. the oracle generator (card people through the toy VAE): how often 95%
   intervals contain the card's shares, for the pixel readers, the raw toy
   CLIP, and the CLIP corrected with pooled or per-occupation confusion;
4. an audit of the bundled toy model, read by the pixel readers: per cell
   the on-class rate, the model share among on-class images, the
   directional amplification against the training data, and the off-class,
   classifier and unreadable terms (audit demo's tables); the toy CLIP's
   accuracy against the readers on the generated images, per occupation;
5. a grid of generated samples per occupation -> docs/images/toyworld-samples.png.

    python benchmarks/toyworld_validity.py [--per-occupation 200] [--n 50] [--weights DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from audit.api.generator import GenerationRequest
from audit.api.scorer import ScoreInput
from audit.common.devices import quiet_libraries
from audit.generators import make_generator
from audit.rundir.atomic import write_text
from audit.scorers import make_scorers
from audit.toyworld.model import WEIGHTS, weights_sources
from audit.toyworld.oracle import draw_people, oracle_coverage, vae_round_trip
from audit.toyworld.readers import read
from audit.toyworld.world import card, render, sample

REPO = Path(__file__).resolve().parents[1]
TRUTH = {"presentation": lambda p: p.presentation, "tone_group": lambda p: p.tone_group,
         "age_group": lambda p: p.age}


def clip_accuracy(per_occupation: int, seed: int, pretrained: str = "default") -> dict:
    rng = np.random.default_rng(seed)
    people = [sample(o, rng) for o in card()["occupations"] for _ in range(per_occupation)]
    (scorer,) = make_scorers(["clip"], options={"clip": {"model": "toyworld-clip",
                                                         "pretrained": pretrained}},
                             device="cpu")
    scored = scorer.score([ScoreInput(str(i), render(p)) for i, p in enumerate(people)])
    decided = pd.DataFrame(map(vars, scored.decisions)).pivot(
        index="image_id", columns="attribute", values="label")
    out = {}
    for attribute, truth in TRUTH.items():
        true = pd.Series([truth(p) for p in people], index=[str(i) for i in range(len(people))])
        predicted = decided.loc[true.index, attribute]
        labels = sorted(set(true))
        columns = labels + ["unclear", "no_person"]
        table = pd.crosstab(true, predicted).reindex(index=labels, columns=columns,
                                                     fill_value=0)
        out[attribute] = {"n": len(true), "accuracy": float((predicted == true).mean()),
                          "true": labels, "predicted": columns,
                          "confusion": table.to_numpy().tolist()}
    return out


def readers_accuracy(per_occupation: int, seed: int, folder: Path) -> None:
    people = draw_people(per_occupation // 4, seed)
    renders = np.stack([np.asarray(render(p)) for p in people])
    for name, images in (("renders", renders),
                         ("VAE round trips", vae_round_trip(renders, folder / "toyworld-sd"
                                                            / "vae"))):
        readings = [read(image) for image in images]
        scores = {field: np.mean([getattr(r, field) == getattr(p, field)
                                  for r, p in zip(readings, people, strict=True)])
                  for field in ("occupation", "presentation", "tone_group", "age", "tone")}
        print(f"pixel readers on {len(people)} {name}: "
              + ", ".join(f"{k} {v:.4f}" for k, v in scores.items())
              + f"; largest rmse {max(r.rmse for r in readings):.1f}")


def samples_grid(path: Path, model: str = "toyworld") -> None:
    generator = make_generator(model, device="cpu")
    occupations = list(card()["occupations"])
    requests = [GenerationRequest(f"{o}/{s}", f"a photo of {'an' if o[0] in 'aeiou' else 'a'} "
                                  f"{o}", "", s, 20, 5.0, 64, 64, "default")
                for o in occupations for s in range(8)]
    images = []
    for start in range(0, len(requests), 16):
        images += [r.image for r in generator.generate(requests[start:start + 16])]
    grid = Image.new("RGB", (64 * 8, 64 * len(occupations)))
    for index, image in enumerate(images):
        grid.paste(image, ((index % 8) * 64, (index // 8) * 64))
    grid.resize((grid.width * 2, grid.height * 2), Image.Resampling.NEAREST).save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-occupation", type=int, default=200)
    parser.add_argument("--n", type=int, default=50, help="images per occupation to audit")
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--weights", type=Path, default=None,
                        help="a rebuilt weights folder instead of the bundled one; its "
                             "artefacts are written there")
    args = parser.parse_args()
    quiet_libraries()
    folder = args.weights or WEIGHTS
    model, clip = weights_sources(args.weights)

    readers_accuracy(args.per_occupation, args.seed, folder)
    accuracy = clip_accuracy(args.per_occupation, args.seed, clip)
    write_text(folder / "clip-confusion.json", json.dumps(
        {"scorer": "clip", "model": "toyworld-clip", "images_seed": args.seed,
         "attributes": accuracy}, indent=2))
    for attribute, result in accuracy.items():
        print(f"toy CLIP {attribute}: accuracy {result['accuracy']:.3f} on {result['n']} "
              f"fresh images; confusion (rows true {result['true']}, columns "
              f"{result['predicted']}): {result['confusion']}")

    oracle = oracle_coverage(clip_pretrained=clip, vae_folder=folder / "toyworld-sd" / "vae")
    print(f"oracle generator ({oracle['images']} card images through the VAE, "
          f"{len(oracle['cells'])} cells; confusion from {oracle['calibration_images']} more): "
          + ", ".join(f"{name} {oracle['covered'][name]}/{len(oracle['cells'])} = {value:.3f}"
                      for name, value in oracle["coverage"].items()))
    print(f"  accuracy on these images: readers {oracle['accuracy']['readers']}, toy CLIP "
          f"{oracle['accuracy']['clip']}")

    from audit.cli.demo import demo

    with tempfile.TemporaryDirectory() as tmp:
        demo(n=args.n, out=Path(tmp) / "run", weights=args.weights)
        from audit.rundir import RunDir
        from audit.toyworld.ground_truth import clip_confusion, read_run

        readings = read_run(Path(tmp) / "run")
        decisions = RunDir(Path(tmp) / "run").read_scores().decisions
        table = clip_confusion(readings, decisions[decisions.scorer == "clip"])
        print(f"readable generated images: {readings.readable.mean():.3f} "
              f"({int(readings.readable.sum())}/{len(readings)}); drawn occupation per "
              "prompt:")
        print(pd.crosstab(readings.prompted, readings.drawn).to_string())
        print("toy CLIP vs pixel readers on generated images (accuracy among confident "
              "labels):")
        print(table.pivot(index="occupation", columns="attribute", values="accuracy")
              .round(3).to_string())
        pooled = table.assign(right=table.accuracy * table.decided).groupby("attribute")
        print((pooled.right.sum() / pooled.decided.sum()).round(3).to_string())

    grid = (folder / "samples.png" if args.weights
            else REPO / "docs" / "images" / "toyworld-samples.png")
    samples_grid(grid, model)
    print(f"samples: {grid}")


if __name__ == "__main__":
    main()
