"""Validate audit quality's distribution metrics on the toy world, where the
truth is known: renders drawn from the world's card.

    python benchmarks/quality_validation.py [--reps 20] [--n 200] [--shift-n 1000]

Prints, on toy-CLIP features (the only image features with weights here):

1. null halves: two independent draws of one occupation's renders; how
   often each metric's 95% interval contains 0 (it should, about 95% of the
   time or more);
2. planted shifts: renders of nurses with the long-hair share moved from the
   world's 0.5 reference to 0.5, 0.6, 0.8 against a 0.5 reference; each
   metric with its interval (it should grow, and the intervals separate);
3. small-n bias under the null: the mean of each metric over repetitions as
   n falls (plug-in FID grows like 1/n; KID, CMMD and FID∞ should stay
   near 0);
4. the bundled toy model against its training set (per prompt);
5. time per 1000 images to compute features on this CPU: the toy CLIP at
   64 px, and a random FID Inception at 299 px (the real network's cost);
6. the adherence scorer's on-class decision on the toy model's images
   against the pixel readers' occupation: accuracy among decided images,
   the unclear rate, and per occupation the on-class rate each one says;
   then its calibration (``audit calibrate``'s threshold choice) on random
   halves of those images labelled by the readers, checked on the other
   half: how often the target is declared met, and when it is, how often
   the fresh half reaches it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from audit.fidelity import distances as D


def toy_clip():
    from audit.scorers.clip_model import ImageEncoder, load_clip

    return ImageEncoder(load_clip("toyworld-clip", "default", device="cpu"))


def embed(encoder, images: list[np.ndarray]) -> np.ndarray:
    from audit.api.scorer import ScoreInput

    return encoder.embed([ScoreInput(str(i), a) for i, a in enumerate(images)])


def renders(occupation: str, n: int, rng: np.random.Generator, long_hair: float | None = None
            ) -> list[np.ndarray]:
    """``n`` renders of the world's ``occupation``; ``long_hair`` overrides
    the card's share of presentation A."""
    from audit.toyworld.world import render, sample

    out = []
    for _ in range(n):
        person = sample(occupation, rng)
        if long_hair is not None:
            person = dataclasses.replace(person, presentation="A" if rng.random() < long_hair
                                         else "B")
        out.append(np.asarray(render(person)))
    return out


def metrics(x: np.ndarray, y: np.ndarray, halves: int = 30) -> dict[str, D.Estimate]:
    return {"KID": D.kid(x, y), "CMMD": D.cmmd(x, y),
            "FID∞": D.fid_infinity(x, y, halves=halves)}


def shown(e: D.Estimate) -> str:
    return f"{e.value:9.4g} [{e.ci_low:9.4g}, {e.ci_high:9.4g}]"


def null_halves(encoder, n: int, reps: int, rng: np.random.Generator) -> None:
    print(f"\n1. null halves: two draws of {n} nurse renders, {reps} repetitions")
    contains = {"KID": 0, "CMMD": 0, "FID∞": 0}
    for _ in range(reps):
        x = embed(encoder, renders("nurse", n, rng))
        y = embed(encoder, renders("nurse", n, rng))
        for name, e in metrics(x, y).items():
            contains[name] += e.ci_low <= 0 <= e.ci_high
    for name, k in contains.items():
        print(f"   {name:5s} interval contains 0: {k}/{reps}")


def planted_shifts(encoder, n: int, rng: np.random.Generator) -> None:
    print(f"\n2. planted shifts: long-hair share of {n} nurse renders vs a 0.5 reference of {n}")
    reference = embed(encoder, renders("nurse", n, rng, long_hair=0.5))
    for share in (0.5, 0.6, 0.8):
        found = metrics(embed(encoder, renders("nurse", n, rng, long_hair=share)), reference)
        print(f"   share {share}: " + "  ".join(f"{k} {shown(e)}" for k, e in found.items()))


def small_n_bias(encoder, sizes: list[int], reps: int, rng: np.random.Generator) -> None:
    print(f"\n3. small-n bias under the null (nurse vs nurse; mean over {reps} repetitions)")
    print(f"   {'n':>5s} {'FID':>9s} {'FID∞':>9s} {'KID':>10s} {'CMMD':>9s}")
    for n in sizes:
        rows = []
        for _ in range(reps):
            x = embed(encoder, renders("nurse", n, rng))
            y = embed(encoder, renders("nurse", n, rng))
            rows.append((D.fid(x, y), D.fid_infinity(x, y, halves=2).value if n >= 20 else
                         np.nan, D.kid(x, y).value, D.cmmd(x, y).value))
        mean = np.mean(rows, axis=0)
        extrapolated = "-" if np.isnan(mean[1]) else f"{mean[1]:.4f}"
        print(f"   {n:5d} {mean[0]:9.4f} {extrapolated:>9s} {mean[2]:10.2e} {mean[3]:9.4f}")


def toy_model(per_prompt: int) -> None:
    import audit

    print(f"\n4. the toy model ({per_prompt} images per prompt) against its training set")
    with tempfile.TemporaryDirectory() as folder:
        run = Path(folder) / "run"
        audit.generate(model="toyworld", templates=["a photo of {occupation|a}"],
                       slots={"occupation": ["nurse", "ceo", "teacher"]}, n=per_prompt, out=run,
                       device="cpu")
        result = audit.quality(run=run, against="toyworld-train", clip_model="toyworld-clip",
                               toyworld_per_occupation=per_prompt, device="cpu")
        for r in result.metrics.itertuples():
            extra = f" (plug-in FID {r.plug_in_fid:.4g})" if r.metric == "fid_infinity" else ""
            print(f"   {r.scope:22s} {r.metric:12s} {r.value:9.4g} [{r.ci_low:9.4g}, "
                  f"{r.ci_high:9.4g}] n={r.n_run}/{r.n_against}{extra}")


def feature_time(encoder, rng: np.random.Generator) -> None:
    import torch

    from audit.fidelity.features import InceptionEncoder
    from audit.fidelity.inception import InceptionBundle, fid_inception

    print(f"\n5. feature extraction on this CPU ({torch.get_num_threads()} threads)")
    images = renders("nurse", 256, rng)
    start = time.perf_counter()
    embed(encoder, images)
    clip_seconds = (time.perf_counter() - start) / len(images) * 1000
    print(f"   toy CLIP, 64 px: {clip_seconds:.1f} s per 1000 images")
    inception = InceptionEncoder(InceptionBundle(fid_inception().eval(), "cpu", "0" * 64, None))
    few = images[:32]
    start = time.perf_counter()
    embed(inception, few)
    seconds = (time.perf_counter() - start) / len(few) * 1000
    print(f"   FID Inception-v3, resized to 299 px: {seconds:.0f} s per 1000 images")


def on_class(per_occupation: int) -> None:
    import pandas as pd
    from PIL import Image

    import audit
    from audit.toyworld.readers import read
    from audit.toyworld.world import card

    occupations = list(card()["occupations"])
    print(f"\n6. on-class decisions on the toy model's images ({per_occupation} per "
          "occupation) against the pixel readers")
    with tempfile.TemporaryDirectory() as folder:
        run = Path(folder) / "run"
        audit.generate(model="toyworld", templates=["a photo of {occupation|a}"],
                       slots={"occupation": occupations}, n=per_occupation, out=run,
                       device="cpu")
        audit.score(run=run, scorers=["clip", "adherence"], device="cpu",
                    scorer_options={"clip": {"model": "toyworld-clip"},
                                    "adherence": {"model": "toyworld-clip"}})
        images = pd.read_parquet(run / "images.parquet").set_index("image_id")
        decisions = pd.read_parquet(run / "scores" / "decisions.parquet")
        presentation = decisions[decisions.attribute == "presentation"].set_index(
            "image_id").label
        rows = []
        for target in (0.95, 0.9):
            calibration_check(run, images, target=target)
        for d in decisions[decisions.attribute == "on_class"].itertuples():
            asked = json.loads(images.slots[d.image_id])["occupation"]
            reading = read(Image.open(run / images.path[d.image_id]))
            truth = None if not reading.readable else reading.occupation == asked
            rows.append({"asked": asked, "said": d.label, "truth": truth,
                         "reader": reading.occupation if reading.readable else "unreadable",
                         "clip_presentation": presentation.get(d.image_id),
                         "true_presentation": reading.presentation if reading.readable
                         else None})
    table = pd.DataFrame(rows)
    decided = table[(table.said != "unclear") & table.truth.notna()]
    correct = ((decided.said == "on") == decided.truth.astype(bool)).mean()
    print(f"   accuracy among decided, readable images: {correct:.3f} (n={len(decided)}); "
          f"unclear {np.mean(table.said == 'unclear'):.3f}; unreadable "
          f"{np.mean(table.truth.isna()):.3f}")
    print("   per occupation, readable images only: on-class rate by the scorer (unclear "
          "counted as not on) and by the readers; scorer on / readers off and the reverse")
    print(f"   {'asked':12s} {'n':>4s} {'scorer':>7s} {'readers':>8s} {'on/off':>7s} "
          f"{'off/on':>7s}  readers' other reads")
    for asked, group in table.groupby("asked", sort=False):
        readable = group[group.truth.notna()]
        truth = readable.truth.astype(bool)
        said_on = readable.said == "on"
        others = readable[~truth].reader.value_counts()
        print(f"   {asked:12s} {len(readable):4d} {said_on.mean():7.2f} {truth.mean():8.2f} "
              f"{int((said_on & ~truth).sum()):7d} {int((~said_on & truth).sum()):7d}  "
              + ", ".join(f"{k} {v}" for k, v in others.items()))
    print("   long-hair share among on-class images: CLIP's labels among the scorer's on-class "
          "images [95% Wilson] vs the readers' among the readers' on-class images")
    from audit.stats.intervals import binomial_ci

    inside = 0
    for asked, group in table.groupby("asked", sort=False):
        mine = group[(group.said == "on") & group.clip_presentation.isin(["A", "B"])]
        k, n = int((mine.clip_presentation == "A").sum()), len(mine)
        low, high = binomial_ci(k, n)
        truth_rows = group[group.truth.notna() & group.truth.astype(bool)]
        true_share = float((truth_rows.true_presentation == "A").mean())
        inside += low <= true_share <= high
        print(f"   {asked:12s} {k / n if n else float('nan'):.2f} [{low:.2f}, {high:.2f}] "
              f"n={n}   readers {true_share:.2f} (n={len(truth_rows)})")
    print(f"   the interval contains the readers' share for {inside} of "
          f"{table.asked.nunique()} occupations")


def calibration_check(run: Path, images, splits: int = 50, target: float = 0.95) -> None:
    """Thresholds chosen on one half's reader labels, applied to the other."""
    from PIL import Image

    from audit.api.scorer import ScoreInput
    from audit.calibration.fit import calibrate_on_class, on_class_margins
    from audit.rundir import RunDir
    from audit.scorers import make_scorers
    from audit.scorers.prompt_book import PromptBook
    from audit.toyworld.readers import read

    (scorer,) = make_scorers(["adherence"], options={"adherence": {"model": "toyworld-clip"}},
                             device="cpu", prompts=PromptBook.of_run(RunDir(run)))
    truth, inputs, named = [], [], []
    for image_id, row in images.iterrows():
        reading = read(Image.open(run / row.path))
        if not reading.readable:
            continue
        asked = json.loads(row.slots)["occupation"]
        truth.append("on" if reading.occupation == asked else "off")
        inputs.append(ScoreInput(image_id, np.asarray(Image.open(run / row.path).convert("RGB"))))
        named.append(scorer.classes.index(asked))
    cosines = scorer.encoder.embed(inputs) @ scorer.class_embeddings().T
    truth, named = np.array(truth), np.array(named)
    margins = on_class_margins(cosines, named)
    rng = np.random.default_rng(4)
    met = short = 0
    fresh, abstained = [], {True: [], False: []}
    for _ in range(splits):
        half = rng.permutation(len(truth)) < len(truth) // 2
        fit = calibrate_on_class(cosines[half], named[half], list(truth[half]), target=target,
                                 min_decided=10)
        decided = ~half & (np.abs(margins) >= fit["threshold"])
        accuracy = float((np.where(margins[decided] > 0, "on", "off")
                          == truth[decided]).mean())
        abstained[fit["target_met"]].append(1 - decided.sum() / (~half).sum())
        if fit["target_met"]:
            met += 1
            short += accuracy < target
            fresh.append(accuracy)
    print(f"   calibration on random halves ({len(truth) // 2} readable images labelled by "
          f"the readers, {(truth == 'off').sum()} off-class in all), target {target}, "
          f"{splits} splits: declared met {met}/{splits}; of those, the other half's "
          f"accuracy below target {short}/{met}, median {median(fresh):.3f};"
          " abstention on the other half, median when met "
          f"{median(abstained[True]):.3f}, when not met (the most accurate threshold "
          f"deciding 10) {median(abstained[False]):.3f}")


def median(values: list[float]) -> float:
    return float(np.median(values)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--shift-n", type=int, default=1000)
    parser.add_argument("--model-images", type=int, default=100)
    parser.add_argument("--on-class-images", type=int, default=40)
    args = parser.parse_args()
    rng = np.random.default_rng(20261204)
    encoder = toy_clip()
    null_halves(encoder, args.n, args.reps, rng)
    planted_shifts(encoder, args.shift_n, rng)
    small_n_bias(encoder, [10, 20, 50, 100, 200, 400], args.reps, rng)
    toy_model(args.model_images)
    feature_time(encoder, rng)
    on_class(args.on_class_images)


if __name__ == "__main__":
    main()
