"""A suite from the command line (``--prompt``, ``--template`` with
``--slot``): written into the run directory as ``suite.yaml``, so the run
records exactly what was asked and resumes like any other."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from audit.errors import UsageError
from audit.suites.expand import placeholders, slug
from audit.suites.load import DEFAULT_GENERATION

ATTRIBUTES = ["person_present", "gender_presentation", "age_group", "skin_tone_group",
              "monk_tone"]
DEFAULT_N = 10


def adhoc_suite(*, prompts: list[str], templates: list[str], slots: dict[str, list[str]],
                negative_prompt: str | None, n: int | None, seed: int | None,
                defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    """The suite's data; its name carries a hash of the prompts, so two
    different quick runs do not share a default run directory. ``defaults``
    are the model's (``Generator.suite_defaults``): its generation settings,
    attributes, reference and scorer options."""
    defaults = defaults or {}
    entries = []
    for prompt in prompts:
        if placeholders(prompt):
            raise UsageError(f"--prompt '{prompt[:80]}' contains a {{slot}}; use --template "
                             "with --slot for templates")
        entries.append(prompt)
    for template in templates:
        missing = [name for name in placeholders(template) if name not in slots]
        if missing:
            raise UsageError(f"--template '{template[:80]}' needs --slot "
                             f"{missing[0]}=VALUE,VALUE")
        entries.append(template)
    unused = sorted(set(slots) - {p for t in templates for p in placeholders(t)})
    if unused:
        raise UsageError(f"--slot {unused[0]} is used by no --template")
    ids: list[str] = []
    for text in entries:
        base = slug(text.replace("{", "").replace("}", "").replace("|a", ""))[:40].strip("-")
        candidate, k = base or "prompt", 1
        while candidate in ids:
            k += 1
            candidate = f"{base}-{k}"
        ids.append(candidate)
    data: dict[str, Any] = {
        "version": "1.0.0",
        "description": "a quick run from the command line",
        "images_per_item": n or DEFAULT_N,
        "seed": 0 if seed is None else seed,
        "negative_prompt": negative_prompt or "",
        # --steps, --size, ... override it
        "generation": {**DEFAULT_GENERATION, **defaults.get("generation", {})},
        "attributes": list(defaults.get("attributes", ATTRIBUTES)),
        "templates": [{"id": i, "text": t} for i, t in zip(ids, entries, strict=True)],
    }
    if slots:
        data["slots"] = {name: list(values) for name, values in slots.items()}
    if defaults.get("reference"):
        data["reference"] = defaults["reference"]
    elif "occupation" in slots:  # occupations have a bundled table; other attributes parity
        data["reference"] = ["bls-cps-2025", "uniform"]
    if defaults.get("scorer_options"):
        data["scorer_options"] = {k: dict(v) for k, v in defaults["scorer_options"].items()}
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:8]
    return {"name": f"adhoc-{digest}", **data}
