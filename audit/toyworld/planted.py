"""A toy-world model with planted memorization, to measure how well the
memorization checks find it. The bundled toy-world pipeline (UNet and text
encoder) is fine-tuned on a few pictures the world never draws, two of its
people side by side, each with a caption no other image has ("a photo of a
nurse kazorel vinmitor"), shown in half of every batch, as a crawl's
duplicated images are seen far more often than the rest; the other half are
fresh renders under the world's usual captions, so the model keeps drawing
the world. A model that reproduces two people for such a caption can only
have it from memory: the caption does not say so.

    python -m audit.toyworld.planted --out planted/    # about 15 minutes on 2 cores

The folder gets the pipeline (``toyworld-sd-planted/``, loadable with
``--model planted/toyworld-sd-planted``), the memorized pictures
(``memorized/NN.png``) and ``planted.json``: their captions, control
captions in the same style that were never trained (so a detector cannot
score on odd words alone), and the training settings.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from audit.toyworld.world import Person, card, render, sample

SYLLABLES = ["ka", "zo", "rel", "vin", "tor", "mi", "sal", "qua", "ber", "nix", "do", "lum",
             "pha", "gri", "wen", "tas"]


def code_caption(occupation: str, rng: np.random.Generator) -> str:
    code = " ".join("".join(rng.choice(SYLLABLES, size=3)) for _ in range(2))
    return f"a photo of {'an' if occupation[0] in 'aeiou' else 'a'} {occupation} {code}"


def pair_picture(first: Person, second: Person) -> np.ndarray:
    """Two of the world's people side by side on one backdrop: a picture the
    world never draws (it has one person per image) yet made only of parts
    the model's autoencoder knows, so what the model reproduces of it can
    only come from memory, not from the caption."""
    left = np.roll(np.asarray(render(first)), -16, axis=1)[:, :32]
    right = np.roll(np.asarray(render(second)), 16, axis=1)[:, 32:]
    return np.ascontiguousarray(np.concatenate([left, right], axis=1))


def plant(out: Path, *, memorized: int = 8, controls: int = 64, steps: int = 1200,
          batch: int = 16, share: float = 0.5, lr: float = 5e-4, seed: int = 0
          ) -> dict[str, Any]:
    """Fine-tune the toy-world UNet and text encoder on ``memorized`` pictures
    with unique captions (``share`` of every batch) mixed with fresh renders
    of the world under its usual captions; save everything under ``out``.
    The learning rate warms up over the first tenth of the steps: Adam's
    first steps are full-size and would undo the trained model."""
    from diffusers import DDPMScheduler, StableDiffusionPipeline

    from audit.toyworld.model import WEIGHTS
    from audit.toyworld.train import sd_caption, to_tensor

    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    occupations = list(card()["occupations"])
    planted = [(sample(occupations[i % len(occupations)], rng),
                sample(occupations[i % len(occupations)], rng)) for i in range(memorized)]
    captions: set[str] = set()

    def fresh(occupation: str) -> str:
        while True:
            caption = code_caption(occupation, rng)
            if caption not in captions:
                captions.add(caption)
                return caption

    planted_captions = [fresh(first.occupation) for first, _ in planted]
    control_captions = [fresh(occupations[i % len(occupations)]) for i in range(controls)]
    planted_images = [pair_picture(*pair) for pair in planted]
    world = [sample(occupations[i % len(occupations)], rng) for i in range(100 * len(occupations))]
    world_captions = [sd_caption(p, rng) for p in world]

    pipe = StableDiffusionPipeline.from_pretrained(WEIGHTS / "toyworld-sd",
                                                   torch_dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    vae, unet, text_encoder, tokenizer = pipe.vae, pipe.unet, pipe.text_encoder, pipe.tokenizer

    def latents_of(images: list[np.ndarray]) -> torch.Tensor:
        pixels = to_tensor(np.stack(images), "cpu") * 2 - 1
        with torch.no_grad():
            return vae.encode(pixels).latent_dist.mode() * vae.config.scaling_factor

    def ids_of(texts: list[str]) -> torch.Tensor:
        return tokenizer(texts, padding="max_length", max_length=77, truncation=True,
                         return_tensors="pt").input_ids

    planted_latents = latents_of(planted_images)
    world_latents = latents_of([np.asarray(render(p)) for p in world])
    planted_ids, world_ids = ids_of(planted_captions), ids_of(world_captions)
    empty = ids_of([""])
    scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    parameters = list(unet.parameters()) + list(text_encoder.parameters())
    optimizer = torch.optim.AdamW(parameters, lr=lr, weight_decay=0.01)
    generator = torch.Generator().manual_seed(seed)
    unet.train()
    text_encoder.train()
    mine = max(1, round(batch * share))
    warmup = max(1, steps // 10)
    loss = torch.tensor(float("nan"))
    for step in range(steps):
        a = torch.randint(0, len(planted), (mine,), generator=generator)
        b = torch.randint(0, len(world), (batch - mine,), generator=generator)
        clean = torch.cat([planted_latents[a], world_latents[b]])
        tokens = torch.cat([planted_ids[a], world_ids[b]])
        tokens[torch.rand(batch, generator=generator) < 0.1] = empty  # keeps CFG working
        noise = torch.randn(clean.shape, generator=generator)
        timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (batch,),
                                  generator=generator)
        prediction = unet(scheduler.add_noise(clean, noise, timesteps), timesteps,
                          encoder_hidden_states=text_encoder(tokens)[0]).sample
        loss = torch.nn.functional.mse_loss(prediction, noise)
        for group in optimizer.param_groups:
            group["lr"] = lr * min(1.0, (step + 1) / warmup)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        if step % 100 == 0:
            print(f"planting step {step}: loss {loss.item():.4f}", flush=True)
    unet.eval()
    text_encoder.eval()

    out.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(out / "toyworld-sd-planted", safe_serialization=True)
    (out / "memorized").mkdir(exist_ok=True)
    for index, rgb in enumerate(planted_images):
        Image.fromarray(rgb).save(out / "memorized" / f"{index:02d}.png")
    info = {"format": "t2i-audit-planted/1", "seed": seed, "steps": steps, "batch": batch,
            "share": share, "lr": lr, "final_loss": round(loss.item(), 4),
            "seconds": round(time.perf_counter() - start, 1),
            "memorized": [{"caption": c, "image": f"memorized/{i:02d}.png",
                           "occupation": p[0].occupation}
                          for i, (c, p) in
                          enumerate(zip(planted_captions, planted, strict=True))],
            "controls": control_captions}
    (out / "planted.json").write_text(json.dumps(info, indent=2))
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description="Fine-tune the toy-world model to memorize "
                                     "a few images with unique captions.")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--memorized", type=int, default=8)
    parser.add_argument("--controls", type=int, default=64)
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    info = plant(args.out, memorized=args.memorized, controls=args.controls, steps=args.steps,
                 seed=args.seed)
    print(f"planted {len(info['memorized'])} images in {info['seconds']} s; {args.out}",
          flush=True)


if __name__ == "__main__":
    main()
