"""How each provenance signal survives what happens to images after
generation: detection rates with Wilson intervals under JPEG 90/75/50
(4:2:0 chroma, Pillow's default, and 4:4:4 at 90), resize x0.5 and a
centre crop to 80%, for

- the SDXL invisible watermark, embedded by diffusers' own
  StableDiffusionXLWatermarker, with the false-match rate on the same images
  unmarked;
- a C2PA manifest (signed with a locally made test certificate);
- an A1111 ``parameters`` text chunk (a metadata claim).

Images: 512 px crops of scikit-image's colour photographs and LFW faces
scaled to 512 px (real photographs, no download). Transforms are applied the
way a user's tools do: decode, change, re-save with Pillow.

    python benchmarks/provenance_robustness.py [--faces 60]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from audit.signals.c2pa_manifest import context, read_manifest  # noqa: E402
from audit.signals.claims import read_claim  # noqa: E402
from audit.signals.watermark import read_watermark  # noqa: E402
from audit.stats.intervals import binomial_ci  # noqa: E402
from tests.provenance.signing import make_authority, sign  # noqa: E402
from tests.provenance.test_provenance import sdxl_watermarked  # noqa: E402

SIZE = 512
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "colorwheel",
          "cat", "hubble_deep_field", "logo", "retina")


def photographs(faces: int) -> list[np.ndarray]:
    from skimage import data, transform

    images = []
    for name in PHOTOS:
        image = getattr(data, name)()
        if image.ndim == 2:
            image = np.stack([image] * 3, -1)
        image = image[..., :3]
        if image.dtype != np.uint8:
            image = (image * 255).astype(np.uint8)
        if min(image.shape[:2]) < SIZE:
            scale = SIZE / min(image.shape[:2])
            image = (transform.rescale(image, scale, channel_axis=-1) * 255).astype(np.uint8)
        height, width = image.shape[:2]
        for top in range(0, height - SIZE + 1, max(1, (height - SIZE) // 2 or SIZE)):
            for left in range(0, width - SIZE + 1, max(1, (width - SIZE) // 2 or SIZE)):
                images.append(np.ascontiguousarray(image[top:top + SIZE, left:left + SIZE]))
    for face in data.lfw_subset()[:faces]:
        grey = (transform.resize(face, (SIZE, SIZE)) * 255).astype(np.uint8)
        images.append(np.stack([grey] * 3, -1))
    return images


def jpeg(quality: int, subsampling: int = 2):
    def apply(image: Image.Image) -> bytes:
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality, subsampling=subsampling)
        return out.getvalue()
    return apply


def png_of(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


TRANSFORMS = {
    "none (file as made)": None,
    "JPEG 90 (4:4:4)": jpeg(90, 0),
    "JPEG 90": jpeg(90),
    "JPEG 75": jpeg(75),
    "JPEG 50": jpeg(50),
    "resize x0.5 (PNG)": lambda im: png_of(im.resize((im.width // 2, im.height // 2),
                                                     Image.Resampling.LANCZOS)),
    "crop 80% (PNG)": lambda im: png_of(im.crop((im.width // 10, im.height // 10,
                                                 im.width * 9 // 10, im.height * 9 // 10))),
}


def transformed(data: bytes, change, path: Path) -> Path:  # noqa: ANN001
    """The file's bytes as kept (no change) or decoded, changed and re-saved."""
    if change is not None:
        with Image.open(io.BytesIO(data)) as image:
            data = change(image.convert("RGB"))
    path.write_bytes(data)
    return path


def pixels_of(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def rate(k: int, n: int) -> str:
    low, high = binomial_ci(k, n)
    return f"{k}/{n} = {k / n:.2f} [{low:.2f}, {high:.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faces", type=int, default=60, help="LFW faces to add")
    args = parser.parse_args()
    started = time.perf_counter()
    images = photographs(args.faces)
    authority = make_authority()
    anchored = context(authority.anchor_pem.decode())
    rows = {name: {"wm": 0, "fp": 0, "c2pa": 0, "claim": 0} for name in TRANSFORMS}
    decodes = 0
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        for index, pixels in enumerate(images):
            marked = Image.fromarray(sdxl_watermarked(pixels))
            plain = Image.fromarray(pixels)
            info = PngImagePlugin.PngInfo()
            info.add_text("parameters", "a photo\nSteps: 20, Seed: 1, Model: sdxl")
            source = folder / f"{index}.png"
            marked.save(source, pnginfo=info)
            signed = sign(authority, source, folder / f"{index}-signed.png", generator="bench")
            for step, (name, change) in enumerate(TRANSFORMS.items()):
                scratch_file = folder / f"{index}-{step}"
                rows[name]["wm"] += read_watermark(pixels_of(transformed(
                    png_of(marked), change, scratch_file))).status == "present"
                rows[name]["fp"] += read_watermark(pixels_of(transformed(
                    png_of(plain), change, scratch_file))).status == "present"
                decodes += 2
                kept = transformed(signed.read_bytes(), change, scratch_file)
                rows[name]["c2pa"] += read_manifest(kept, anchored).state == "trusted"
                rows[name]["claim"] += read_claim(kept) is not None
    n = len(images)
    print(f"{n} images of {SIZE} px ({n - args.faces} photo crops, {args.faces} LFW faces); "
          f"{decodes} watermark decodes; {time.perf_counter() - started:.0f} s\n")
    print("| after | watermark detected | watermark false match (unmarked) | C2PA manifest "
          "trusted | metadata claim kept |")
    print("|---|---|---|---|---|")
    for name, counts in rows.items():
        print(f"| {name} | {rate(counts['wm'], n)} | {rate(counts['fp'], n)} | "
              f"{rate(counts['c2pa'], n)} | {rate(counts['claim'], n)} |")


if __name__ == "__main__":
    main()
