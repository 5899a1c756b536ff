"""The diffusers backend: batched, seeded, memory-aware generation.

An image must depend only on (model, prompt, parameters, seed), never on its
batch neighbours, so every image gets its own ``torch.Generator`` (CPU by
default, which also makes seeds portable across GPUs) and its own prompt
embedding, computed once per unique (prompt, negative prompt).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from audit.api.generator import GeneratedImage, GenerationRequest, Generator, Status
from audit.common.devices import pick_device, pick_dtype
from audit.errors import UsageError
from audit.generators.loading import load_pipeline, resolve_source
from audit.generators.schedulers import DEFAULT, check_scheduler, make_scheduler, sampler_label

# Pipelines whose encode_prompt(prompt=..., negative_prompt=...) we can cache;
# the returned tuple maps onto these call arguments.
_EMBED_ARGS = {
    2: ("prompt_embeds", "negative_prompt_embeds"),
    4: ("prompt_embeds", "negative_prompt_embeds", "pooled_prompt_embeds",
        "negative_pooled_prompt_embeds"),
}
_CACHEABLE = {"StableDiffusionPipeline", "StableDiffusionXLPipeline"}
WATERMARK = ("invisible-watermark dwtDct, SDXL's 48-bit message; images under 256 px are "
             "left unmarked")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def status_of(pixels: np.ndarray, finite: bool) -> Status:
    """ok, nan, or blank (uint8 pixels constant within one 8-bit level, e.g.
    all black)."""
    if not finite:
        return "nan"
    return "blank" if int(pixels.max()) - int(pixels.min()) <= 1 else "ok"


def to_uint8(images: Any) -> tuple[np.ndarray, list[bool]]:
    """A (B, 3, H, W) tensor in [0, 1] (the pipeline's "pt" output, on its
    device) -> (B, H, W, 3) uint8 on the host and whether each image was
    finite. The same float32 clip, x255 and round-half-even as converting
    diffusers' "np" output on the host, so the bytes are equal; done where
    the tensor is, so only a quarter of the bytes cross to the host and no
    host thread spends time on float arithmetic."""
    import torch

    x = images.float()
    finite = torch.isfinite(x).flatten(1).all(dim=1)
    pixels = (x.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1)
    return pixels.cpu().numpy(), finite.cpu().tolist()


MAX_LATENTS_BYTES = 16 << 20  # an SD3 latent at 1024 px (16x128x128 float32) is 1 MiB
MAX_LATENT_VALUES = 16 * 256 * 256  # 16 channels at 2048 px


def _read_latents(path: Path) -> tuple[Any, str]:
    """One latent tensor from a .pt file, loaded without running pickled code."""
    import hashlib
    import io

    import torch

    from audit.user_files import regular_file

    regular_file(path, what="latents file", limit=MAX_LATENTS_BYTES)
    try:
        data = path.read_bytes()
        tensor = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # a malformed file, or one holding more than tensors
        raise UsageError(f"cannot read latents: {str(exc)[:200]}", where=str(path)) from None
    if not isinstance(tensor, torch.Tensor):
        raise UsageError(f"expected one tensor, found {type(tensor).__name__}", where=str(path))
    if tensor.numel() > MAX_LATENT_VALUES:  # a strided view of a small storage can claim more
        raise UsageError(f"the latent has {tensor.numel()} values; more than "
                         f"{MAX_LATENT_VALUES} is refused", where=str(path))
    if tensor.ndim == 4 and tensor.shape[0] == 1:
        tensor = tensor[0]
    if tensor.ndim != 3 or not torch.isfinite(tensor).all():
        raise UsageError(f"expected one finite latent of shape (C, H/8, W/8), got "
                         f"{tuple(tensor.shape)}", where=str(path))
    return tensor.float(), hashlib.sha256(data).hexdigest()


def _is_oom(exc: BaseException) -> bool:
    import torch

    return isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower()


class DiffusersGenerator(Generator):
    name = "diffusers"
    options = {
        "revision": "hub revision (branch, tag or commit)",
        "config": "diffusers folder with the pipeline config of a single-file checkpoint",
        "safety_checker": "keep the model's safety checker (true/false; default false)",
        "generator_device": "device of the per-image torch.Generator (default cpu)",
        "compile": "torch.compile the denoiser (true/false), with its attention QKV "
                   "projections fused; rounding differs slightly from eager, recorded",
        "compile_mode": f"torch.compile mode: {', '.join(COMPILE_MODES)} (default: default)",
        "refiner": "an SDXL refiner (alias, hub id or folder) run as an ensemble of experts "
                   "after the SDXL base: the base denoises to refiner_frac, the refiner the "
                   "rest; it shares the base's second text encoder and VAE",
        "refiner_frac": "fraction of the steps the base does before the refiner (default 0.8)",
        "latents": "a .pt file with one starting latent (C, H/8, W/8) used for every image "
                   "instead of seeded noise (the notebook's latents=); its sha256 is recorded",
        "prompt_weighting": "'a1111' (default): WebUI's (word:1.2), [word], BREAK weight the "
                            "text embeddings (Stable Diffusion 1.x/2.x, SDXL); 'none': "
                            "prompts go to the model as written",
    }

    def __init__(self, model: str, *, device: str = "auto", dtype: str = "auto",
                 revision: str | None = None, config: str | None = None,
                 safety_checker: bool = False, generator_device: str = "cpu",
                 compile: bool = False, compile_mode: str = "default",
                 prompt_weighting: str = "a1111",
                 latents: str | None = None, refiner: str | None = None,
                 refiner_frac: float = 0.8) -> None:
        if prompt_weighting not in ("a1111", "none"):
            raise UsageError(f"prompt_weighting must be 'a1111' or 'none', got "
                             f"'{prompt_weighting}'")
        self.prompt_weighting = prompt_weighting
        if compile_mode not in COMPILE_MODES:
            raise UsageError(f"compile_mode must be one of {', '.join(COMPILE_MODES)}, got "
                             f"'{compile_mode}'")
        if compile_mode != "default" and not compile:
            raise UsageError("compile_mode goes with compile (-M compile=true / --compile)")
        self.compile_mode = compile_mode
        self.fused_qkv = False
        self._timings: list[tuple[int, float]] = []  # (batch size, seconds) per pipeline call
        self.latents, self.latents_sha256 = (_read_latents(Path(latents)) if latents
                                             else (None, None))
        self.model = model
        self.compiled = compile
        self.device = pick_device(device)
        self.torch_dtype = pick_dtype(dtype, self.device)
        self.generator_device = generator_device
        self.safety_checker = safety_checker
        self.pipe, self._source_info = self._load(model, revision=revision, config=config)
        self.refiner, self.refiner_info = None, None
        self.refiner_frac = float(refiner_frac)
        if refiner is not None:
            self.refiner, self.refiner_info = self._load_refiner(refiner)
        elif refiner_frac != 0.8:
            raise UsageError("refiner_frac goes with a refiner (-M refiner=... / --refiner)")
        self.pipe.to(self.device)
        if self.refiner is not None:
            self.refiner.to(self.device)
            self.refiner.set_progress_bar_config(disable=True)
        if self.device.startswith("cuda"):
            self._speed_up()
        if self.compiled:
            self._compile()
        self.pipe.set_progress_bar_config(disable=True)
        self._base_scheduler = self.pipe.scheduler
        self._base_scheduler_config = self.pipe.scheduler.config
        self._scheduler_name = DEFAULT
        self._embeddings: dict[tuple[str, str, bool, str], tuple[Any, ...]] = {}

    def _load(self, model: str, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        return load_pipeline(resolve_source(model), torch_dtype=self.torch_dtype,
                             safety_checker=self.safety_checker, **kwargs)

    def _load_refiner(self, refiner: str) -> tuple[Any, dict[str, Any]]:
        """The refiner of an SDXL ensemble of experts, sharing the base's
        second text encoder and VAE (as the SDXL model card runs it)."""
        if type(self.pipe).__name__ != "StableDiffusionXLPipeline":
            raise UsageError(f"a refiner goes with an SDXL base; {self.model} is a "
                             f"{type(self.pipe).__name__}")
        if not 0 < self.refiner_frac < 1:
            raise UsageError(f"refiner_frac must be between 0 and 1, got {self.refiner_frac}")
        pipe, info = load_pipeline(
            resolve_source(refiner), torch_dtype=self.torch_dtype, revision=None, config=None,
            safety_checker=False,
            components={"text_encoder_2": self.pipe.text_encoder_2, "vae": self.pipe.vae})
        if type(pipe).__name__ != "StableDiffusionXLImg2ImgPipeline":
            raise UsageError(f"the refiner {refiner} is a {type(pipe).__name__}, not an SDXL "
                             "image-to-image (refiner) pipeline")
        pipe.set_progress_bar_config(disable=True)
        self._refiner_scheduler_config = pipe.scheduler.config
        return pipe, {"id": refiner, **info, "pipeline_class": type(pipe).__name__}

    def _speed_up(self) -> None:
        """GPU memory layout; it changes nothing beyond floating-point rounding."""
        import torch

        for name in ("unet", "vae", "transformer"):
            module = getattr(self.pipe, name, None)
            if module is not None:
                module.to(memory_format=torch.channels_last)

    def _compile(self) -> None:
        """torch.compile of the denoiser, opted into (it changes rounding, not
        what is drawn). Mode "default" unless asked: it was measured at 1.5x
        plain diffusers on an H100 (benchmarks/RESULTS.md); "reduce-overhead"
        records a CUDA graph per batch shape, and a run's shapes vary (its
        last batch, out-of-memory halving), for a gain in launch overhead
        that is small when a batch of 512 px images keeps the GPU busy. The
        compiled code is cached on disk (TORCHINDUCTOR_CACHE_DIR, by default
        under ~/.cache/t2i-audit), so a second run compiles in a fraction of
        the time; run.json records the first call's extra time."""
        import os

        import torch

        cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(cache / "t2i-audit" / "inductor"))
        if type(self.pipe).__name__ in _CACHEABLE and hasattr(self.pipe, "fuse_qkv_projections"):
            self.pipe.fuse_qkv_projections(unet=True, vae=False)
            self.fused_qkv = True
        denoiser = "unet" if getattr(self.pipe, "unet", None) is not None else "transformer"
        setattr(self.pipe, denoiser, torch.compile(getattr(self.pipe, denoiser),
                                                   mode=self.compile_mode))

    def runtime(self) -> dict[str, Any] | None:
        """For run.json's history: with compile, the first pipeline call
        (which compiles) against the median later call of the same size."""
        import os
        import statistics

        if not self.compiled or not self._timings:
            return None
        size, first = self._timings[0]
        later = [seconds for n, seconds in self._timings[1:] if n == size]
        steady = statistics.median(later) if later else None
        return {"compile": {
            "mode": self.compile_mode, "fused_qkv": self.fused_qkv,
            "cache": os.environ.get("TORCHINDUCTOR_CACHE_DIR"),
            "first_call_seconds": round(first, 3),
            "steady_call_seconds": round(steady, 3) if steady is not None else None,
            "compile_seconds": round(first - steady, 3) if steady is not None else None}}

    # -- provenance -------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        import diffusers
        import torch

        scheduler = self.pipe.scheduler
        return {
            "backend": self.name,
            "id": self.model,
            **self._source_info,
            "pipeline_class": type(self.pipe).__name__,
            "dtype": str(self.torch_dtype).removeprefix("torch."),
            "device": self.device,
            "device_name": (torch.cuda.get_device_name(self.device)
                            if self.device.startswith("cuda") else "cpu"),
            "generator_device": self.generator_device,
            "compiled": self.compiled,
            **({"compile_mode": self.compile_mode, "fused_qkv": self.fused_qkv}
               if self.compiled else {}),
            "scheduler": {"name": self._scheduler_name, "class": type(scheduler).__name__,
                          "config": {k: v for k, v in scheduler.config.items()
                                     if k != "_use_default_values"}},
            "safety_checker": bool(self.safety_checker
                                   and getattr(self.pipe, "safety_checker", None) is not None),
            # SDXL pipelines mark their output when invisible-watermark is installed
            "watermark": (WATERMARK if getattr(self.pipe, "watermark", None) is not None
                          else None),
            "diffusers_version": diffusers.__version__,
            "prompt_weighting": self.prompt_weighting,
            "latents_sha256": self.latents_sha256,
            "refiner": None if self.refiner is None else {
                **self.refiner_info, "frac": self.refiner_frac},
        }

    def sampler_label(self) -> str:
        return sampler_label(self._scheduler_name, self.pipe.scheduler)

    def computes_on_cpu(self) -> bool:
        return self.device == "cpu"

    def default_batch_size(self, request: GenerationRequest) -> int:
        import torch

        if not self.device.startswith("cuda"):
            return 4
        free, _ = torch.cuda.mem_get_info(self.device)
        # ~0.6 GiB per 512x512 image in fp16 for SD-sized UNets, measured loosely;
        # OOM halving corrects an optimistic guess.
        per_image = 0.6 * (request.width * request.height) / (512 * 512) * 2**30
        return int(max(1, min(32, (free - 2 * 2**30) // per_image)))

    # -- generation -------------------------------------------------------
    def prepare(self, request: GenerationRequest) -> None:
        self.set_scheduler(request.scheduler)

    def set_scheduler(self, name: str) -> None:
        name = check_scheduler(name)
        if name == self._scheduler_name:
            return
        if name == DEFAULT:
            self.pipe.scheduler = self._base_scheduler
        else:
            self.pipe.scheduler = make_scheduler(name, self._base_scheduler_config)
            if self.refiner is not None:  # both experts sample alike
                self.refiner.scheduler = make_scheduler(name, self._refiner_scheduler_config)
        self._scheduler_name = name

    def _embed(self, prompt: str, negative: str, cfg: bool) -> tuple[Any, ...]:
        key = (prompt, negative, cfg, self.prompt_weighting)
        if key not in self._embeddings:
            import torch

            from audit.generators.attention import is_weighted, parse_attention, plain_text

            runs = [parse_attention(prompt), parse_attention(negative)]
            if self.prompt_weighting == "a1111" and any(map(is_weighted, runs)):
                self._embeddings[key] = self._weighted_embeds(*runs, cfg)
                return self._embeddings[key]
            if self.prompt_weighting == "a1111":  # escapes such as \( become the character
                prompt, negative = plain_text(runs[0]), plain_text(runs[1])
            with torch.inference_mode():
                out = self.pipe.encode_prompt(
                    prompt=prompt, device=self.device, num_images_per_prompt=1,
                    do_classifier_free_guidance=cfg, negative_prompt=negative or None)
            self._embeddings[key] = tuple(out)
        return self._embeddings[key]

    def _weighted_embeds(self, positive: list[Any], negative: list[Any], cfg: bool
                         ) -> tuple[Any, ...]:
        """WebUI's weighting: the text in 75-token chunks (BREAK starts a
        new one), each encoded as BOS + chunk + EOS + padding, every token's
        embedding scaled by its weight, then rescaled to its unweighted mean.
        The negative prompt is padded to as many chunks as the positive one.
        Returns what encode_prompt would (two tensors, or four for SDXL)."""
        import torch

        from audit.generators.attention import plain_text

        self._check_weighting_supported()
        name = type(self.pipe).__name__

        chunks = [self._chunks(positive), self._chunks(negative)]
        size = max(len(c) for c in chunks)
        embeds, pooled = [], []
        with torch.inference_mode():
            for parts in chunks:
                parts = parts + [([], [])] * (size - len(parts))
                encoded = [self._encode_chunk(ids, weights, pooled=True)
                           for ids, weights in parts]
                embeds.append(torch.cat([z for z, _ in encoded], dim=1))
                pooled.append(encoded[0][1])  # SDXL pools the first chunk, as WebUI
        if name == "StableDiffusionPipeline":
            return embeds[0], (embeds[1] if cfg else None)
        if not plain_text(negative).strip() and self.pipe.config.force_zeros_for_empty_prompt:
            embeds[1], pooled[1] = torch.zeros_like(embeds[1]), torch.zeros_like(pooled[1])
        return (embeds[0], embeds[1] if cfg else None, pooled[0], pooled[1] if cfg else None)

    def _check_weighting_supported(self) -> None:
        name = type(self.pipe).__name__
        if name not in _CACHEABLE:
            raise UsageError(f"prompt weights such as (word:1.2) are implemented for Stable "
                             f"Diffusion 1.x/2.x and SDXL pipelines; {name} would read them "
                             "as text. Remove them, or pass -M prompt_weighting=none to send "
                             "prompts as written")

    def _chunks(self, runs: list[Any]) -> list[tuple[list[int], list[float]]]:
        from audit.generators.attention import BREAK

        tokenizer = self.pipe.tokenizer
        width = tokenizer.model_max_length - 2
        chunks: list[tuple[list[int], list[float]]] = [([], [])]
        for text, weight in runs:
            if text is BREAK:
                chunks.append(([], []))
                continue
            for token in tokenizer(text, add_special_tokens=False).input_ids:
                if len(chunks[-1][0]) == width:
                    chunks.append(([], []))
                chunks[-1][0].append(token)
                chunks[-1][1].append(weight)
        return chunks

    def _encode_chunk(self, ids: list[int], weights: list[float], pooled: bool = False) -> Any:
        """One chunk's weighted embedding; with ``pooled``, (embedding, the
        last encoder's pooled output or None). SDXL: both encoders'
        penultimate layers side by side, as its encode_prompt does."""
        import torch

        encoders = [(self.pipe.tokenizer, self.pipe.text_encoder)]
        if type(self.pipe).__name__ == "StableDiffusionXLPipeline":
            encoders.append((self.pipe.tokenizer_2, self.pipe.text_encoder_2))
        states, pool = [], None
        for tokenizer, encoder in encoders:
            width = tokenizer.model_max_length
            pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else \
                tokenizer.eos_token_id
            tokens = [tokenizer.bos_token_id, *ids, tokenizer.eos_token_id]
            tokens += [pad] * (width - len(tokens))
            input_ids = torch.tensor([tokens], device=self.device)
            if len(encoders) == 1:
                states.append(encoder(input_ids)[0])
            else:
                out = encoder(input_ids, output_hidden_states=True)
                states.append(out.hidden_states[-2])
                pool = out[0]
        z = torch.cat(states, dim=-1)
        width = z.shape[1]
        scale = [1.0, *weights, 1.0] + [1.0] * (width - len(weights) - 2)
        weighted = self._weight(z, scale)
        return (weighted, pool) if pooled else weighted

    def _weight(self, z: Any, scale: list[float]) -> Any:
        import torch

        w = torch.tensor(scale, device=z.device, dtype=z.dtype)[None, :, None]
        mean, weighted = z.float().mean(), (z * w).float()
        if abs(float(mean)) <= 1e-6 * float(z.float().abs().mean()):
            return weighted.to(z.dtype)  # a zero-mean output has no mean to restore
        return (weighted * (mean / weighted.mean())).to(z.dtype)

    def _fixed_latents(self, request: GenerationRequest, count: int) -> Any:
        """The file's latent for every image of the batch, checked against
        the size the denoiser expects."""
        denoiser = getattr(self.pipe, "unet", None) or getattr(self.pipe, "transformer", None)
        channels = getattr(getattr(denoiser, "config", None), "in_channels", None)
        factor = getattr(self.pipe, "vae_scale_factor", 8)
        expected = (channels, request.height // factor, request.width // factor)
        if tuple(self.latents.shape) != expected:
            raise UsageError(f"the latents file holds shape {tuple(self.latents.shape)}; "
                             f"{request.width}x{request.height} on this model needs {expected}")
        dtype = self.pipe.dtype if hasattr(self.pipe, "dtype") else None
        return self.latents[None].expand(count, *expected).to(self.device, dtype=dtype)

    def _text_arguments(self, requests: Sequence[GenerationRequest], cfg: bool) -> dict[str, Any]:
        if type(self.pipe).__name__ not in _CACHEABLE:
            from audit.generators.attention import is_weighted, parse_attention

            if self.prompt_weighting == "a1111" and any(
                    is_weighted(parse_attention(t)) for r in requests
                    for t in (r.prompt, r.negative_prompt)):
                self._check_weighting_supported()
            return {"prompt": [r.prompt for r in requests],
                    "negative_prompt": [r.negative_prompt for r in requests] if cfg else None}
        import torch

        embeds = [self._embed(r.prompt, r.negative_prompt, cfg) for r in requests]
        names = _EMBED_ARGS[len(embeds[0])]
        out = {}
        for i, name in enumerate(names):
            if embeds[0][i] is None:
                continue
            parts = [e[i] for e in embeds]
            if parts[0].ndim == 3 and len({p.shape[1] for p in parts}) > 1:
                parts = self._same_length(parts)  # prompts of more chunks than others
            out[name] = torch.cat(parts)
        return out

    def _same_length(self, parts: list[Any]) -> list[Any]:
        """Pad sequence embeddings with empty chunks to the longest, as WebUI does."""
        import torch

        longest = max(p.shape[1] for p in parts)
        with torch.inference_mode():
            empty = self._encode_chunk([], [])
        return [torch.cat([p, *[empty] * ((longest - p.shape[1]) // empty.shape[1])], dim=1)
                for p in parts]

    def _call(self, requests: Sequence[GenerationRequest]
              ) -> tuple[np.ndarray, list[bool], list[bool]]:
        """uint8 pixels, finite per image, flagged by a safety checker per image."""
        import torch

        first = requests[0]
        self.set_scheduler(first.scheduler)
        cfg = first.guidance > 1.0
        generators = [torch.Generator(self.generator_device).manual_seed(r.seed)
                      for r in requests]
        extra = {}
        if self.latents is not None:
            extra["latents"] = self._fixed_latents(first, len(requests))
        if self.refiner is not None:
            extra.update(denoising_end=self.refiner_frac, output_type="latent")
        with torch.inference_mode():
            out = self.pipe(
                **{"output_type": "pt", **extra}, **self._text_arguments(requests, cfg),
                num_inference_steps=first.steps, guidance_scale=first.guidance,
                width=first.width, height=first.height, generator=generators,
            )
            if self.refiner is not None:
                out = self.refiner(
                    prompt=[r.prompt for r in requests],
                    negative_prompt=[r.negative_prompt for r in requests] if cfg else None,
                    image=out.images, num_inference_steps=first.steps,
                    denoising_start=self.refiner_frac, guidance_scale=first.guidance,
                    generator=generators, output_type="pt")
        flagged = getattr(out, "nsfw_content_detected", None) or [False] * len(requests)
        images = out.images
        if isinstance(images, torch.Tensor):
            pixels, finite = to_uint8(images)
        else:  # a pipeline that ignores output_type="pt": floats on the host
            floats = np.asarray(images, dtype=np.float32)
            finite = [bool(np.isfinite(f).all()) for f in floats]
            pixels = np.round(np.clip(np.nan_to_num(floats), 0, 1) * 255).astype(np.uint8)
        return pixels, finite, [bool(f) for f in flagged]

    def generate(self, requests: Sequence[GenerationRequest]) -> list[GeneratedImage]:
        if len({r.batch_key() for r in requests}) > 1:
            raise ValueError("generate() takes requests that share one batch key")
        results: list[GeneratedImage] = []
        self._generate_into(list(requests), results)
        return results

    def _generate_into(self, requests: list[GenerationRequest],
                       results: list[GeneratedImage]) -> None:
        import torch
        from PIL import Image

        start = time.perf_counter()
        try:
            pixels, finite, flagged = self._call(requests)
        except (torch.cuda.OutOfMemoryError, RuntimeError) as exc:
            if not _is_oom(exc):
                raise
            torch.cuda.empty_cache()
            if len(requests) == 1:
                results.append(GeneratedImage(requests[0], None, "error",
                                              "CUDA out of memory at batch size 1", 0.0, 0, 1))
                return
            half = len(requests) // 2
            self._generate_into(requests[:half], results)
            self._generate_into(requests[half:], results)
            return
        elapsed = time.perf_counter() - start
        self._timings.append((len(requests), elapsed))
        seconds = elapsed / len(requests)
        sub_batch = (results[-1].sub_batch + 1) if results else 0
        for index, (request, image, is_finite, is_flagged) in enumerate(
                zip(requests, pixels, finite, flagged, strict=True)):
            status = status_of(image, is_finite)
            if is_flagged and status != "nan":
                status = "filtered"
            picture = Image.fromarray(image) if status != "nan" else None
            results.append(GeneratedImage(request, picture, status, None, seconds, index,
                                          len(requests), sub_batch))
