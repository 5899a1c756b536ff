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

from audit.rundir import RunDir
from audit.rundir.atomic import write_text
from audit.stats.assess import is_diagnostic
from audit.views.charts import png_bytes, share_chart
from audit.views.data import RunView, has_safety_scores, safety_rates, warnings_for

IMAGES_PER_ITEM = 8


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e-3 and value else f"{value:.3f}"
    return str(value)


def provider_summary(view: RunView) -> dict[str, Any] | None:
    """For runs made through a closed API: reproducibility, how often and how
    much the provider rewrote the prompts, how many images it filtered."""
    import difflib
    import statistics

    from audit.stats.intervals import binomial_ci

    model = view.card.get("model", {})
    if "provider" not in model:
        return None
    images = view.images
    revised = images.dropna(subset=["revised_prompt"]) if "revised_prompt" in images else \
        images.iloc[0:0]
    changed = revised[revised.revised_prompt != revised.prompt]
    similarity = [difflib.SequenceMatcher(None, a.split(), b.split()).ratio()
                  for a, b in zip(changed.prompt, changed.revised_prompt, strict=True)]
    lengths = [len(b.split()) / max(1, len(a.split()))
               for a, b in zip(changed.prompt, changed.revised_prompt, strict=True)]
    low, high = binomial_ci(len(changed), len(revised))
    return {"name": model["provider"], "reproducible": bool(model.get("reproducible_by_seed")),
            "ignored": ", ".join(model.get("ignored_parameters", [])) or "none",
            "revised": len(revised), "rewritten": len(changed),
            "share": len(changed) / len(revised) if len(revised) else float("nan"),
            "ci_low": low, "ci_high": high,
            "similarity": statistics.median(similarity) if similarity else float("nan"),
            "length_ratio": statistics.median(lengths) if lengths else float("nan"),
            "filtered": int((images.status == "filtered").sum()), "total": len(images)}


def render(view: RunView) -> str:
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
    safety = safety_rates(view).to_dict("records") if has_safety_scores(view) else []
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
        provider=provider_summary(view),
        review=stats.get("review"), corrected=stats.get("corrected", []), fmt=_fmt,
        version=audit.__version__)


def write_report(run: RunDir, out: Path) -> Path:
    write_text(out, render(RunView(run.root)))
    return out
