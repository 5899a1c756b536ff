"""Adjust every p-value of one stats.json together (statsmodels)."""

from __future__ import annotations

import numpy as np

from audit.errors import UsageError

METHODS = {"bh": "fdr_bh", "holm": "holm", "none": None}


def adjust(p_values: list[float] | np.ndarray, *, method: str = "bh") -> np.ndarray:
    """Adjusted p-values; NaN (no test) stays NaN and does not count as a test."""
    from statsmodels.stats.multitest import multipletests

    if method not in METHODS:
        raise UsageError(f"unknown correction '{method}' (known: {', '.join(METHODS)})")
    p = np.asarray(p_values, dtype=float)
    out = np.full_like(p, np.nan)
    valid = ~np.isnan(p)
    if valid.any():
        out[valid] = p[valid] if METHODS[method] is None else multipletests(
            p[valid], method=METHODS[method])[1]
    return out
