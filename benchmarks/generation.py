"""Generation throughput, five ways in one run (and the old two-pass audit):

  loop              one pipeline call per image, saving a PNG (a notebook)
  plain_batched     diffusers with a list of prompts per call, no files
  engine            run_generate eager: per-image CPU seeds, cached prompt
                    embeddings, PNG + metadata + sha256 + journal on threads
  engine_compiled   the same with -M compile=true (compiled before timing)
  engine_fused      the compiled engine scoring every image with CLIP while
                    generating (audit run's default), score tables written
  engine_then_score (for reference) the compiled engine, then the score
                    stage reading the PNGs back, as audit run did before

Random weights built from configs (speed does not depend on weight values):
the generator from the SD1.5 (or tiny) config, CLIP from open_clip's. Prints
images/s and ratios measured in this one run; ``--energy`` adds the GPU's
joules per image for each row (NVML).

    python benchmarks/generation.py                                  # tiny, CPU
    python benchmarks/generation.py --arch sd15 --steps 30 --size 512 --n 128 \\
        --loop-n 8 --clip ViT-L-14 --json gpu.json                   # the issue's setting
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from audit.common.devices import quiet_libraries
from audit.common.energy import EnergyMeter
from audit.generators.tiny import TinyGenerator
from audit.rundir import RunDir
from audit.scorers import make_scorers
from audit.stages.fused import FusedScoring
from audit.stages.generate import plan_requests, run_generate
from audit.stages.score import run_score
from audit.suites import load_suite

ROWS = ("loop", "plain_batched", "engine", "engine_compiled", "engine_fused",
        "engine_then_score")


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def suite_of(n: int, steps: int, size: int) -> Any:
    per_item = 4
    suite = load_suite("occupations")
    data = {**suite.data, "images_per_item": per_item,
            "generation": {**suite.generation, "steps": steps, "width": size, "height": size,
                           "scheduler": "dpm++_2m", "guidance": 7.5}}
    data["slots"] = {"occupation": data["slots"]["occupation"][: max(1, n // per_item)]}
    return replace(suite, data=data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", choices=["tiny", "sd15"], default="tiny")
    parser.add_argument("--n", type=int, default=32, help="images in total")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--clip", default="tiny-random",
                        help="open_clip config for the fused row, random weights (ViT-L-14)")
    parser.add_argument("--loop-n", type=int, default=8,
                        help="images for the (slow) notebook loop; its rate is per image")
    parser.add_argument("--no-compile", action="store_true",
                        help="skip the compiled rows (the fused row then uses the eager engine)")
    parser.add_argument("--energy", action="store_true", help="NVML joules per image per row")
    parser.add_argument("--profile", type=Path,
                        help="also write a torch.profiler trace of two engine batches here "
                             "(chrome://tracing or Perfetto)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="time every row this many times, interleaved, and report the "
                             "median (for noisy machines)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    quiet_libraries()

    suite = suite_of(args.n, args.steps, args.size)
    requests = [r for _, r in plan_requests(suite)]
    engine = TinyGenerator(arch=args.arch, device=args.device, dtype=args.dtype)
    engine.set_scheduler("dpm++_2m")
    pipe = engine.pipe
    batch = args.batch_size or engine.default_batch_size(requests[0])
    common = dict(num_inference_steps=args.steps, guidance_scale=7.5, width=args.size,
                  height=args.size)

    def loop(reqs: list[Any], out: Path) -> None:
        for r in reqs:
            image = pipe(prompt=r.prompt, negative_prompt=r.negative_prompt or None,
                         generator=torch.Generator(engine.device).manual_seed(r.seed),
                         **common).images[0]
            image.save(out / f"{r.seed}-{abs(hash(r.image_id))}.png")

    def plain(reqs: list[Any]) -> None:
        for start in range(0, len(reqs), batch):
            chunk = reqs[start:start + batch]
            pipe(prompt=[r.prompt for r in chunk],
                 negative_prompt=[r.negative_prompt for r in chunk],
                 generator=[torch.Generator(engine.device).manual_seed(r.seed) for r in chunk],
                 **common)

    compiled = engine
    compile_seconds = None
    if not args.no_compile:
        compiled = TinyGenerator(arch=args.arch, device=args.device, dtype=args.dtype,
                                 compile=True)
        compiled.set_scheduler("dpm++_2m")
        start = time.perf_counter()
        compiled.generate(requests[:batch])  # compile outside the timing
        sync()
        compile_seconds = time.perf_counter() - start
    clip_options = {"clip": {"model": args.clip, "pretrained": "none"}}
    scorers = make_scorers(["clip"], options=clip_options, device=args.device,
                           batch_size=None)

    def engine_run(generator: Any, out: Path) -> None:
        run_generate(suite, generator, out, batch_size=batch)

    def fused_run(out: Path) -> None:
        with FusedScoring(scorers) as fused:
            run_generate(suite, compiled, out, batch_size=batch, on_stored=fused.submit)
            fused.close()
            run_score(RunDir(out), scorers, fused=fused)

    def two_pass(out: Path) -> None:
        run_generate(suite, compiled, out, batch_size=batch)
        run_score(RunDir(out), scorers)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        loop(requests[:1], tmp)  # warm-up: CUDA context, kernels, allocator
        plain(requests[:batch])
        two_pass(tmp / "warm")  # CLIP's kernels and text embeddings too
        shutil.rmtree(tmp / "warm")
        loop_requests = requests[:args.loop_n]
        runs: list[tuple[str, int, Callable[[], None]]] = [
            ("loop", len(loop_requests), lambda: loop(loop_requests, tmp)),
            ("plain_batched", len(requests), lambda: plain(requests)),
            ("engine", len(requests), lambda: engine_run(engine, tmp / "engine"))]
        if not args.no_compile:
            runs.append(("engine_compiled", len(requests),
                         lambda: engine_run(compiled, tmp / "compiled")))
        runs += [("engine_fused", len(requests), lambda: fused_run(tmp / "fused")),
                 ("engine_then_score", len(requests), lambda: two_pass(tmp / "two"))]
        if args.profile:
            profile(engine, suite, batch, tmp / "profiled", args.profile)
        rates: dict[str, list[float]] = {name: [] for name, _, _ in runs}
        energies: dict[str, list[float]] = {name: [] for name, _, _ in runs}
        for _ in range(args.repeat):
            for name, count, work in runs:
                for folder in tmp.iterdir():  # each repeat generates afresh
                    if folder.is_dir():
                        shutil.rmtree(folder)
                sync()
                meter = EnergyMeter(engine.device if args.energy else "cpu").start()
                start = time.perf_counter()
                work()
                sync()
                rates[name].append(count / (time.perf_counter() - start))
                gpu = meter.stop()["gpu"]["joules"]
                if gpu is not None:
                    energies[name].append(gpu / count)
        timings = {name: statistics.median(values) for name, values in rates.items()}
        joules = {name: statistics.median(values) if values else None
                  for name, values in energies.items()}

    info = engine.describe()
    result: dict[str, Any] = {
        "arch": args.arch, "device": info["device_name"], "dtype": info["dtype"],
        "images": len(requests), "loop_images": len(loop_requests), "steps": args.steps,
        "size": args.size, "batch_size": batch, "clip": args.clip,
        "compile_seconds": round(compile_seconds, 1) if compile_seconds else None,
        "repeat": args.repeat, "images_per_s": {k: round(v, 3) for k, v in timings.items()},
        "images_per_s_each": {k: [round(v, 3) for v in vs] for k, vs in rates.items()},
        "ratios": ratios(timings)}
    if args.energy:
        result["gpu_joules_per_image"] = {k: v and round(v, 2) for k, v in joules.items()}
    for name in ROWS:
        rate = f"{timings[name]:8.2f} images/s" if name in timings else "  skipped (--no-compile)"
        extra = f"   {joules[name]:.1f} J/image" if args.energy and joules.get(name) else ""
        print(f"{name:>18}: {rate}{extra}")
    print("   ".join(f"{k}: {v:.2f}x" for k, v in result["ratios"].items()))
    print(f"({len(requests)} images, {args.arch}, {result['device']}, {result['dtype']}, "
          f"{args.steps} steps, {args.size}px, batch {batch}, CLIP {args.clip}"
          + (f", compiled in {compile_seconds:.0f} s" if compile_seconds else "") + ")")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


def ratios(t: dict[str, float]) -> dict[str, float]:
    pairs = {"engine / plain_batched": ("engine", "plain_batched"),
             "engine / loop": ("engine", "loop"),
             "compiled / plain_batched": ("engine_compiled", "plain_batched"),
             "fused / compiled": ("engine_fused", "engine_compiled"),
             "fused / engine": ("engine_fused", "engine"),
             "fused / then_score": ("engine_fused", "engine_then_score")}
    return {k: round(t[a] / t[b], 3) for k, (a, b) in pairs.items() if a in t and b in t}


def profile(generator: Any, suite: Any, batch: int, out: Path, trace: Path) -> None:
    """Two engine batches under torch.profiler: where time goes between and
    around the denoising steps (host work, synchronisations, copies)."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA]
                                           if torch.cuda.is_available() else [])
    small = replace(suite, data={**suite.data, "images_per_item": 1,
                                 "slots": {"occupation": suite.data["slots"]["occupation"]
                                           [: max(1, 2 * batch)]}})
    with torch_profile(activities=activities, record_shapes=False) as prof:
        run_generate(small, generator, out, batch_size=batch)
        sync()
    prof.export_chrome_trace(str(trace))
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


if __name__ == "__main__":
    main()
