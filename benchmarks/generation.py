"""Generation throughput: a notebook loop vs plain batched diffusers vs the engine.

The same requests (occupations suite prompts, consecutive seeds) go through
(a) one pipeline call per image, as a notebook does, saving each PNG;
(b) plain diffusers with a list of prompts per call (no files written);
(c) the engine (run_generate: per-image seeds, cached embeddings, PNG +
    metadata + sha256 + journal on a writer thread).
All three share one pipeline object. Prints images/s and ratios measured in
this one run.

    python benchmarks/generation.py                     # tiny, CPU
    python benchmarks/generation.py --arch sd15 --steps 30 --size 512 --n 64
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from audit.common.devices import quiet_libraries
from audit.generators.tiny import TinyGenerator
from audit.stages.generate import plan_requests, run_generate
from audit.suites import load_suite


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", choices=["tiny", "sd15"], default="tiny")
    parser.add_argument("--n", type=int, default=32, help="images in total")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--loop-n", type=int, default=16,
                        help="images for the (slow) notebook loop; its rate is per image")
    parser.add_argument("--compile", action="store_true",
                        help="also time the engine with torch.compile (compiles first)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    quiet_libraries()

    per_item = 4
    suite = load_suite("occupations")
    data = {**suite.data, "images_per_item": per_item,
            "generation": {**suite.generation, "steps": args.steps, "width": args.size,
                           "height": args.size, "scheduler": "dpm++_2m"}}
    data["slots"] = {"occupation": data["slots"]["occupation"][: max(1, args.n // per_item)]}
    suite = replace(suite, data=data)
    requests = [r for _, r in plan_requests(suite)]

    engine = TinyGenerator(arch=args.arch, device=args.device, dtype=args.dtype)
    engine.set_scheduler("dpm++_2m")
    pipe = engine.pipe
    batch = args.batch_size or engine.default_batch_size(requests[0])
    common = dict(num_inference_steps=args.steps, guidance_scale=7.5, width=args.size,
                  height=args.size)

    def loop(reqs, out: Path) -> None:
        for r in reqs:
            image = pipe(prompt=r.prompt, negative_prompt=r.negative_prompt or None,
                         generator=torch.Generator(engine.device).manual_seed(r.seed),
                         **common).images[0]
            image.save(out / f"{r.seed}-{abs(hash(r.image_id))}.png")

    def plain(reqs) -> None:
        for start in range(0, len(reqs), batch):
            chunk = reqs[start:start + batch]
            pipe(prompt=[r.prompt for r in chunk],
                 generator=[torch.Generator(engine.device).manual_seed(r.seed) for r in chunk],
                 **common)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # warm-up: CUDA context, kernels, allocator
        loop(requests[:1], tmp)
        plain(requests[:batch])
        timings = {}
        loop_requests = requests[:args.loop_n]
        runs = [("loop", loop_requests, lambda: loop(loop_requests, tmp)),
                ("plain_batched", requests, lambda: plain(requests)),
                ("engine", requests, lambda: run_generate(suite, engine, tmp / "run",
                                                          batch_size=batch))]
        if args.compile:
            compiled = TinyGenerator(arch=args.arch, device=args.device, dtype=args.dtype,
                                     compile=True)
            compiled.set_scheduler("dpm++_2m")
            compiled.generate(requests[:batch])  # compile outside the timing
            runs.append(("engine_compiled", requests,
                         lambda: run_generate(suite, compiled, tmp / "run2", batch_size=batch)))
        for name, reqs, work in runs:
            sync()
            start = time.perf_counter()
            work()
            sync()
            timings[name] = len(reqs) / (time.perf_counter() - start)

    result = {"arch": args.arch, "device": engine.describe()["device_name"],
              "dtype": engine.describe()["dtype"], "images": len(requests),
              "steps": args.steps, "size": args.size, "batch_size": batch,
              "images_per_s": {k: round(v, 3) for k, v in timings.items()},
              "engine_vs_loop": round(timings["engine"] / timings["loop"], 2),
              "engine_vs_plain_batched": round(timings["engine"] / timings["plain_batched"], 2)}
    if "engine_compiled" in timings:
        result["engine_compiled_vs_loop"] = round(timings["engine_compiled"] / timings["loop"], 2)
    for name, rate in timings.items():
        print(f"{name:>14}: {rate:8.2f} images/s")
    print(f"engine / loop: {result['engine_vs_loop']:.2f}x   "
          f"engine / plain batched: {result['engine_vs_plain_batched']:.2f}x   "
          f"({len(requests)} images, {args.arch}, {result['device']}, {result['dtype']}, "
          f"{args.steps} steps, {args.size}px, batch {batch})")
    if "engine_compiled" in timings:
        print(f"engine (torch.compile) / loop: {result['engine_compiled_vs_loop']:.2f}x")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
