"""RUN/provenance.parquet: one row per valid image of a run, and the rate of
each signal with its interval.

| column | meaning |
|---|---|
| image_id | as in images.parquet |
| watermark | present, absent or undecodable (SDXL's dwtDct message) |
| watermark_bit_accuracy | bits matching the message / 48 (null: not decoded) |
| c2pa | absent, valid_untrusted, trusted, invalid, remote (not fetched) or unreadable |
| c2pa_claim_generator | the active manifest's claim generator |
| metadata_claim | what the file's metadata says made it (never verified) |
| note | why a signal could not be read |
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

COLUMNS = ["image_id", "watermark", "watermark_bit_accuracy", "c2pa", "c2pa_claim_generator",
           "metadata_claim", "note"]
# rate name -> (column, values counted as having the signal)
RATES = {"watermark_rate": ("watermark", {"present"}),
         "c2pa_rate": ("c2pa", {"valid_untrusted", "trusted"}),
         "c2pa_trusted_rate": ("c2pa", {"trusted"}),
         "c2pa_invalid_rate": ("c2pa", {"invalid"}),
         "metadata_claim_rate": ("metadata_claim", None)}  # None: any claim


def image_row(image_id: str, path: Path, manifest_context: Any) -> dict[str, Any]:
    import numpy as np
    from PIL import Image

    from audit.signals.c2pa_manifest import read_manifest
    from audit.signals.claims import read_claim
    from audit.signals.watermark import UNDECODABLE, WatermarkReading, read_watermark
    from audit.stages.score import MAX_PIXELS

    notes = []
    try:
        with Image.open(path) as image:
            if image.width * image.height > MAX_PIXELS:
                raise ValueError(f"{image.width}x{image.height} is over the pixel cap")
            rgb = np.asarray(image.convert("RGB"))
        mark = read_watermark(rgb)
    except (OSError, ValueError) as exc:
        mark = WatermarkReading(UNDECODABLE, None, f"not decoded: {type(exc).__name__}")
    manifest = read_manifest(path, manifest_context)
    try:
        claim = read_claim(path)
    except (OSError, ValueError) as exc:
        claim, notes = None, [f"metadata not read: {type(exc).__name__}"]
    notes = [n for n in (mark.note, manifest.note, *notes) if n]
    return {"image_id": image_id, "watermark": mark.status,
            "watermark_bit_accuracy": mark.bit_accuracy, "c2pa": manifest.state,
            "c2pa_claim_generator": manifest.claim_generator, "metadata_claim": claim,
            "note": "; ".join(notes) or None}


def provenance_rows(images: list[tuple[str, Path]], *, trust_anchors: str | None = None,
                    progress: Callable[[int], None] | None = None) -> Any:
    import pandas as pd

    from audit.signals.c2pa_manifest import context

    manifest_context = context(trust_anchors)
    rows = []
    for done, (image_id, path) in enumerate(images, 1):
        rows.append(image_row(image_id, path, manifest_context))
        if progress:
            progress(done)
    return pd.DataFrame(rows, columns=COLUMNS)


def rates(table: Any, *, alpha: float = 0.05, method: str = "wilson") -> Any:
    """Each signal's rate among the images checked, with n, k and an interval."""
    import pandas as pd

    from audit.stats.intervals import binomial_ci

    n = len(table)
    out = []
    for name, (column, values) in RATES.items():
        has = table[column].notna() if values is None else table[column].isin(values)
        k = int(has.sum())
        low, high = binomial_ci(k, n, method=method, alpha=alpha)
        out.append({"signal": name, "n": n, "k": k, "rate": k / n if n else float("nan"),
                    "ci_low": low, "ci_high": high, "ci_method": method})
    return pd.DataFrame(out)
