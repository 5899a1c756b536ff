"""``audit report``: one self-contained, script-free HTML file.

All text that came from users (prompts, labels, file names) goes through
Jinja2's autoescaping, and a Content-Security-Policy forbids scripts and
remote loads, so a prompt like ``<script>`` shows as text and runs nothing.
"""

from __future__ import annotations

import base64
import math
from pathlib import Path
from typing import Any

from audit.common.energy import NO_GPU
from audit.rundir import RunDir
from audit.rundir.atomic import write_text
from audit.rundir.card import RunCard
from audit.stats.assess import is_diagnostic
from audit.views.charts import png_bytes, share_chart
from audit.views.data import RunView, has_safety_scores, safety_rates, warnings_for
from audit.views.quality_data import quality_summary
from audit.views.release_data import release_summary

IMAGES_PER_ITEM = 8


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e-3 and value else f"{value:.3f}"
    return str(value)


def provider_summary(view: RunView) -> dict[str, Any] | None:
    """For runs made through a closed API: reproducibility, how often and how
    much the provider rewrote the prompts (stats.json's ``rewrites``), how
    many images it filtered."""
    model = view.card.model
    if not view.card.hosted:
        return None
    rewrites = (view.stats or {}).get("rewrites") or {}
    return {"name": model["provider"], "reproducible": bool(model.get("reproducible_by_seed")),
            "ignored": ", ".join(model.get("ignored_parameters", [])) or "none",
            "revised": rewrites.get("n", 0), "rewritten": rewrites.get("k", 0),
            "share": rewrites.get("share"), "ci_low": rewrites.get("ci_low"),
            "ci_high": rewrites.get("ci_high"),
            "similarity": rewrites.get("median_similarity"),
            "length_ratio": rewrites.get("median_length_ratio"),
            "filtered": int((view.images.status == "filtered").sum()),
            "total": len(view.images)}


# World average carbon intensity of electricity generation in 2023, gCO2e per
# kWh (Ember, Global Electricity Review 2024). A default, not this machine's
# grid: pass the local figure (``audit report --grid-intensity``).
GRID_G_PER_KWH = 480.0


def _wh(joules: float | None) -> float | None:
    return None if joules is None else joules / 3600


def energy_summary(card: RunCard, grid: float) -> dict[str, Any] | None:
    """One row per invocation that generated or scored, as run.json recorded
    it (machines and sources may differ between invocations of one run),
    and Wh and gCO2e per image over all of them."""
    rows = []
    for entry in card.history:
        if entry.get("energy"):
            rows.append({"stage": "generate", "at": entry["started"], **entry["energy"]})
    if (card.scored or {}).get("energy"):
        rows.append({"stage": "score", "at": card.scored["at"], **card.scored["energy"]})
    if not rows:
        return None
    images = sum(r["images"] for r in rows if r["stage"] == "generate")
    out = []
    for r in rows:
        gpu, cpu = _wh(r["gpu"]["joules"]), _wh(r["cpu"]["joules"])
        total = (gpu or 0.0) + cpu
        out.append({"stage": r["stage"], "at": r["at"], "images": r["images"],
                    "seconds": r["seconds"], "gpu_wh": gpu,
                    "gpu_source": r["gpu"]["source"] or f"not measured: {r['gpu']['why_not']}",
                    "cpu_wh": cpu, "cpu_source": r["cpu"]["source"], "wh": total,
                    "fused": bool(r.get("includes"))})
    total_wh = sum(r["wh"] for r in out)
    per_image = total_wh / images if images else None
    return {"rows": out, "images": images, "wh": total_wh, "wh_per_image": per_image,
            "g_per_image": per_image * grid / 1000 if per_image is not None else None,
            "grid": grid, "gpu_missing": any(r["gpu_wh"] is None and not r["gpu_source"]
                                             .startswith(f"not measured: {NO_GPU}")
                                             for r in out),
            "estimated": any(r["cpu_source"].startswith("estimate") for r in out)}


def render(view: RunView, *, grid: float = GRID_G_PER_KWH) -> str:
    import jinja2
    import pandas as pd

    import audit

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    stats = view.stats or {}
    proportions = stats.get("proportions", [])
    charts = []
    if proportions:
        frame = pd.DataFrame(proportions)
        for attribute in dict.fromkeys(frame.attribute):
            data = base64.b64encode(png_bytes(share_chart(frame, attribute))).decode()
            charts.append((attribute, data))
    captions = view.captions
    items = []
    valid = view.images[view.images.status == "ok"]
    for _, frame in valid.groupby("item_id", sort=False):
        shown = []
        for row in frame.sort_values("seed").head(IMAGES_PER_ITEM).itertuples():
            thumb = view.thumbnail(row.image_id)
            shown.append({"seed": row.seed, "caption": captions.get(row.image_id, ""),
                          "data": base64.b64encode(thumb.read_bytes()).decode()})
        items.append({"prompt": frame.prompt.iloc[0], "images": shown, "total": len(frame)})
    statuses = view.images.status.value_counts().sort_index().items()
    comparisons = stats.get("comparisons", [])
    rates = safety_rates(view, view.card.unsafe_threshold) if has_safety_scores(view) else None
    safety = rates.to_dict("records") if rates is not None else []
    return env.get_template("template.html.j2").render(
        card=view.card, notes=warnings_for(view), statuses=list(statuses),
        funnel=stats.get("funnel", []), charts=charts, proportions=proportions, items=items,
        safety=safety, agreement=stats.get("agreement", []),
        abstention=stats.get("abstention", []), bounds=stats.get("share_bounds", []),
        abstention_tests=[c for c in stats.get("comparisons", [])
                          if str(c.get("test_id")).startswith("abstention:")],
        findings=[c for c in comparisons if str(c.get("test_id")).startswith("paired:")],
        diagnostics=[c for c in comparisons if is_diagnostic(str(c.get("test_id")))],
        pooled=stats.get("pooled", []), multiplicity=stats.get("multiplicity", {}),
        provider=provider_summary(view), energy=energy_summary(view.card, grid),
        review=stats.get("review"), corrected=stats.get("corrected", []),
        powered=stats.get("prediction_powered", []), fmt=_fmt,
        truth=view.ground_truth, release=release_summary(view),
        quality=quality_summary(view),
        b64=lambda data: base64.b64encode(data).decode(),
        version=audit.__version__)


def write_report(run: RunDir, out: Path, *, grid: float = GRID_G_PER_KWH) -> Path:
    write_text(out, render(RunView(run.root), grid=grid))
    return out
