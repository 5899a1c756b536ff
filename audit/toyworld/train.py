"""Train the toy world's models with the project's own code: a tiny CLIP in
open_clip format and a tiny Stable Diffusion pipeline (AutoencoderKL,
UNet2DConditionModel, CLIPTextModel, a tokenizer from open_clip's shipped BPE
vocabulary) saved with save_pretrained, so audits load it through exactly the
code path real models take.

    python -m audit.toyworld.train --device cuda --out weights/   # minutes on an H100
    python -m audit.toyworld.train --device cpu --preset cpu      # within 60 min on 2 cores

Seeded; the world card's sha256 and the training settings go into
``training.json`` beside the weights.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from audit.paths import package_data_dir
from audit.toyworld.world import CARD, Person, card, render, sample

CLIP_CONFIG = package_data_dir() / "clip" / "toyworld-clip.json"
STEPS: dict[str, int] = {}  # steps each phase actually took, for training.json


@dataclass
class Preset:
    images_per_occupation: int
    clip_steps: int
    clip_batch: int
    vae_steps: int
    vae_batch: int
    unet_steps: int
    unet_batch: int
    seconds: tuple[float, float, float]  # wall-clock cap per phase (clip, vae, unet)
    clip_lr: float = 1e-3
    unet_lr: float = 4e-4


PRESETS = {
    "gpu": Preset(3000, 3000, 512, 3000, 256, 30000, 256, (60, 60, 240)),
    # Chosen by training candidates with these step counts on a GPU (see the
    # README): batch 64 with higher learning rates learns the text
    # conditioning in the steps 2 cores afford; the time caps bound each phase.
    "cpu": Preset(600, 2900, 64, 1200, 16, 3100, 64, (600, 600, 2100),
                  clip_lr=2e-3, unet_lr=1e-3),
    "smoke": Preset(20, 3, 8, 3, 4, 3, 4, (60, 60, 60)),
}


class Schedule:
    """Warm-up then cosine decay, driven by whichever runs out first: steps or
    the phase's seconds. The steps actually taken are recorded, so a rerun with
    them as the step count repeats the same schedule."""

    def __init__(self, optimizer: Any, lr: float, steps: int, seconds: float) -> None:
        self.optimizer, self.lr, self.steps, self.seconds = optimizer, lr, steps, seconds
        self.start = time.perf_counter()
        self.step_count = 0

    def progress(self) -> float:
        return max(self.step_count / self.steps,
                   (time.perf_counter() - self.start) / self.seconds)

    def running(self) -> bool:
        return self.progress() < 1.0

    def step(self) -> None:
        self.step_count += 1
        fraction = min(1.0, self.progress())
        warm = min(1.0, self.step_count / max(1, self.steps // 20))
        lr = self.lr * warm * 0.5 * (1 + np.cos(np.pi * fraction))
        for group in self.optimizer.param_groups:
            group["lr"] = lr


def fit(name: str, schedule: Schedule, loss_of: Any, *, size: int, batch: int,
        generator: torch.Generator, device: str, clip_norm: float | None = None) -> None:
    """The shared training loop: draw a batch of indices, step, log, record
    the steps taken. ``loss_of(index)`` returns the batch's loss."""
    optimizer = schedule.optimizer
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    loss = torch.tensor(float("nan"))
    while schedule.running():
        step = schedule.step_count
        index = torch.randint(0, size, (batch,), generator=generator).to(device)
        loss = loss_of(index)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(parameters, clip_norm)
        optimizer.step()
        schedule.step()
        if step % 500 == 0:
            print(f"{name} step {step}: loss {loss.item():.4f}", flush=True)
    print(f"{name}: {schedule.step_count} steps, final loss {loss.item():.4f}", flush=True)
    STEPS[name] = schedule.step_count


def clip_caption(person: Person, rng: np.random.Generator) -> str:
    """Attribute-rich captions in varied order, so single-attribute zero-shot
    prompts ("a photo of a person with long hair") work."""
    parts = [f"with {'long' if person.presentation == 'A' else 'short'} hair",
             f"with {person.tone_group} skin"]
    rng.shuffle(parts)
    keep = [p for p in parts if rng.random() < 0.8]
    subject = person.occupation if rng.random() < 0.7 else "person"
    age = person.age if rng.random() < 0.8 else ""
    head = " ".join(w for w in (age, subject) if w)
    article = "an" if head[0] in "aeiou" else "a"
    return " ".join([f"a photo of {article} {head}", *keep])


def sd_caption(person: Person, rng: np.random.Generator) -> str:
    """Short captions, occasionally with one attribute word, as web data has."""
    words = [person.occupation]
    roll = rng.random()
    if roll < 0.1:
        words.insert(0, person.age)
    elif roll < 0.2:
        words.append("with long hair" if person.presentation == "A" else "with short hair")
    elif roll < 0.3:
        words.append(f"with {person.tone_group} skin")
    text = " ".join(words)
    return f"a photo of {'an' if text[0] in 'aeiou' else 'a'} {text}"


def empty_scene(occupation: str, rng: np.random.Generator) -> np.ndarray:
    """The occupation's background without a person: negatives for 'person present'."""
    spec = card()["occupations"][occupation]
    colour = np.clip(np.array(spec["background"]) + rng.integers(-20, 21), 0, 255)
    return np.broadcast_to(colour.astype(np.uint8), (64, 64, 3)).copy()


def make_data(per_occupation: int, seed: int, *, images: bool = True) -> dict[str, Any]:
    """The training set; ``images=False`` replays the same draws without
    rendering, to count the training data's true shares quickly."""
    rng = np.random.default_rng(seed)
    pictures, people, clip_text, sd_text = [], [], [], []
    for occupation in card()["occupations"]:
        for _ in range(per_occupation):
            person = sample(occupation, rng)
            if images:
                pictures.append(np.asarray(render(person)))
            people.append(person)
            clip_text.append(clip_caption(person, rng))
            sd_text.append(sd_caption(person, rng))
        for _ in range(max(1, per_occupation // 20)):
            scene = empty_scene(occupation, rng)
            if images:
                pictures.append(scene)
            people.append(None)
            clip_text.append("a photo of an empty background with no person")
            sd_text.append(None)
    return {"images": np.stack(pictures) if images else None, "people": people,
            "clip_text": clip_text, "sd_text": sd_text}


def to_tensor(images: np.ndarray, device: str) -> torch.Tensor:
    return torch.from_numpy(images).to(device).permute(0, 3, 1, 2).float().div(255)


def train_clip(data: dict[str, Any], preset: Preset, device: str, seed: int) -> Any:
    import open_clip
    from open_clip.loss import ClipLoss

    open_clip.add_model_config(CLIP_CONFIG)
    torch.manual_seed(seed)
    model, _, preprocess = open_clip.create_model_and_transforms("toyworld-clip")
    model = model.to(device).train()
    tokenizer = open_clip.get_tokenizer("toyworld-clip")
    normalize = preprocess.transforms[-1]
    mean = torch.tensor(normalize.mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(normalize.std, device=device).view(1, 3, 1, 1)
    images = to_tensor(data["images"], device)
    tokens = tokenizer(data["clip_text"]).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=preset.clip_lr, weight_decay=0.1)
    schedule = Schedule(optimizer, preset.clip_lr, preset.clip_steps, preset.seconds[0])
    loss_fn = ClipLoss()

    def loss_of(index: torch.Tensor) -> torch.Tensor:
        return loss_fn(*model((images[index] - mean) / std, tokens[index]))

    fit("clip", schedule, loss_of, size=len(images), batch=preset.clip_batch,
        generator=torch.Generator(device="cpu").manual_seed(seed), device=device)
    return model.eval()


def data_shares(per_occupation: int, seed: int) -> dict[tuple[str, str, str], float]:
    """(occupation, attribute, category) -> share in the training data."""
    people = [p for p in make_data(per_occupation, seed, images=False)["people"] if p]
    shares: dict[tuple[str, str, str], float] = {}
    for occupation in card()["occupations"]:
        mine = [p for p in people if p.occupation == occupation]
        for attribute, value in (("presentation", lambda p: p.presentation),
                                 ("tone_group", lambda p: p.tone_group),
                                 ("age_group", lambda p: p.age)):
            for category in {value(p) for p in people}:
                hits = sum(value(p) == category for p in mine)
                shares[(occupation, attribute, category)] = hits / len(mine)
    return shares


def train_vae(images: torch.Tensor, preset: Preset, device: str, seed: int) -> Any:
    from diffusers import AutoencoderKL

    torch.manual_seed(seed)
    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, sample_size=64,
                        block_out_channels=(32, 64, 64), layers_per_block=1,
                        down_block_types=("DownEncoderBlock2D",) * 3,
                        up_block_types=("UpDecoderBlock2D",) * 3, norm_num_groups=16,
                        scaling_factor=1.0).to(device).train()
    optimizer = torch.optim.AdamW(vae.parameters(), lr=1e-3)
    schedule = Schedule(optimizer, 1e-3, preset.vae_steps, preset.seconds[1])

    def loss_of(index: torch.Tensor) -> torch.Tensor:
        batch = images[index] * 2 - 1
        posterior = vae.encode(batch).latent_dist
        reconstruction = vae.decode(posterior.sample()).sample
        return (reconstruction - batch).abs().mean() + 1e-6 * posterior.kl().mean()

    fit("vae", schedule, loss_of, size=len(images), batch=preset.vae_batch,
        generator=torch.Generator(device="cpu").manual_seed(seed), device=device)
    vae.eval()
    with torch.no_grad():  # unit-variance latents make the diffusion schedule fit
        sample_latents = vae.encode(images[:512] * 2 - 1).latent_dist.mode()
    vae.register_to_config(scaling_factor=float(1 / sample_latents.std()))
    return vae


def train_unet(data: dict[str, Any], vae: Any, preset: Preset, device: str, seed: int
               ) -> tuple[Any, Any, Any]:
    import tempfile

    from diffusers import DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from audit.generators.tokenizer import clip_tokenizer

    keep = [i for i, t in enumerate(data["sd_text"]) if t is not None]
    images = to_tensor(data["images"][keep], device) * 2 - 1
    texts = [data["sd_text"][i] for i in keep]
    with tempfile.TemporaryDirectory(prefix="toyworld-tokenizer-") as scratch:
        tokenizer = clip_tokenizer(Path(scratch))
    torch.manual_seed(seed)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=49408, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, max_position_embeddings=77, projection_dim=64,
        bos_token_id=49406, eos_token_id=49407, pad_token_id=49407)).to(device)
    unet = UNet2DConditionModel(
        sample_size=16, in_channels=4, out_channels=4, layers_per_block=1,
        block_out_channels=(32, 64, 128), cross_attention_dim=64, attention_head_dim=8,
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        norm_num_groups=16).to(device)
    scheduler = DDPMScheduler(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012,
                              beta_schedule="scaled_linear")
    with torch.no_grad():
        latents = torch.cat([vae.encode(images[i:i + 256]).latent_dist.mode()
                             for i in range(0, len(images), 256)]) * vae.config.scaling_factor
        ids = tokenizer(texts, padding="max_length", max_length=77, truncation=True,
                        return_tensors="pt").input_ids.to(device)
        empty = tokenizer([""], padding="max_length", max_length=77,
                          return_tensors="pt").input_ids.to(device)
    parameters = list(unet.parameters()) + list(text_encoder.parameters())
    optimizer = torch.optim.AdamW(parameters, lr=preset.unet_lr, weight_decay=0.01)
    schedule = Schedule(optimizer, preset.unet_lr, preset.unet_steps, preset.seconds[2])
    generator = torch.Generator(device="cpu").manual_seed(seed)
    unet.train()
    text_encoder.train()

    def loss_of(index: torch.Tensor) -> torch.Tensor:
        clean = latents[index]
        noise = torch.randn(clean.shape, generator=generator).to(device)
        timesteps = torch.randint(0, 1000, (len(index),), generator=generator).to(device)
        noisy = scheduler.add_noise(clean, noise, timesteps)
        tokens = ids[index].clone()
        drop = torch.rand(len(index), generator=generator).to(device) < 0.1  # for CFG
        tokens[drop] = empty
        hidden = text_encoder(tokens)[0]
        prediction = unet(noisy, timesteps, encoder_hidden_states=hidden).sample
        return torch.nn.functional.mse_loss(prediction, noise)

    fit("unet", schedule, loss_of, size=len(latents), batch=preset.unet_batch,
        generator=generator, device=device, clip_norm=1.0)
    return unet.eval(), text_encoder.eval(), tokenizer


def save(out: Path, clip: Any, vae: Any, unet: Any, text_encoder: Any, tokenizer: Any,
         info: dict[str, Any]) -> None:
    from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(torch.float16).contiguous().cpu()
             for k, v in clip.state_dict().items()}
    save_file(state, str(out / "toyworld-clip.safetensors"))
    scheduler = EulerDiscreteScheduler(num_train_timesteps=1000, beta_start=0.00085,
                                       beta_end=0.012, beta_schedule="scaled_linear",
                                       timestep_spacing="trailing", prediction_type="epsilon",
                                       steps_offset=1)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
                                   unet=unet, scheduler=scheduler, safety_checker=None,
                                   feature_extractor=None, requires_safety_checker=False)
    pipe.to("cpu", torch.float16).save_pretrained(out / "toyworld-sd", safe_serialization=True)
    (out / "training.json").write_text(json.dumps(info, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description="Train the toy world's CLIP and SD models.")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--preset", choices=list(PRESETS), default=None)
    parser.add_argument("--out", type=Path, default=Path("toyworld-weights"))
    parser.add_argument("--seed", type=int, default=card()["seed"])
    args = parser.parse_args()
    preset = PRESETS[args.preset or ("gpu" if args.device.startswith("cuda") else "cpu")]
    torch.set_num_threads(max(1, torch.get_num_threads()))
    start = time.perf_counter()
    data = make_data(preset.images_per_occupation, args.seed)
    print(f"{len(data['images'])} images rendered in {time.perf_counter() - start:.0f} s",
          flush=True)
    clip = train_clip(data, preset, args.device, args.seed)
    vae = train_vae(to_tensor(data["images"], args.device), preset, args.device, args.seed)
    unet, text_encoder, tokenizer = train_unet(data, vae, preset, args.device, args.seed)
    info = {"preset": asdict(preset), "steps_taken": dict(STEPS), "seed": args.seed,
            "device": args.device,
            "device_name": torch.cuda.get_device_name() if args.device.startswith("cuda")
            else "cpu", "seconds": round(time.perf_counter() - start, 1),
            "world_card_sha256": hashlib.sha256(CARD.read_bytes()).hexdigest(),
            "torch": torch.__version__}
    save(args.out, clip, vae, unet, text_encoder, tokenizer, info)
    print(f"saved to {args.out} in {info['seconds']} s", flush=True)


if __name__ == "__main__":
    main()
