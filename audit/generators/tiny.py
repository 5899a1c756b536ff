"""Stable-Diffusion-architecture pipelines with random weights, built from
config as diffusers' own ``get_dummy_components()`` does.

``tiny`` is for tests and CI: real diffusers code paths, seconds on a CPU,
images of noise. ``sd15`` has the full SD1.5 shapes for speed benchmarks
(speed does not depend on weight values).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from audit.generators.diffusers_backend import DiffusersGenerator
from audit.generators.tokenizer import clip_tokenizer

ARCHS: dict[str, dict[str, Any]] = {
    "tiny": {
        "unet": dict(block_out_channels=(32, 64), layers_per_block=1, sample_size=32,
                     down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                     up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
                     cross_attention_dim=32, attention_head_dim=4, norm_num_groups=8),
        "vae": dict(block_out_channels=(32, 64), layers_per_block=1, norm_num_groups=8,
                    down_block_types=("DownEncoderBlock2D",) * 2,
                    up_block_types=("UpDecoderBlock2D",) * 2, latent_channels=4,
                    sample_size=64),
        "text": dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                     num_attention_heads=4, projection_dim=32),
    },
    "sd15": {
        "unet": dict(block_out_channels=(320, 640, 1280, 1280), layers_per_block=2,
                     sample_size=64, cross_attention_dim=768, attention_head_dim=8),
        "vae": dict(block_out_channels=(128, 256, 512, 512), layers_per_block=2,
                    down_block_types=("DownEncoderBlock2D",) * 4,
                    up_block_types=("UpDecoderBlock2D",) * 4, latent_channels=4,
                    sample_size=512),
        "text": dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                     num_attention_heads=12, projection_dim=768, hidden_act="quick_gelu"),
    },
}


def build_random_pipeline(arch: str = "tiny", *, seed: int = 0) -> Any:
    """A StableDiffusionPipeline with seeded random weights (same bytes every time)."""
    import torch
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel

    shapes = ARCHS[arch]
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(in_channels=4, out_channels=4, **shapes["unet"])
    torch.manual_seed(seed)
    vae = AutoencoderKL(in_channels=3, out_channels=3, **shapes["vae"])
    torch.manual_seed(seed)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=49408, max_position_embeddings=77, bos_token_id=49406, eos_token_id=49407,
        pad_token_id=49407, **shapes["text"]))
    # Every option spelled out: options left at their defaults are recorded as
    # such on save, and a scheduler swapped in later (e.g. euler) would then
    # take its own defaults on disk but these values in memory.
    scheduler = DDIMScheduler(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012,
                              beta_schedule="scaled_linear", clip_sample=False,
                              set_alpha_to_one=False, steps_offset=1, prediction_type="epsilon",
                              timestep_spacing="leading")
    with tempfile.TemporaryDirectory(prefix="t2i-audit-tokenizer-") as scratch:
        tokenizer = clip_tokenizer(Path(scratch))  # read into memory; the files go
    return StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
                                   unet=unet, scheduler=scheduler, safety_checker=None,
                                   feature_extractor=None, requires_safety_checker=False)


def build_random_sdxl(*, refiner: bool = False, seed: int = 0) -> Any:
    """A tiny SDXL base (two text encoders) or refiner (image-to-image, the
    second encoder only, aesthetic-score conditioning), shaped like
    diffusers' SDXL test components, with seeded random weights."""
    import torch
    from diffusers import (
        AutoencoderKL,
        EulerDiscreteScheduler,
        StableDiffusionXLImg2ImgPipeline,
        StableDiffusionXLPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=32, in_channels=4,
        out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), attention_head_dim=(2, 4),
        use_linear_projection=True, addition_embed_type="text_time", addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 2), norm_num_groups=8,
        # time ids: 6 x 8 (base) or 5 x 8 with the aesthetic score (refiner), + pooled 32
        projection_class_embeddings_input_dim=72 if refiner else 80,
        cross_attention_dim=32 if refiner else 64)
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, steps_offset=1,
                                       beta_schedule="scaled_linear", timestep_spacing="leading")
    torch.manual_seed(seed)
    vae = AutoencoderKL(**ARCHS["tiny"]["vae"])
    text = CLIPTextConfig(bos_token_id=49406, eos_token_id=49407, pad_token_id=49407,
                          vocab_size=49408, max_position_embeddings=77, hidden_act="gelu",
                          **{**ARCHS["tiny"]["text"], "num_hidden_layers": 2})
    torch.manual_seed(seed)
    second = CLIPTextModelWithProjection(text)
    with tempfile.TemporaryDirectory(prefix="t2i-audit-tokenizer-") as scratch:
        tokenizer = clip_tokenizer(Path(scratch))
    if refiner:
        return StableDiffusionXLImg2ImgPipeline(
            vae=vae, text_encoder=None, tokenizer=None, text_encoder_2=second,
            tokenizer_2=tokenizer, unet=unet, scheduler=scheduler,
            requires_aesthetics_score=True, force_zeros_for_empty_prompt=True)
    torch.manual_seed(seed)
    return StableDiffusionXLPipeline(vae=vae, text_encoder=CLIPTextModel(text),
                                     tokenizer=tokenizer, text_encoder_2=second,
                                     tokenizer_2=tokenizer, unet=unet, scheduler=scheduler)


class TinyGenerator(DiffusersGenerator):
    """Random tiny SD pipeline: exercises every code path, depicts nothing."""

    name = "tiny"

    def __init__(self, model: str = "tiny", *, arch: str = "tiny", **kwargs: Any) -> None:
        self.arch = arch
        super().__init__(model, **kwargs)

    def _load(self, model: str, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        pipe = build_random_pipeline(self.arch)
        if self.torch_dtype != pipe.unet.dtype:
            pipe = pipe.to(dtype=self.torch_dtype)
        return pipe, {"source": "builtin", "location": f"audit.generators.tiny:{self.arch}",
                      "revision": None, "sha256": None}
