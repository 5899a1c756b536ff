"""CLIP scoring throughput: decode only, model only, and the score stage's
full path (PNG decode + open_clip preprocessing + encode + zero-shot), in one run.

Speed does not depend on weight values, so the model is built from its
open_clip config with random weights (no download).

    python benchmarks/scoring.py                                   # tiny-random, CPU
    python benchmarks/scoring.py --model ViT-L-14 --n 4096 --size 512
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from audit.scorers.clip_model import ImageEncoder, load_clip
from audit.scorers.clip_zero_shot import ClipZeroShot
from audit.stages.score import _batches, decode_threads, on_gpu, score_entries


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def write_image(job: tuple[Path, int, int]) -> Path:
    """Smooth gradients plus mild noise: a PNG about the size of generated ones."""
    path, i, size = job
    rng = np.random.default_rng(i)
    ramp = np.linspace(0, 255, size)
    base = np.stack([np.add.outer(ramp, ramp[::-1]) / 2, np.add.outer(ramp[::-1], ramp) / 2,
                     np.full((size, size), (i * 37) % 256)], axis=-1)
    noise = rng.normal(0, 8, (size, size, 3))
    Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8)).save(path)
    return path


def write_images(folder: Path, n: int, size: int) -> list[Path]:
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor() as pool:
        return list(pool.map(write_image, [(folder / f"{i:06d}.png", i, size)
                                           for i in range(n)], chunksize=16))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="tiny-random")
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    bundle = load_clip(args.model, None, device=args.device)
    encoder = ImageEncoder(bundle, batch_size=args.batch_size)
    batch = encoder.batch_size
    resolution = bundle.model.visual.image_size
    resolution = resolution[0] if isinstance(resolution, tuple) else resolution
    pixels = torch.randn(batch, 3, resolution, resolution, device=bundle.device,
                         dtype=bundle.dtype)
    with torch.inference_mode():
        bundle.model.encode_image(pixels)  # warm-up
        sync()
        start = time.perf_counter()
        repeats = max(1, args.n // batch)
        for _ in range(repeats):
            bundle.model.encode_image(pixels)
        sync()
        model_only = repeats * batch / (time.perf_counter() - start)

    with tempfile.TemporaryDirectory() as tmp:
        paths = write_images(Path(tmp), args.n, args.size)
        # keys as a run's images.parquet holds them (its sha256 column)
        entries = [(p.name, p, hashlib.sha256(p.read_bytes()).hexdigest()) for p in paths]
        scorer = ClipZeroShot(encoder)
        score_entries(entries[:batch], [scorer], None)  # warm-up (text embeddings too)
        encoder.cache.vectors.clear()
        sync()
        start = time.perf_counter()
        score_entries(entries, [scorer], None)
        sync()
        full = len(entries) / (time.perf_counter() - start)
        decode_only = {}
        for threads in sorted({1, decode_threads()}):
            subset = entries[:256] if threads == 1 else entries
            start = time.perf_counter()
            for _ in _batches(subset, threads, pin=on_gpu([scorer])):
                pass
            decode_only[threads] = len(subset) / (time.perf_counter() - start)

    result = {"model": args.model, "device": bundle.device, "dtype": str(bundle.dtype),
              "images": args.n, "image_size": args.size, "batch_size": batch,
              "decode_only_images_per_s_by_threads": {t: round(v, 1)
                                                      for t, v in decode_only.items()},
              "model_only_images_per_s": round(model_only, 1),
              "decode_preprocess_encode_images_per_s": round(full, 1),
              "full_vs_model_only": round(full / model_only, 3)}
    for threads, rate in decode_only.items():
        print(f"decode only, {threads:2d} threads:           {rate:9.1f} images/s")
    print(f"model only:                       {model_only:9.1f} images/s")
    print(f"decode + preprocess + encode:     {full:9.1f} images/s "
          f"({full / model_only:.2f} of model only; {args.model}, {bundle.device}, "
          f"batch {batch}, {args.n} PNGs of {args.size}px)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
