"""What the release commands left in a run (gate.json, provenance.parquet,
memorization.json and .parquet, prompt_memorization.json), gathered once
for the static report and the viewer."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from audit.views.data import RunView, padded

PAIRS_SHOWN = 12
PROMPTS_SHOWN = 10


def _json(path: Path, what: str) -> dict[str, Any] | None:
    from audit.user_files import read_user_json

    return read_user_json(path, what=what) if path.is_file() else None


def reference_thumbnail(folder: str, name: str, size: int = 160) -> bytes | None:
    """A JPEG thumbnail of a reference image named in memorization.json,
    read only when it is still a regular file inside that folder."""
    from PIL import Image

    from audit.stages.score import MAX_PIXELS

    root = Path(folder).resolve()
    path = root / name
    try:
        if path.is_symlink() or not path.is_file() or root not in path.resolve().parents:
            return None
        with Image.open(path) as image:
            if image.width * image.height > MAX_PIXELS:
                return None
            out = io.BytesIO()
            padded(image, size).save(out, format="JPEG", quality=85)
            return out.getvalue()
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def _pairs(view: RunView, summary: dict[str, Any], table: Any) -> list[dict[str, Any]]:
    """Each matched image beside the reference image it matches (the
    closest by the method that matched, CLIP first)."""
    out = []
    for row in table[table.matched].head(PAIRS_SHOWN).itertuples():
        method = "clip" if getattr(row, "clip_match", False) else "phash"
        reference = getattr(row, f"{method}_reference")
        closeness = (f"cosine {row.clip_similarity:.3f}" if method == "clip"
                     else f"pHash distance {int(row.phash_distance)}")
        thumb = view.thumbnail(row.image_id)
        out.append({"image_id": row.image_id, "reference": reference, "method": method,
                    "closeness": closeness,
                    "image": thumb.read_bytes() if thumb is not None else None,
                    "reference_image": reference_thumbnail(summary["against"], reference)})
    return out


def release_summary(view: RunView) -> dict[str, Any] | None:
    """None when no release command has run on this run."""
    from audit.signals.table import rates

    run = view.run
    gate = _json(run.root / "gate.json", "gate summary")
    signals = run.read_table(run.provenance_table, made_by=f"audit provenance {run.root}")
    found = _json(run.memorization_json, "memorization summary")
    prompts = _json(run.prompt_memorization_json, "prompt memorization scores")
    if gate is None and signals is None and found is None and prompts is None:
        return None
    memorization = None
    if found is not None:
        table = run.read_table(run.memorization_table,
                               made_by=f"audit memorization {run.root} --against DIR")
        memorization = {**found, "pairs": _pairs(view, found, table) if table is not None
                        else []}
    scored = None
    if prompts is not None:
        ranked = sorted(prompts["prompts"], key=lambda p: -p["score"])
        scored = {**prompts, "top": ranked[:PROMPTS_SHOWN],
                  "flagged": sum(bool(p["flagged"]) for p in ranked), "total": len(ranked)}
    return {"gate": gate,
            "provenance": rates(signals).to_dict("records") if signals is not None else None,
            "memorization": memorization, "prompts": scored}
