"""``audit.gate`` (a run against a release policy), ``audit.card`` (a
Hugging Face model card from runs), ``audit.provenance`` (watermarks, C2PA
manifests and metadata claims per image), ``audit.memorization``
(near-duplicates of reference images) and ``audit.prompt_memorization``
(the model's own memorization score per prompt)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from audit.common.progress import Progress
from audit.errors import UsageError
from audit.release.gate import GateResult


def _fresh_stats(rundir: Any) -> dict[str, Any]:
    stats = rundir.require_fresh_stats()
    if stats is None:
        raise UsageError(f"no statistics yet: run 'audit stats {rundir.root}' first",
                         where=str(rundir.stats_json))
    return stats


def gate(*, run: Path, policy: Path, out: Path | None = None) -> GateResult:
    """Check ``run``'s fresh stats.json (and provenance.parquet and
    memorization.parquet, for the rules that read them) against the rules in
    ``policy`` (a YAML file, schemas/gate-policy.schema.json) and write the
    summary to ``out`` (default RUN/gate.json). ``result.passed`` is the
    verdict; the CLI exits 1 when it is False."""
    from audit.data_files import check
    from audit.release.gate import evaluate
    from audit.release.policy import FILE_MEASURES, read_policy
    from audit.rundir import RunDir
    from audit.rundir.atomic import output_file, write_json

    rundir = RunDir(Path(run)).require()
    target = output_file(Path(out) if out else rundir.root / "gate.json", what="the summary")
    rules = read_policy(Path(policy))
    stats = None
    if any(r.measure not in FILE_MEASURES for r in rules.rules):
        stats = _fresh_stats(rundir)
    tables, valid = {}, None
    if any(r.measure in FILE_MEASURES for r in rules.rules):
        images = rundir.read_images()
        valid = set(images.image_id[images.status == "ok"])
        for path, command in ((rundir.provenance_table, "audit provenance RUN"),
                              (rundir.memorization_table, "audit memorization RUN --against DIR")):
            table = rundir.read_table(path, made_by=command.replace("RUN", str(rundir.root)))
            if table is not None:
                tables[path.name] = table
    result = evaluate(rules, stats, rundir.card(), run=str(rundir.root), tables=tables,
                      valid_images=valid)
    document = result.document(datetime.now(timezone.utc).isoformat(timespec="seconds"))
    check(document, "gate.schema.json", "gate summary")
    write_json(target, document)
    return result


def card(*, runs: list[Path], out: Path, grid_intensity: float | None = None) -> Path:
    """Write a Hugging Face model card (README.md) for the model the ``runs``
    audited, from their fresh stats.json; every run must be of one model.
    ``grid_intensity`` (g CO2e per kWh) turns the runs' measured energy into
    ``co2_eq_emissions``. Returns the path written."""
    import audit as package
    from audit.options import ReportOptions
    from audit.release.model_card import AuditedRun, model_card
    from audit.rundir import RunDir
    from audit.rundir.atomic import output_file, write_text
    from audit.views.static_report import GRID_G_PER_KWH, energy_summary

    options = ReportOptions(grid_intensity=grid_intensity)
    grid = GRID_G_PER_KWH if options.grid_intensity is None else float(options.grid_intensity)
    if not runs:
        raise UsageError("give at least one run")
    target = output_file(Path(out), what="the model card")
    audited, model = [], None
    for run in runs:
        rundir = RunDir(Path(run)).require()
        stats = _fresh_stats(rundir)
        run_card = rundir.card()
        name = run_card.model_id or "unnamed model"
        if model is not None and name != model:
            raise UsageError(f"a model card describes one model; this run is of '{name}', "
                             f"the first of '{model}'", where=str(rundir.root))
        model = name
        signals = rundir.read_table(rundir.provenance_table,
                                    made_by=f"audit provenance {rundir.root}")
        if signals is not None:
            from audit.signals.table import rates

            signals = rates(signals)
        from audit.user_files import read_user_json

        found, scores = None, None
        if rundir.memorization_json.is_file():
            found = read_user_json(rundir.memorization_json, what="memorization summary")
        if rundir.prompt_memorization_json.is_file():
            scores = read_user_json(rundir.prompt_memorization_json,
                                    what="prompt memorization scores")
        audited.append(AuditedRun(path=str(rundir.root), card=run_card, stats=stats,
                                  energy=energy_summary(run_card, grid),
                                  unsafe_threshold=run_card.unsafe_threshold, provenance=signals,
                                  memorization=found, prompt_scores=scores))
    document = model_card(model or "unnamed model", audited, version=package.__version__)
    write_text(target, str(document))
    return target


@dataclass(frozen=True)
class ProvenanceResult:
    """``table``: RUN/provenance.parquet's rows; ``rates``: each signal's
    rate among the run's valid images, with n, k and a Wilson interval."""

    path: Path
    table: Any
    rates: Any


MAX_ANCHORS_BYTES = 1 << 20


def provenance(*, run: Path, trust_anchors: Path | None = None,
               progress: Progress | None = None) -> ProvenanceResult:
    """Read every valid image's provenance signals (the SDXL invisible
    watermark, a C2PA manifest, generator claims in metadata) into
    RUN/provenance.parquet. ``trust_anchors``: a PEM file of certificates a
    C2PA signer must chain to for ``trusted`` (without it a valid manifest is
    ``valid_untrusted``). Nothing is fetched: remote manifests and OCSP are
    off. Needs the ``[provenance]`` extra."""
    import importlib.util

    from audit.errors import InvalidInput
    from audit.rundir import RunDir
    from audit.rundir.atomic import atomic_path
    from audit.signals.table import provenance_rows, rates
    from audit.user_files import read_user_text

    missing = [m for m in ("imwatermark", "c2pa") if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageError(f"provenance needs {' and '.join(missing)}: pip install "
                         "'t2i-audit[provenance]'")
    anchors = None
    if trust_anchors is not None:
        anchors = read_user_text(Path(trust_anchors), what="trust anchors",
                                 limit=MAX_ANCHORS_BYTES)
        if "-----BEGIN CERTIFICATE-----" not in anchors:
            raise InvalidInput("no PEM certificate (-----BEGIN CERTIFICATE-----) in it",
                               where=str(trust_anchors))
    rundir = RunDir(Path(run)).require()
    images = rundir.read_images()
    valid = images[images.status == "ok"]
    pairs = [(row.image_id, rundir.image_file(row.path)) for row in valid.itertuples()]
    if progress:
        progress.start(len(pairs), 0)
    with rundir.lock():
        table = provenance_rows(pairs, trust_anchors=anchors,
                                progress=(lambda _: progress.advance(1)) if progress else None)
        with atomic_path(rundir.provenance_table) as tmp:
            table.to_parquet(tmp, index=False)
    return ProvenanceResult(rundir.provenance_table, table, rates(table))


@dataclass(frozen=True)
class MemorizationResult:
    """``table``: RUN/memorization.parquet (per valid image: the closest
    reference image by each method, its distance or similarity, whether it
    matches); ``methods``: each method's calibrated threshold with its
    out-of-sample detection and false-match rates; ``notes``: what was
    left out and why."""

    path: Path
    table: Any
    methods: list[Any]
    notes: list[str]


MAX_REFERENCE_IMAGES = 20_000


def _reference_images(folder: Path) -> tuple[list[str], list[Any], list[str]]:
    """Regular image files inside ``folder`` (links out of it are not
    followed), decoded under the pixel cap; unreadable ones are counted."""
    import numpy as np
    from PIL import Image

    from audit.stages.score import MAX_PIXELS
    from audit.user_files import image_files

    names, images, notes, skipped = [], [], [], 0
    for path in image_files(folder, limit=MAX_REFERENCE_IMAGES,
                            too_many=f"more than {MAX_REFERENCE_IMAGES} reference images; "
                                     "compare against a folder per subset"):
        try:
            with Image.open(path) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise ValueError("over the pixel cap")
                images.append(np.asarray(image.convert("RGB")))
            names.append(str(path.relative_to(folder)))
        except (OSError, ValueError, Image.DecompressionBombError):
            skipped += 1
    if skipped:
        notes.append(f"{skipped} file(s) in {folder} could not be read as images; left out")
    return names, images, notes


def memorization(*, run: Path, against: Path, clip_model: str | None = None,
                 clip_pretrained: str | None = None, target_false_match: float = 0.01,
                 device: str = "auto") -> MemorizationResult:
    """Look for near-duplicates of ``run``'s images among the images in
    ``against`` (e.g. a sample of the training set): perceptual hashes and,
    when CLIP weights are at hand, CLIP embeddings (default the run's own
    CLIP). Each method's threshold is calibrated on transformed copies of
    the reference images to a false-match rate of ``target_false_match``.
    Writes RUN/memorization.parquet and RUN/memorization.json. Needs the
    ``[provenance]`` extra (imagehash)."""
    import importlib.util
    import json

    import numpy as np
    import pandas as pd

    from audit.api.scorer import ScoreInput
    from audit.errors import InvalidInput
    from audit.memorized.near_duplicates import (
        CLIP,
        HASH,
        MIN_REFERENCE,
        Features,
        match,
        phashes,
        reference_copies,
    )
    from audit.rundir import RunDir
    from audit.rundir.atomic import atomic_path, write_json

    if importlib.util.find_spec("imagehash") is None:
        raise UsageError("memorization needs imagehash: pip install 't2i-audit[provenance]'")
    if not 0 < target_false_match < 0.5:
        raise UsageError(f"the target false-match rate must be in (0, 0.5), got "
                         f"{target_false_match}")
    folder = Path(against)
    if not folder.is_dir():
        raise UsageError("not a folder of reference images", where=str(folder))
    rundir = RunDir(Path(run)).require()
    names, references, notes = _reference_images(folder)
    if len(references) < MIN_REFERENCE:
        raise InvalidInput(f"{len(references)} readable reference image(s); calibration "
                           f"needs at least {MIN_REFERENCE}", where=str(folder))
    images = rundir.read_images()
    valid = images[images.status == "ok"]
    ids, generated = [], []
    from PIL import Image

    for row in valid.itertuples():
        with Image.open(rundir.image_file(row.path)) as image:
            generated.append(np.asarray(image.convert("RGB")))
        ids.append(row.image_id)
    variants, owner = reference_copies(references)
    features = [Features(HASH, phashes(references), phashes(variants), phashes(generated))]
    from audit.scorers.clip_model import ImageEncoder, load_clip, run_clip, weights_missing

    model, pretrained = run_clip(rundir.card(), clip_model, clip_pretrained)
    clip_used = None
    if model:

        why = weights_missing(model, pretrained)
        if why:
            notes.append(f"CLIP left out ({why}); hashes only. Give --clip-model with "
                         "weights on this machine to add it")
        else:
            encoder = ImageEncoder(load_clip(model, pretrained, device=device))

            def embed(arrays: list[Any]) -> Any:
                return encoder.embed([ScoreInput(str(i), a) for i, a in enumerate(arrays)])

            features.append(Features(CLIP, embed(references), embed(variants),
                                     embed(generated)))
            clip_used = {"model": model, "pretrained": pretrained,
                         "weights_sha256": encoder.bundle.weights_sha256}
    else:
        notes.append("CLIP left out: the run was not scored with CLIP; give --clip-model")
    table = pd.DataFrame({"image_id": ids})
    methods = []
    for feature in features:
        calibrated, (nearest, value, hits) = match(feature, owner, target=target_false_match)
        methods.append(calibrated)
        if not calibrated.target_shown:
            notes.append(f"{feature.method}: {len(variants)} non-matching pairs cannot show a "
                         f"false-match rate within {target_false_match:g}; the threshold is "
                         "set just beyond the closest of them (more reference images help)")
        if feature.method == HASH and calibrated.threshold < 0:
            notes.append("phash matches nothing: different reference images already share "
                         "hashes, so no distance keeps false matches within the target")
        table[f"{feature.method}_reference"] = [names[i] for i in nearest]
        table[f"{feature.method}_{'distance' if feature.method == HASH else 'similarity'}"] = \
            value
        table[f"{feature.method}_match"] = hits
    table["matched"] = table[[f"{f.method}_match" for f in features]].any(axis=1)
    with rundir.lock():
        with atomic_path(rundir.memorization_table) as tmp:
            table.to_parquet(tmp, index=False)
        write_json(rundir.memorization_json, json.loads(json.dumps({
            "format": "t2i-audit-memorization/1", "against": str(folder),
            "reference_images": len(references), "copies_per_image": len(variants) //
            len(references), "target_false_match": target_false_match, "clip": clip_used,
            "methods": [{"method": m.method, "threshold": m.threshold,
                         "target_shown": m.target_shown,
                         "detection": vars(m.detection), "false_match": vars(m.false_match)}
                        for m in methods],
            "images": len(table), "matched": int(table["matched"].sum()), "notes": notes},
            default=float)))
    return MemorizationResult(rundir.memorization_table, table, methods, notes)


@dataclass(frozen=True)
class PromptMemorizationResult:
    """``prompts``: per prompt its score (mean over seeds), the seeds' SD,
    its modified z among the run's prompts and whether it stands out;
    ``document``: RUN/prompt_memorization.json as written."""

    path: Path
    prompts: Any
    document: dict[str, Any]


MAX_SCORED_PROMPTS = 5000


def prompt_memorization(*, run: Path, model: str | None = None, seeds: int = 8,
                        first_steps: int = 1, device: str = "auto",
                        progress: Progress | None = None) -> PromptMemorizationResult:
    """Score each of ``run``'s prompts for memorization with the model itself
    (after Wen et al., ICLR 2024): how far the text-conditional noise
    prediction departs from the unconditional one over the first
    ``first_steps`` sampling steps, averaged over ``seeds`` starting noises,
    at the run's steps, guidance and size. ``model``: default the run's own
    (a diffusers pipeline; hosted and imported runs need one named). Writes
    RUN/prompt_memorization.json."""
    import numpy as np
    import pandas as pd

    from audit.common.devices import quiet_libraries
    from audit.generators import make_generator
    from audit.memorized.prompt_score import (
        MIN_PROMPTS_FOR_OUTLIERS,
        OUTLIER_Z,
        modified_z,
        noise_gaps,
    )
    from audit.rundir import RunDir
    from audit.rundir.atomic import write_json

    if not 1 <= seeds <= 64:
        raise UsageError(f"seeds must be in 1..64, got {seeds}")
    if first_steps < 1:
        raise UsageError(f"first_steps must be at least 1, got {first_steps}")
    rundir = RunDir(Path(run)).require()
    card = rundir.card()
    if model is None:
        if card.hosted or not card.model_id or card.model.get("source") == "import":
            raise UsageError("the prompt score needs the model's weights: give --model (the "
                             "diffusers pipeline that made these images)", where=str(rundir.root))
        model = card.model_id
    images = rundir.read_images()
    valid = images[images.status == "ok"]
    prompts = [p for p in pd.unique(valid.prompt) if isinstance(p, str) and p.strip()]
    if not prompts:
        raise UsageError("no prompts among the run's valid images", where=str(rundir.root))
    if len(prompts) > MAX_SCORED_PROMPTS:
        raise UsageError(f"{len(prompts)} distinct prompts; the prompt score takes at most "
                         f"{MAX_SCORED_PROMPTS}", where=str(rundir.root))
    quiet_libraries()
    generator = make_generator(model, device=device)
    pipe = getattr(generator, "pipe", None)
    if pipe is None:
        raise UsageError(f"'{model}' is not a diffusers pipeline; the prompt score needs one")
    # the run's settings; an imported run has none: the model's own defaults
    generation = {**(getattr(generator, "suite_defaults", {}).get("generation") or {}),
                  **(card.config.get("generation") or {})}
    settings = {"seeds": seeds, "steps": int(generation.get("steps") or 50),
                "first_steps": first_steps,
                "guidance": float(generation.get("guidance") or 7.5),
                "width": int(generation.get("width") or 512),
                "height": int(generation.get("height") or 512)}
    if progress:
        progress.start(len(prompts), 0)
    gaps = noise_gaps(pipe, prompts, seeds=range(seeds), steps=settings["steps"],
                      first_steps=first_steps, guidance=settings["guidance"],
                      width=settings["width"], height=settings["height"],
                      generator_device=getattr(generator, "generator_device", "cpu"),
                      progress=(lambda k: progress.advance(k)) if progress else None)
    scores = gaps.mean(axis=1)
    enough = len(prompts) >= MIN_PROMPTS_FOR_OUTLIERS
    z = modified_z(scores) if enough else np.full(len(prompts), np.nan)
    table = pd.DataFrame({"prompt": prompts, "score": scores,
                          "sd": gaps.std(axis=1, ddof=1) if seeds > 1 else np.nan,
                          "modified_z": z, "flagged": z > OUTLIER_Z if enough else False})
    notes = [] if enough else [
        f"{len(prompts)} prompt(s): at least {MIN_PROMPTS_FOR_OUTLIERS} are needed to say which "
        "stand out; scores only"]
    described = generator.describe()
    document = {
        "format": "t2i-audit-prompt-memorization/1",
        "model": {"id": model, "sha256": described.get("sha256"),
                  "same_as_run": model == card.model_id},
        "settings": settings,
        "rule": f"flagged: modified z-score above {OUTLIER_Z} among the run's prompts "
                "(Iglewicz and Hoaglin); a screen, not a calibrated test",
        "prompts": [{"prompt": r.prompt, "score": float(r.score),
                     "sd": None if np.isnan(r.sd) else float(r.sd),
                     "modified_z": None if np.isnan(r.modified_z) else float(r.modified_z),
                     "flagged": bool(r.flagged)} for r in table.itertuples()],
        "notes": notes}
    with rundir.lock():
        write_json(rundir.prompt_memorization_json, document)
    return PromptMemorizationResult(rundir.prompt_memorization_json, table, document)
