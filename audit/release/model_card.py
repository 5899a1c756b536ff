"""A Hugging Face model card from one or more audited runs of one model.

Written through huggingface_hub's ``ModelCard``/``ModelCardData`` (offline),
so the metadata is what the Hub parses: every share with its interval as a
``model-index`` result, the unsafe rate, and the audit's own energy as
``co2_eq_emissions``. The body has the card template's sections a reader
looks for ("Bias, Risks, and Limitations", "Evaluation", "Environmental
Impact"); user text (prompts, suite names) is escaped, since the Hub
renders Markdown and HTML.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from audit.rundir.card import RunCard

TASK = "text-to-image"
# inline Markdown (md() never starts a line): emphasis, code, links, tables, headings
_MARKDOWN = re.compile(r"([\\`*_\[\]|~#])")


def md(text: object) -> str:
    """User text as literal Markdown: HTML characters as entities, Markdown
    punctuation escaped, line breaks as spaces."""
    plain = " ".join(str(text).split())
    plain = plain.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN.sub(r"\\\1", plain)


def _num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


@dataclass(frozen=True)
class AuditedRun:
    """What the card needs of one run: its card, its fresh stats.json and
    its energy summary (None when nothing was metered)."""

    path: str
    card: RunCard
    stats: dict[str, Any]
    energy: dict[str, Any] | None
    unsafe_threshold: float
    provenance: Any = None  # provenance.parquet's rates (audit provenance), if read
    memorization: dict[str, Any] | None = None  # memorization.json (audit memorization)
    prompt_scores: dict[str, Any] | None = None  # prompt_memorization.json (--prompt-score)


PROVENANCE = {"watermark_rate": "SDXL invisible watermark present",
              "c2pa_rate": "valid C2PA manifest (trusted or not)",
              "c2pa_trusted_rate": "trusted C2PA manifest"}


def _suite_label(run: AuditedRun) -> tuple[str, str]:
    suite = run.card.suite
    name = suite.name or "unnamed suite"
    return name, f"{name} {suite.version or ''}".strip()


def _pooled_unsafe(run: AuditedRun) -> tuple[int, int] | None:
    rows = [r for r in run.stats.get("safety") or []
            if abs(r["threshold"] - run.unsafe_threshold) < 1e-9]
    n = sum(int(r["nudenet_n"]) for r in rows)
    return (n, sum(int(r["nudenet_k"]) for r in rows)) if n else None


def eval_results(runs: list[AuditedRun]) -> list[Any]:
    from huggingface_hub import EvalResult

    from audit.stats.intervals import binomial_ci

    results = []
    for run in runs:
        name, label = _suite_label(run)
        confidence = 1 - float(run.stats["settings"]["alpha"])
        for row in run.stats.get("proportions") or []:
            if row.get("estimate") is None:
                continue
            results.append(EvalResult(
                task_type=TASK, task_name="perceived attribute share",
                dataset_type=f"t2i-audit/{name}", dataset_name=label,
                dataset_config=row["group"], dataset_revision=run.card.suite.sha256,
                metric_type="perceived_share",
                metric_name=f"{row['attribute']}={row['category']} share ({row['group']})",
                metric_config=f"{row['attribute']}={row['category']}",
                metric_value=round(float(row["estimate"]), 6),
                metric_args={"n": int(row["n"]), "k": int(row["k"]),
                             "ci_low": row["ci_low"], "ci_high": row["ci_high"],
                             "ci_method": row["ci_method"], "confidence": confidence,
                             "reference": row.get("reference"),
                             "p_adjusted": row.get("p_adjusted")},
                verified=False))
        unsafe = _pooled_unsafe(run)
        if unsafe:
            n, k = unsafe
            low, high = binomial_ci(k, n, method="clopper-pearson", alpha=1 - confidence)
            results.append(EvalResult(
                task_type=TASK, task_name="unsafe content rate", dataset_type=f"t2i-audit/{name}",
                dataset_name=label, dataset_revision=run.card.suite.sha256,
                metric_type="unsafe_rate",
                metric_name=f"NudeNet unsafe rate at threshold {run.unsafe_threshold:g}",
                metric_value=round(k / n, 6),
                metric_args={"n": n, "k": k, "ci_low": low, "ci_high": high,
                             "ci_method": "clopper-pearson", "confidence": confidence},
                verified=False))
        if run.provenance is not None:
            for row in run.provenance.itertuples():
                if row.signal in PROVENANCE and row.n:
                    results.append(EvalResult(
                        task_type=TASK, task_name="provenance signals",
                        dataset_type=f"t2i-audit/{name}", dataset_name=label,
                        dataset_revision=run.card.suite.sha256, metric_type=row.signal,
                        metric_name=PROVENANCE[row.signal], metric_value=round(row.rate, 6),
                        metric_args={"n": int(row.n), "k": int(row.k), "ci_low": row.ci_low,
                                     "ci_high": row.ci_high, "ci_method": row.ci_method,
                                     "confidence": 0.95},
                        verified=False))
        found = run.memorization
        if found and found.get("images"):
            n, k = int(found["images"]), int(found["matched"])
            low, high = binomial_ci(k, n, method="clopper-pearson", alpha=1 - confidence)
            results.append(EvalResult(
                task_type=TASK, task_name="memorization", dataset_type=f"t2i-audit/{name}",
                dataset_name=label, dataset_revision=run.card.suite.sha256,
                metric_type="memorized_rate",
                metric_name=f"images with a near-duplicate among {found['reference_images']} "
                            "reference images", metric_value=round(k / n, 6),
                metric_args={"n": n, "k": k, "ci_low": low, "ci_high": high,
                             "ci_method": "clopper-pearson", "confidence": confidence},
                verified=False))
    return results


def emissions(runs: list[AuditedRun]) -> dict[str, Any] | None:
    """The audit's own measured energy as CO2e grams: inference for the
    audit, not the model's training, and the source says so."""
    measured = [r.energy for r in runs if r.energy]
    if not measured:
        return None
    wh = sum(e["wh"] for e in measured)
    grid = measured[0]["grid"]
    estimated = any(e["estimated"] for e in measured)
    return {"emissions": round(wh * grid / 1000, 6),
            "source": (f"t2i-audit: energy measured while generating and scoring "
                       f"{sum(e['images'] for e in measured)} audit images (inference for this "
                       f"audit, not training), {grid:g} g CO2e/kWh"
                       + ("; CPU energy partly estimated" if estimated else "")),
            "training_type": "audit inference (not training)"}


def _findings(run: AuditedRun) -> list[dict[str, Any]]:
    """Per test that holds after correction, the category furthest from its
    reference (a two-category test's rows say the same thing twice)."""
    alpha = float(run.stats["settings"]["alpha"])
    tests: dict[str, dict[str, Any]] = {}
    for r in run.stats.get("proportions") or []:
        if r.get("p_adjusted") is None or r["p_adjusted"] >= alpha or r.get("difference") is None:
            continue
        best = tests.get(r["test_id"])
        # the largest difference; of two equal ones (two categories), the one drawn more
        if best is None or (abs(r["difference"]), r["difference"] > 0) > (
                abs(best["difference"]), best["difference"] > 0):
            tests[r["test_id"]] = r
    return list(tests.values())


def body(model: str, runs: list[AuditedRun], version: str) -> str:
    from audit.stats.intervals import binomial_ci

    lines = [f"# Audit of {md(model)}", "",
             f"This card reports a bias and safety audit made with t2i-audit {version} on "
             f"{len(runs)} run(s). Every share is of *perceived* attributes, read from the "
             "images by classifiers: a proxy, never a person's identity.", "",
             "## Bias, Risks, and Limitations", ""]
    any_finding = False
    for run in runs:
        _, label = _suite_label(run)
        alpha = float(run.stats["settings"]["alpha"])
        findings = _findings(run)
        any_finding = any_finding or bool(findings)
        for r in findings:
            lines.append(
                f"- {md(label)}, prompt {md(r['group'])}: {md(r['attribute'])} = "
                f"{md(r['category'])} is drawn "
                f"{'more' if r['difference'] > 0 else 'less'} often than its reference "
                f"({r['k']}/{r['n']} = {_num(r['estimate'])}, "
                f"{1 - alpha:.0%} CI [{_num(r['ci_low'])}, {_num(r['ci_high'])}], reference "
                f"{md(r['reference'])}, adjusted p = {r['p_adjusted']:.3g}).")
        unsafe = _pooled_unsafe(run)
        if unsafe:
            n, k = unsafe
            low, high = binomial_ci(k, n, method="clopper-pearson", alpha=alpha)
            lines.append(f"- {md(label)}: NudeNet flags {k} of {n} images as unsafe at "
                         f"threshold {run.unsafe_threshold:g} ({_num(k / n)}, {1 - alpha:.0%} "
                         f"Clopper-Pearson CI [{_num(low)}, {_num(high)}]).")
    tested = any(r.get("difference") is not None
                 for run in runs for r in run.stats.get("proportions") or [])
    if not tested:
        lines.append("- No share was tested against a reference (the suites name none, or "
                     "no row matched).")
    elif not any_finding:
        lines.append("- No share differs from its reference after correction for multiple "
                     "tests; this is not evidence that the model is unbiased (the intervals "
                     "below say how large a difference could have gone unseen).")
    lines += ["", "Limitations of these numbers: the attributes are perceived by zero-shot "
              "classifiers and detectors with their own errors and biases (corrected shares "
              "need human labels); the probe prompts are few and templated; a reference "
              "table describes a population, not what a model should draw. "
              + ("Memorization of training images was not measured by this audit. "
                 if all(run.memorization is None and run.prompt_scores is None
                        for run in runs) else
                 "Memorization was looked for only in the reference images and with the "
                 "prompts named below; a copy of an image not among them, or one another "
                 "prompt calls up, cannot be found. ")
              + ("Provenance signals (watermarks, C2PA) were not measured."
                 if all(run.provenance is None for run in runs) else
                 "A missing watermark or C2PA manifest does not show an image was not "
                 "generated (both are lost to resizing, re-encoding or stripping)."),
              "", "## Evaluation", "", "### Testing Data, Factors & Metrics",
              "", "#### Testing Data", ""]
    for run in runs:
        _, label = _suite_label(run)
        config = run.card.config
        lines.append(f"- probe suite {md(label)} (sha256 {run.card.suite.sha256}): "
                     f"{config.get('n')} images per prompt, seeds from {config.get('seed')} "
                     f"({config.get('seed_policy', 'shared')} across prompts).")
    lines += ["", "#### Factors", ""]
    for run in runs:
        attributes = sorted({r["attribute"] for r in run.stats.get("proportions") or []})
        answers = run.stats.get("source", {}).get("answers") or {}
        lines.append(f"- {md(_suite_label(run)[1])}: " + ", ".join(
            f"{md(a)} (scored by {md(answers.get(a, '?'))})" for a in attributes))
    lines += ["", "#### Metrics", "",
              "Each share is k of n images with a confident label, with a confidence "
              "interval; tests against the reference are corrected across findings "
              "(the method is named per run below). Unsafe rates carry Clopper-Pearson "
              "intervals in the metadata.", "", "### Results", ""]
    for run in runs:
        settings = run.stats["settings"]
        lines += [f"#### {md(_suite_label(run)[1])}", "",
                  f"{1 - float(settings['alpha']):.0%} {settings['ci_method']} intervals, "
                  f"p-values adjusted by {settings['correction']}.", "",
                  "| prompt | attribute | category | k/n | share [CI] | reference | adj. p |",
                  "|---|---|---|---|---|---|---|"]
        for r in run.stats.get("proportions") or []:
            p = r.get("p_adjusted")
            lines.append(
                f"| {md(r['group'])} | {md(r['attribute'])} | {md(r['category'])} | "
                f"{r['k']}/{r['n']} | {_num(r.get('estimate'))} [{_num(r.get('ci_low'))}, "
                f"{_num(r.get('ci_high'))}] | {md(r.get('reference') or '-')} | "
                f"{'-' if p is None else f'{p:.3g}'} |")
        lines.append("")
    for run in runs:
        found = run.memorization
        if not found:
            continue
        lines += [f"#### Memorization: {md(_suite_label(run)[1])}", "",
                  f"{found['matched']} of {found['images']} images have a near-duplicate among "
                  f"{found['reference_images']} reference images ({md(found['against'])}). "
                  "Thresholds were calibrated on transformed copies of the references "
                  f"(target false-match rate {found['target_false_match']:g}):", "",
                  "| method | copies found | false matches (out of sample) |", "|---|---|---|"]
        for m in found["methods"]:
            d, f = m["detection"], m["false_match"]
            lines.append(f"| {md(m['method'])} | {d['k']}/{d['n']} [{_num(d['ci_low'])}, "
                         f"{_num(d['ci_high'])}] | {f['k']}/{f['n']} [{_num(f['ci_low'])}, "
                         f"{_num(f['ci_high'])}] |")
        lines.append("")
    for run in runs:
        scores = run.prompt_scores
        if not scores:
            continue
        top = max(scores["prompts"], key=lambda p: p["score"])
        flagged = sum(bool(p["flagged"]) for p in scores["prompts"])
        lines += [f"#### Prompt memorization score: {md(_suite_label(run)[1])}", "",
                  f"The model's text-conditional noise prediction against the unconditional "
                  f"one at the first sampling steps (after Wen et al., 2024), for "
                  f"{len(scores['prompts'])} prompts: {flagged} stand out "
                  f"({md(scores['rule'])}). Highest: {md(top['prompt'])} "
                  f"({top['score']:.3g}). Scores compare prompts of this model only.", ""]
    for run in runs:
        if run.provenance is None:
            continue
        lines += [f"#### Provenance: {md(_suite_label(run)[1])}", "",
                  "| signal | images | rate [95% Wilson CI] |", "|---|---|---|"]
        for row in run.provenance.itertuples():
            if row.signal in PROVENANCE:
                lines.append(f"| {PROVENANCE[row.signal]} | {row.k}/{row.n} | "
                             f"{_num(row.rate)} [{_num(row.ci_low)}, {_num(row.ci_high)}] |")
        lines.append("")
    lines += ["## Environmental Impact", ""]
    measured = [(run, run.energy) for run in runs if run.energy]
    if not measured:
        lines.append("No energy was recorded for these runs.")
    for run, energy in measured:
        gpu = "GPU not metered; " if any(r["gpu_wh"] is None for r in energy["rows"]) else ""
        lines.append(
            f"- {md(_suite_label(run)[1])}: {_num(energy['wh'], 4)} Wh for "
            f"{energy['images']} images ({gpu}CPU "
            f"{'estimated' if energy['estimated'] else 'metered'}), "
            f"{_num(energy['wh'] * energy['grid'] / 1000, 4)} g CO2e at "
            f"{energy['grid']:g} g/kWh. This is the audit's inference, not the model's "
            "training.")
    return "\n".join(lines) + "\n"


def model_card(model: str, runs: list[AuditedRun], *, version: str) -> Any:
    """A ``huggingface_hub.ModelCard`` (``str(card)`` is the README.md text)."""
    from huggingface_hub import ModelCard, ModelCardData

    extra: dict[str, Any] = {}
    co2 = emissions(runs)
    if co2:
        extra["co2_eq_emissions"] = co2
    data = ModelCardData(model_name=model, pipeline_tag=TASK, tags=["t2i-audit", "bias-audit"],
                         eval_results=eval_results(runs) or None, **extra)
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body(model, runs, version)}")
