"""Load an open_clip model (hub tag, local checkpoint, bundled config) and
encode images with an on-disk embedding cache.

Images go through open_clip's own preprocessing steps applied to uint8 RGB
batches on the device, dividing by 255 exactly once before normalising;
feeding floats that are already in [0, 1] through another /255 is a published
mistake the tests guard against.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from audit.api.scorer import ScoreInput, pil_image, rgb_array
from audit.errors import UsageError
from audit.paths import package_data_dir
from audit.registry import Registry
from audit.rundir.atomic import write_bytes

DEFAULT = "default"
GENERIC_ATTRIBUTES = package_data_dir() / "attributes" / "clip-attributes.yaml"
GENERIC_ADHERENCE = package_data_dir() / "attributes" / "adherence.yaml"


@dataclass(frozen=True)
class ClipSpec:
    """A CLIP model this package (or a plugin) names: an open_clip JSON config,
    the weights used for ``pretrained: default`` (None: random), and the
    attribute prompts that belong to the model's world."""

    config: Path
    weights: Path | None = None
    attributes: Path = GENERIC_ATTRIBUTES
    adherence: Path = GENERIC_ADHERENCE  # how the adherence scorer asks about classes


CLIP_MODELS = Registry("CLIP model", base=ClipSpec, group="t2i_audit.clip_models",
                       instances=True)
CLIP_MODELS.register("tiny-random", "audit.scorers.clip_model:TINY_RANDOM")
CLIP_MODELS.register("toyworld-clip", "audit.toyworld.clip:TOYWORLD_CLIP")
TINY_RANDOM = ClipSpec(package_data_dir() / "clip" / "tiny-random.json")


def resolve_pretrained(model: str, pretrained: str | None) -> str | None:
    """'default' means a named model's own weights (random for tiny-random),
    else 'openai'; None (or 'none') means random weights."""
    if pretrained is None or pretrained.lower() == "none":
        return None
    if pretrained == DEFAULT:
        if model in CLIP_MODELS:
            weights = CLIP_MODELS.get(model).weights
            return str(weights) if weights else None
        return "openai"
    return pretrained


def default_adherence(model: str) -> Path:
    return CLIP_MODELS.get(model).adherence if model in CLIP_MODELS else GENERIC_ADHERENCE


def default_attributes(model: str) -> Path:
    return CLIP_MODELS.get(model).attributes if model in CLIP_MODELS else GENERIC_ATTRIBUTES


def _cached(model: str, tag: str) -> bool:
    """Whether open_clip would find these weights without a download."""
    import open_clip

    config = open_clip.get_pretrained_cfg(model, tag) or {}
    hub = config.get("hf_hub", "").rstrip("/")
    if hub:
        from huggingface_hub import try_to_load_from_cache

        parts = hub.split("/")
        repo, filename = "/".join(parts[:2]), "/".join(parts[2:])
        names = [filename] if filename else ["open_clip_model.safetensors",
                                             "open_clip_pytorch_model.bin"]
        if any(isinstance(try_to_load_from_cache(repo, name), str) for name in names):
            return True
    url = config.get("url", "")
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "clip"
    return bool(url) and (cache / Path(url).name).is_file()


@dataclass
class ClipBundle:
    model: Any
    preprocess: Any
    tokenizer: Any
    device: str
    dtype: Any
    name: str
    pretrained: str | None
    weights_sha256: str | None

    @property
    def key(self) -> str:
        """Identifies the embedding space, for the cache."""
        ident = f"{self.name}|{self.pretrained}|{self.weights_sha256}"
        return hashlib.sha256(ident.encode()).hexdigest()[:16]


def _open_clip_name(model: str) -> str:
    """The name open_clip knows a model by (a registered or JSON config's stem)."""
    import open_clip

    config = Path(model) if model.endswith(".json") else (
        CLIP_MODELS.get(model).config if model in CLIP_MODELS else None)
    if config is None:
        return model
    if not config.is_file():
        raise UsageError(f"open_clip model config not found: {config}")
    open_clip.add_model_config(config)
    return config.stem


def weights_missing(model: str, pretrained: str | None) -> str | None:
    """Why ``load_clip`` would stop for want of weights, in one line, or None;
    decided without loading anything."""
    return _missing(_open_clip_name(model), resolve_pretrained(model, pretrained))


def _missing(name: str, pretrained: str | None) -> str | None:
    """``weights_missing`` for open_clip's ``name`` and resolved weights."""
    if pretrained is None or Path(pretrained).is_file():
        return None
    if "/" in pretrained or pretrained.endswith((".bin", ".pt", ".safetensors")):
        return f"CLIP checkpoint file not found: {pretrained}"
    if _cached(name, pretrained):
        return None
    from audit.common.hub import hub_reachable

    if hub_reachable():
        return None
    return (f"CLIP weights {name}/{pretrained} are not in the local cache and the Hugging Face "
            "hub is not reachable; pass a checkpoint file (-S clip.pretrained=/path/to/"
            "open_clip_model.safetensors) or run where the hub is reachable")


def run_clip(card: Any, model: str | None, pretrained: str | None
             ) -> tuple[str | None, str | None]:
    """(model, pretrained) to embed a run's images with: the caller's, or
    the CLIP the run was scored with (clip's, else adherence's; its weights
    file if still there, else the model's default weights). A model named
    without weights gets its own default weights, never random ones unless
    asked for ("none")."""
    if model:
        return model, pretrained or DEFAULT
    scored = card.scorer("clip") or card.scorer("adherence") or {}
    recorded = scored.get("pretrained")
    return scored.get("model"), (recorded if recorded and Path(recorded).is_file()
                                 else "default" if recorded else None)


def load_clip(model: str, pretrained: str | None, *, device: str = "auto",
              dtype: str = "auto") -> ClipBundle:
    import open_clip
    import torch

    from audit.common.devices import pick_device, pick_dtype
    from audit.common.hashing import file_sha256

    device = pick_device(device)
    torch_dtype = pick_dtype(dtype, device)
    registered = model.endswith(".json") or model in CLIP_MODELS
    name = _open_clip_name(model)
    if not registered and name not in open_clip.list_models():
        from audit.registry import suggest

        raise UsageError(f"unknown open_clip model '{model}'"
                         f"{suggest(model, open_clip.list_models() + CLIP_MODELS.names())}")
    pretrained = resolve_pretrained(model, pretrained)
    missing = _missing(name, pretrained)
    if missing:
        if missing.startswith("CLIP checkpoint file not found"):
            raise UsageError("CLIP checkpoint file not found", where=str(pretrained))
        raise UsageError(missing)
    model = name
    sha = None
    if pretrained and Path(pretrained).is_file():
        sha = file_sha256(Path(pretrained))
    if pretrained is None:
        torch.manual_seed(0)  # random weights: only meaningful for mechanics tests
    try:
        clip, _, preprocess = open_clip.create_model_and_transforms(
            model, pretrained=pretrained, device=device)
    except Exception as exc:  # open_clip raises RuntimeError/OSError/hub errors alike
        first = (str(exc).splitlines() or [""])[0]
        raise UsageError(
            f"CLIP weights {model}/{pretrained} could not be loaded ({type(exc).__name__}: "
            f"{first}); pass a checkpoint file (-S clip.pretrained=PATH) or run where the "
            "weights are cached or the hub is reachable") from None
    clip = clip.to(dtype=torch_dtype).eval()
    return ClipBundle(clip, preprocess, open_clip.get_tokenizer(model), device, torch_dtype,
                      model, pretrained and Path(pretrained).name, sha)


@dataclass
class EmbeddingCache:
    """Image embeddings on disk as append-only shards, keyed by image content,
    so rescoring with new prompts never re-encodes."""

    folder: Path | None
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    dtype: Any = np.float16  # what is stored (and held): fp16 for CLIP embeddings

    def __post_init__(self) -> None:
        if self.folder is None or not self.folder.is_dir():
            return
        for shard in sorted(self.folder.glob("shard-*.npz")):
            with np.load(shard) as data:
                self.vectors.update(zip(data["keys"].tolist(), data["vectors"], strict=True))

    def add(self, keys: list[str], vectors: np.ndarray) -> None:
        # Held at the precision stored: an image scores the same whether its
        # embedding was just computed or read back from the cache.
        vectors = vectors.astype(self.dtype)
        self.vectors.update(zip(keys, vectors, strict=True))
        if self.folder is None or not keys:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        np.savez(buffer, keys=np.array(keys), vectors=vectors)
        number = len(list(self.folder.glob("shard-*.npz")))
        write_bytes(self.folder / f"shard-{number:06d}.npz", buffer.getvalue())


def content_key(item: ScoreInput) -> str:
    if item.key:
        return item.key
    return hashlib.sha256(rgb_array(item).tobytes()).hexdigest()


def converts_to_rgb(step: Any) -> bool:
    """open_clip's RGB conversion step (a function or, in newer releases, a
    class); our inputs are RGB already."""
    if getattr(step, "__name__", "") == "_convert_to_rgb":
        return True
    return type(step).__name__ == "MaybeConvertMode" and getattr(step, "mode", "RGB") == "RGB"


def shared_encoder(context: Any, model: str, pretrained: str | None) -> ImageEncoder:
    """One encoder per (model, weights) for the scorers a ``BuildContext``
    builds: clip and clip_concepts on the same CLIP encode each image once."""
    return context.shared(
        ("clip", model, resolve_pretrained(model, pretrained)),
        lambda: ImageEncoder(load_clip(model, pretrained, device=context.device),
                             cache_folder=context.cache_folder, batch_size=context.batch_size))


class ImageEncoder:
    """Batched, cached image embeddings (L2-normalised, float32)."""

    def __init__(self, bundle: ClipBundle, cache_folder: Path | None = None,
                 batch_size: int | None = None, workers: int = 8) -> None:
        self.bundle = bundle
        self.cache = EmbeddingCache(cache_folder / bundle.key if cache_folder else None)
        self.batch_size = batch_size or (256 if bundle.device.startswith("cuda") else 32)
        self.workers = workers
        self.encoded = 0  # images actually run through the model (not from cache)
        self.transform = self._device_transform()

    def _device_transform(self) -> tuple[list[Any], Any] | None:
        """open_clip's eval transform as (Resize/CenterCrop steps, Normalize)
        when that is all it does besides RGB conversion and ToTensor: then the
        whole transform runs batched on the device (torchvision's Resize and
        CenterCrop take tensors). None means the per-image PIL path."""
        from torchvision import transforms

        steps = list(getattr(self.bundle.preprocess, "transforms", []))
        if (len(steps) < 2 or not isinstance(steps[-2], transforms.ToTensor)
                or not isinstance(steps[-1], transforms.Normalize)):
            return None
        geometric = []
        for step in steps[:-2]:
            if isinstance(step, transforms.Resize | transforms.CenterCrop):
                geometric.append(step)
            elif not converts_to_rgb(step):
                return None
        return geometric, steps[-1]

    def pixels(self, images: Sequence[ScoreInput]) -> Any:
        """The tensor that enters the vision tower: open_clip's preprocessing of
        uint8 RGB, resized as PIL would (rounded to 8 bits), /255 once, then
        normalised."""
        import torch
        from torchvision import transforms

        device, split = self.bundle.device, self.transform
        if split is None:
            return torch.stack([self.bundle.preprocess(pil_image(i)) for i in images]).to(
                device, dtype=self.bundle.dtype)
        geometric, normalize = split

        # The caller's CUDA stream (fused scoring runs in its own): the copies
        # made on the upload threads must be ordered before the kernels below.
        stream = torch.cuda.current_stream(device) if device.startswith("cuda") else None

        def upload(array: np.ndarray) -> Any:
            # CHW on the device whatever the array's memory order; .to() keeps a
            # dense layout, so this is one plain copy (asynchronous when the
            # score stage decoded into pinned memory), in a thread.
            writable = array if array.flags.writeable else array.copy()
            with torch.cuda.stream(stream) if stream is not None else contextlib.nullcontext():
                return torch.from_numpy(writable).permute(2, 0, 1).to(device,
                                                                      non_blocking=True)

        with ThreadPoolExecutor(self.workers) as pool:
            uploaded = list(pool.map(upload, [rgb_array(i) for i in images]))
        same_size = len({tuple(t.shape) for t in uploaded}) == 1
        groups = [torch.stack(uploaded)] if same_size else [t[None] for t in uploaded]
        resized = []
        for group in groups:
            x = group.float()
            for step in geometric:
                x = step(x)
                if isinstance(step, transforms.Resize):
                    x = x.round_().clamp_(0, 255)
            resized.append(x)
        batch = torch.cat(resized).div_(255)
        mean = torch.tensor(normalize.mean, device=device).view(1, -1, 1, 1)
        std = torch.tensor(normalize.std, device=device).view(1, -1, 1, 1)
        return ((batch - mean) / std).to(self.bundle.dtype)

    def embed(self, items: Sequence[ScoreInput]) -> np.ndarray:
        import torch

        keys = [content_key(i) for i in items]
        missing = [i for i, k in enumerate(keys) if k not in self.cache.vectors]
        for start in range(0, len(missing), self.batch_size):
            chunk = missing[start:start + self.batch_size]
            with torch.inference_mode():
                features = self.bundle.model.encode_image(
                    self.pixels([items[i] for i in chunk]))
                features = torch.nn.functional.normalize(features.float(), dim=-1)
            self.cache.add([keys[i] for i in chunk], features.cpu().numpy())
            self.encoded += len(chunk)
        return np.stack([self.cache.vectors[k].astype(np.float32) for k in keys])

    def embed_texts(self, prompts: list[str]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            tokens = self.bundle.tokenizer(prompts).to(self.bundle.device)
            features = self.bundle.model.encode_text(tokens)
            return torch.nn.functional.normalize(features.float(), dim=-1).cpu().numpy()

    def ensemble(self, prompts: list[str]) -> np.ndarray:
        """One unit vector for a prompt ensemble: the normalised mean of its
        prompts' embeddings (averaging in embedding space)."""
        mean = self.embed_texts(list(prompts)).mean(axis=0)
        return mean / np.linalg.norm(mean)

    def logit_scale(self) -> float:
        return float(self.bundle.model.logit_scale.exp().item())
