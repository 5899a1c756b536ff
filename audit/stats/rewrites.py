"""How much a closed model's provider rewrote the prompts before drawing
them (DALL-E 3 rewrites every prompt): the images show the rewritten text,
so a reader of the shares needs to know how far it moved."""

from __future__ import annotations

import difflib
import statistics
from typing import Any

import pandas as pd

from audit.stats.intervals import binomial_ci


def prompt_rewrites(images: pd.DataFrame, *, ci_method: str = "wilson",
                    alpha: float = 0.05) -> dict[str, Any] | None:
    """Among images the provider returned a revised prompt for: how many
    differ from the prompt sent (share with interval), the median word-level
    similarity and length ratio of those that differ. None when the run has
    no revised prompts (every backend but a rewriting API)."""
    if "revised_prompt" not in images:
        return None
    revised = images.dropna(subset=["revised_prompt"])
    if revised.empty:
        return None
    changed = revised[revised.revised_prompt != revised.prompt]
    similarity = [difflib.SequenceMatcher(None, a.split(), b.split()).ratio()
                  for a, b in zip(changed.prompt, changed.revised_prompt, strict=True)]
    lengths = [len(b.split()) / max(1, len(a.split()))
               for a, b in zip(changed.prompt, changed.revised_prompt, strict=True)]
    low, high = binomial_ci(len(changed), len(revised), method=ci_method, alpha=alpha)
    return {"n": len(revised), "k": len(changed), "share": len(changed) / len(revised),
            "ci_low": low, "ci_high": high, "ci_method": ci_method,
            "median_similarity": statistics.median(similarity) if similarity else None,
            "median_length_ratio": statistics.median(lengths) if lengths else None}
