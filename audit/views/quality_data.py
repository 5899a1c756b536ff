"""What audit quality and the adherence scorer left in a run (quality.json;
stats.json's adherence and conditional tables), gathered once for the
static report and the viewer."""

from __future__ import annotations

from typing import Any

from audit.views.data import RunView

NAMES = {"kid": "KID", "cmmd": "CMMD", "fid_infinity": "FID∞"}


def quality_summary(view: RunView) -> dict[str, Any] | None:
    """None when the run has neither; ``differing``: the conditional rows of
    the prompts and attributes whose on- and off-class images differ (the
    ``adherence:`` test at the stats' alpha)."""
    quality = _quality(view)
    stats = view.stats or {}
    adherence = stats.get("adherence") or []
    if quality is None and not adherence:
        return None
    alpha = (stats.get("settings") or {}).get("alpha", 0.05)
    tests = [c for c in stats.get("comparisons", [])
             if str(c.get("test_id")).startswith("adherence:")]
    differ = {(c["attribute"], c["groups"]): c["p_value"] for c in tests
              if c.get("p_value") is not None and c["p_value"] <= alpha}
    differing = [{**r, "p_value": differ[(r["attribute"], r["group"])]}
                 for r in stats.get("conditional") or []
                 if (r["attribute"], r["group"]) in differ]
    return {"quality": quality, "names": NAMES, "adherence": adherence,
            "tests": len([c for c in tests if c.get("p_value") is not None]),
            "differing": differing, "alpha": alpha}


def _quality(view: RunView) -> dict[str, Any] | None:
    from audit.user_files import read_user_json

    path = view.run.quality_json
    return read_user_json(path, what="quality summary") if path.is_file() else None


def versus_differences(a: RunView, b: RunView) -> tuple[str, str, list[dict[str, Any]]] | None:
    """(first run's name, second's, rows of first minus second) from
    whichever of the two runs' quality.json was made --versus the other."""
    from pathlib import Path

    for first, second in ((a, b), (b, a)):
        versus = (_quality(first) or {}).get("versus")
        if versus and Path(versus["run"]).resolve() == Path(second.path).resolve():
            return first.name, second.name, versus["differences"]
    return None
