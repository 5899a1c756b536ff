"""Score stage: decoded images -> the score tables (decisions, measurements,
input statuses), for a run or for any folder of images. Never regenerates;
image embeddings are cached in the run, so changing prompts or thresholds
re-scores without re-encoding."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from audit.api.scorer import ScoreEntry, ScoreInput, Scorer, ScoreRows, ScorerPool
from audit.common.progress import Progress
from audit.rundir.layout import RunDir, ScorePaths
from audit.rundir.runcard import record_scoring
from audit.rundir.score_tables import write_tables

if TYPE_CHECKING:
    from audit.stages.fused import FusedScoring

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
BATCH = 256  # images decoded per step; one CLIP batch on a GPU
MAX_PIXELS = 40_000_000  # a generated image is a few megapixels; more is refused unread


@dataclass(frozen=True)
class Loaded:
    image_id: str
    item: ScoreInput | None
    status: str  # ok | blank | error
    error: str | None


TORCH_DECODES = {"PNG", "JPEG", "GIF", "WEBP"}  # torchvision.io decodes these natively


def decode_chw(data: bytes) -> Any:
    """A (3, H, W) uint8 RGB tensor. Pillow reads the header (its
    decompression-bomb check applies); torchvision decodes the formats it
    knows, Pillow the rest."""
    import io

    import torch
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:  # its message names a memory address
        raise ValueError("not an image format Pillow can identify") from None
    with image:
        width, height = image.size
        if width * height > MAX_PIXELS:  # from the header, before any decoding
            raise ValueError(f"image is {width}x{height} pixels; more than {MAX_PIXELS} "
                             "are not decoded")
        if image.format not in TORCH_DECODES:
            return torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1).contiguous()
    from torchvision.io import ImageReadMode, decode_image

    pixels = decode_image(torch.frombuffer(bytearray(data), dtype=torch.uint8),
                          mode=ImageReadMode.RGB)
    return pixels[0] if pixels.ndim == 4 else pixels  # animated: the first frame


def screen(image_id: str, pixels: Any, key: str) -> Loaded:
    """Decoded (H, W, 3) uint8 RGB pixels -> what is scored. Constant images
    (within one 8-bit level, as the generator's check) are 'blank' and not
    scored. The one gate for both routes in: a PNG read back, and the pixels
    generation hands over before writing that PNG (fused scoring). numpy, not
    torch: a torch CPU reduction in each of many decoder threads would start
    its own thread pool."""
    if int(pixels.max()) - int(pixels.min()) <= 1:
        return Loaded(image_id, None, "blank", None)
    return Loaded(image_id, ScoreInput(image_id, pixels, key), "ok", None)


def load_image(image_id: str, path: Path, key: str | None = None, pin: bool = False
               ) -> Loaded:
    """Any decoder error is this image's status, not the run's. ``pin`` puts
    the pixels in page-locked memory, so the upload to a GPU is one
    asynchronous copy instead of a staged one on the scoring thread."""
    try:
        data = path.read_bytes()
        pixels = decode_chw(data)
    except Exception as exc:
        return Loaded(image_id, None, "error", f"{type(exc).__name__}: {exc}")
    if pin:
        pixels = pixels.pin_memory()
    return screen(image_id, pixels.permute(1, 2, 0).numpy(),
                  key or hashlib.sha256(data).hexdigest())


def decode_threads() -> int:
    return min(32, os.cpu_count() or 1)


def _batches(entries: list[tuple[str, Path, str | None]], threads: int | None = None,
             pin: bool = False, ahead: int = 2) -> Iterator[list[Loaded]]:
    """Decoded batches, in order; the next ``ahead`` batches decode while one
    is scored. Threads suffice: the decoders release the GIL (worker
    processes measured no faster on 16 cores)."""
    with ThreadPoolExecutor(threads or decode_threads()) as pool:
        def submit(start: int) -> list[Any]:
            return [pool.submit(load_image, *e, pin) for e in entries[start:start + BATCH]]

        pending = [submit(start) for start in range(0, ahead * BATCH, BATCH)]
        for start in range(0, len(entries), BATCH):
            current = pending.pop(0)
            pending.append(submit(start + ahead * BATCH))
            yield [f.result() for f in current]


def on_gpu(scorers: Sequence[Scorer]) -> bool:
    """Whether a scorer computes on a CUDA device (then decoded pixels are pinned)."""
    return any(str(s.device).startswith("cuda") for s in scorers)


Rows = ScoreRows


def empty_rows() -> Rows:
    return {"decisions": [], "measurements": [], "inputs": []}


def score_batch(batch: Sequence[Loaded], scorers: Sequence[Scorer], rows: Rows) -> None:
    """One batch's rows of the three score tables, appended to ``rows``.
    Every image gets an ``inputs`` row (ok, blank, or error with the
    reason): an unreadable image is recorded, and the run goes on."""
    good = [b.item for b in batch if b.status == "ok" and b.item is not None]
    rows["inputs"] += [{"image_id": b.image_id, "status": b.status, "error": b.error}
                       for b in batch]
    for scorer in scorers if good else ():
        scored = scorer.score(good)
        rows["decisions"] += [{"scorer": scorer.name, **vars(d)} for d in scored.decisions]
        declared = {(o.attribute, o.quantity): o for o in scorer.outputs()}
        for m in scored.measurements:
            output = declared.get((m.attribute, m.quantity))
            if output is None:  # a scorer bug: its outputs() must declare every quantity
                raise AssertionError(f"scorer {scorer.name} wrote undeclared quantity "
                                     f"{m.attribute}/{m.quantity}")
            rows["measurements"].append({"scorer": scorer.name, **vars(m),
                                         "unit": output.unit, "direction": output.direction})


def in_order(rows: Rows, image_ids: Sequence[str], scorer_names: Sequence[str]) -> Rows:
    """Rows sorted by image (in ``image_ids`` order, unknown ones last) and
    then scorer, each scorer's own row order kept: the tables do not depend
    on how images were batched, so fused and after-the-fact scoring write
    the same rows in the same order."""
    position = {image_id: i for i, image_id in enumerate(image_ids)}
    rank = {name: i for i, name in enumerate(scorer_names)}
    last = len(position)

    def key(row: dict[str, Any]) -> tuple[int, int]:
        return position.get(row["image_id"], last), rank.get(row.get("scorer", ""), 0)

    return {table: sorted(part, key=key) for table, part in rows.items()}


def score_entries(entries: list[ScoreEntry], scorers: Sequence[Scorer],
                  progress: Progress | None, *, rows: Rows | None = None) -> Rows:
    """Decode and score ``entries`` into ``rows`` in this process (a Ray
    scoring actor calls this too)."""
    rows = rows if rows is not None else empty_rows()
    if progress and entries:  # nothing left to decode (all scored while generating): no bar
        progress.start(len(entries), 0)
    for batch in _batches(entries, pin=on_gpu(scorers)):
        score_batch(batch, scorers, rows)
        if progress:
            progress.advance(len(batch))
    return rows


def _statuses(rows: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
    statuses: dict[str, int] = {}
    for row in rows["inputs"]:
        statuses[row["status"]] = statuses.get(row["status"], 0) + 1
    return statuses


def _summary(rows: dict[str, list[dict[str, Any]]], images: int) -> dict[str, Any]:
    return {"images": images, "decisions": len(rows["decisions"]),
            "measurements": len(rows["measurements"]), "statuses": _statuses(rows)}


def run_score(run: RunDir, scorers: Sequence[Scorer] | ScorerPool, *,
              progress: Progress | None = None, options: dict[str, Any] | None = None,
              fused: FusedScoring | None = None) -> dict[str, Any]:
    """``scorers``: built scorers, or a pool that scores elsewhere (Ray);
    the tables are written here either way. ``fused``: what was scored while
    generating; those images are not decoded again, every other one is."""
    from audit.common.energy import EnergyMeter, per_image

    images = run.read_images()
    valid = images[images.status == "ok"]
    entries = [(r.image_id, run.image_file(r.path), r.sha256) for r in valid.itertuples()]
    extra: dict[str, Any] = {}
    pool = isinstance(scorers, ScorerPool)
    device = "remote" if pool else next(
        (str(s.device) for s in scorers if str(s.device).startswith("cuda")), "cpu")
    with EnergyMeter(device) as meter:
        if isinstance(scorers, ScorerPool):
            rows, cards = scorers.score_entries(entries, progress), scorers.cards()
        else:
            rows, done = fused.take(entries) if fused is not None else (empty_rows(), set())
            rest = [e for e in entries if e[0] not in done]
            rows = score_entries(rest, scorers, progress, rows=rows)
            cards = [s.card() for s in scorers]
            if fused is not None:
                extra["fused"] = {"while_generating": len(done), "from_png": len(rest)}
    run.write_scores(in_order(rows, [e[0] for e in entries], [c["name"] for c in cards]))
    energy = per_image(meter.result, len(entries) - extra.get("fused", {}).get(
        "while_generating", 0))
    return record_scoring(run.root, scorers=cards,
                          summary={**_summary(rows, len(entries)), "options": options or {},
                                   **extra, "energy": energy})


def folder_images(folder: Path) -> tuple[list[tuple[str, Path, None]], list[tuple[str, str]]]:
    """Image files under ``folder`` (symbolic links to folders not followed),
    and the ones refused unread: links out of the folder, FIFOs, devices."""
    root = folder.resolve()
    entries, refused = [], []
    for base, _, names in sorted(os.walk(folder, followlinks=False)):
        for name in sorted(names):
            path = Path(base) / name
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            image_id = path.relative_to(folder).as_posix()
            if path.is_symlink() and not path.resolve().is_relative_to(root):
                refused.append((image_id, "symbolic link out of the folder; not read"))
            elif not path.is_file():
                refused.append((image_id, "not a regular file; not read"))
            else:
                entries.append((image_id, path, None))
    return entries, refused


def score_folder(folder: Path, out: ScorePaths, scorers: Sequence[Scorer], *,
                 progress: Progress | None = None) -> dict[str, Any]:
    """Any folder of images; image_id is the path relative to the folder."""
    entries, refused = folder_images(folder)
    rows = score_entries(entries, scorers, progress)
    rows["inputs"] += [{"image_id": i, "status": "error", "error": why} for i, why in refused]
    write_tables(in_order(rows, [e[0] for e in entries], [s.name for s in scorers]),
                 out.as_dict())
    return _summary(rows, len(entries))
