"""``audit.quality``: how far a run's images are, as a distribution, from
another set of images (another run, a folder, the toy world's training
renders), by KID, CMMD and FID∞, each with an interval, for the whole run
and per prompt."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from audit.common.progress import Progress
from audit.errors import UsageError

FORMAT = "t2i-audit-quality/1"
ALL = "all"


@dataclass(frozen=True)
class QualityResult:
    """``metrics``: one row per (scope, metric): the estimate, its interval
    and both sets' sizes; ``skipped``: (scope, metric, why) for what n did
    not allow; ``document``: RUN/quality.json as written."""

    path: Path
    metrics: Any
    skipped: list[dict[str, str]]
    notes: list[str]
    document: dict[str, Any]


def _clip_encoder(rundir: Any, clip_model: str | None, clip_pretrained: str | None,
                  device: str, notes: list[str]) -> Any:
    from audit.scorers.clip_model import ImageEncoder, load_clip, run_clip, weights_missing

    model, pretrained = run_clip(rundir.card(), clip_model, clip_pretrained)
    if not model:
        notes.append("CMMD left out: the run was not scored with CLIP; give --clip-model")
        return None
    why = weights_missing(model, pretrained)
    if why:
        notes.append(f"CMMD left out ({why})")
        return None
    return ImageEncoder(load_clip(model, pretrained, device=device),
                        cache_folder=rundir.embeddings)


def _enough(run_images: int, other_images: int, where: Path) -> None:
    from audit.fidelity.distances import MIN_KERNEL_IMAGES

    if min(run_images, other_images) < MIN_KERNEL_IMAGES:
        raise UsageError(f"{run_images} run image(s) and {other_images} to compare with; "
                         f"quality metrics need at least {MIN_KERNEL_IMAGES} in each",
                         where=str(where))


def _scopes(run_set: Any, against_set: Any, per_prompt: bool
            ) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(scope, run image indices, against image indices): the whole run, and
    each prompt with a matching group on the other side."""
    from audit.fidelity.image_sets import TOYWORLD_TRAIN, matching_group

    run_groups = np.array(run_set.groups, dtype=object)
    against_groups = np.array(against_set.groups, dtype=object)
    prompts = [p for p in dict.fromkeys(run_set.groups) if p is not None]
    matched = {p: matching_group(run_set, against_set, p) for p in prompts}
    everything = np.arange(len(against_set))
    if against_set.kind == TOYWORLD_TRAIN:
        # the training images of the run's own occupations, not the whole world
        wanted = {g for g in matched.values() if g is not None}
        if wanted:
            everything = np.flatnonzero(np.isin(against_groups, list(wanted)))
    scopes = [(ALL, np.arange(len(run_set)), everything)]
    if per_prompt:
        for prompt, group in matched.items():
            if group is not None:
                scopes.append((prompt, np.flatnonzero(run_groups == prompt),
                               np.flatnonzero(against_groups == group)))
    return scopes


def quality(*, run: Path, against: str | Path, inception: Path | None = None,
            clip_model: str | None = None, clip_pretrained: str | None = None,
            per_prompt: bool = True, confidence: float = 0.95, fid_halves: int = 50,
            toyworld_per_occupation: int = 200, versus: Path | None = None,
            device: str = "auto", progress: dict[str, Progress] | None = None
            ) -> QualityResult:
    """Compare ``run``'s valid images with ``against``: another run's
    directory, a folder of images, or ``"toyworld-train"`` (the toy model's
    training set, ``toyworld_per_occupation`` renders per occupation).

    CMMD on the run's CLIP embeddings (or ``clip_model``); KID and FID∞ on
    the features of the FID Inception network read from ``inception`` (a
    state-dict file), or on the CLIP embeddings without one (then not
    comparable with published values; a note says so). For the whole run
    and, with ``per_prompt``, each prompt that has a counterpart (the same
    prompt in another run; its occupation in the toy world). ``versus``: a
    second run compared against the same set; each metric's difference
    (run minus versus) gets an interval that accounts for the reference the
    two share. ``progress`` maps "features" and "intervals" to progress
    reporters. Writes RUN/quality.json."""
    import pandas as pd

    from audit.common.devices import pick_device
    from audit.data_files import check
    from audit.fidelity import distances, preprocess
    from audit.fidelity.features import InceptionEncoder, set_features
    from audit.fidelity.image_sets import against_set, run_images
    from audit.fidelity.inception import load_inception
    from audit.rundir import RunDir
    from audit.rundir.atomic import write_json

    if not 0.5 <= confidence < 1:
        raise UsageError(f"confidence must be in [0.5, 1), got {confidence}")
    if not 2 <= fid_halves <= 1000:
        raise UsageError(f"fid_halves must be in 2..1000, got {fid_halves}")
    if not 1 <= toyworld_per_occupation <= 3000:
        raise UsageError("toyworld_per_occupation must be in 1..3000, got "
                         f"{toyworld_per_occupation}")
    rundir = RunDir(Path(run)).require()
    if Path(str(against)).resolve() == rundir.root.resolve():
        raise UsageError("compare a run with another set of images, not with itself",
                         where=str(against))
    device = pick_device(device)
    progress = progress or {}
    notes: list[str] = []
    run_set = run_images(rundir)
    other = against_set(against, per_occupation=toyworld_per_occupation)
    _enough(len(run_set), len(other), rundir.root)
    second = None
    if versus is not None:
        second_dir = RunDir(Path(versus)).require()
        if second_dir.root.resolve() == rundir.root.resolve():
            raise UsageError("--versus names the run itself; give another run",
                             where=str(versus))
        second = run_images(second_dir)
        _enough(len(second), len(other), second_dir.root)
    spaces: dict[str, Any] = {}
    clip = _clip_encoder(rundir, clip_model, clip_pretrained, device, notes)
    if clip is not None:
        spaces["clip"] = clip
    inception_card = None
    if inception is not None:
        bundle = load_inception(Path(inception), device=device)
        spaces["inception"] = InceptionEncoder(bundle, rundir.root / "cache" / "features")
        inception_card = bundle.card()
        if bundle.published is None:
            notes.append(f"the Inception weights (sha256 {bundle.sha256[:12]}...) are not a "
                         "published FID checkpoint: KID and FID are not comparable with "
                         "published values")
    elif clip is not None:
        notes.append("KID and FID on CLIP embeddings (no Inception weights given: "
                     "--inception FILE): not comparable with published KID and FID")
    if not spaces:
        raise UsageError(f"no features to compare ({notes[-1]}); give --clip-model or "
                         "--inception FILE", where=str(rundir.root))
    fid_space = "inception" if "inception" in spaces else "clip"

    sets = [run_set, other] + ([second] if second is not None else [])
    reporter = progress.get("features")
    if reporter:
        reporter.start(len(spaces) * sum(len(s) for s in sets), 0)
    advance = reporter.advance if reporter else None
    features: dict[str, tuple[Any, ...]] = {
        name: tuple(set_features(s, encoder, progress=advance) for s in sets)
        for name, encoder in spaces.items()}
    unreadable = next(iter(features.values()))[1].unreadable
    if unreadable:
        notes.append(f"{unreadable} file(s) in {other.where} could not be read as images; "
                     "left out")

    def rows_of(space: str, side: int, wanted: np.ndarray) -> np.ndarray:
        found = features[space][side]
        return found.values[np.isin(found.index, wanted)]

    scopes = _scopes(run_set, other, per_prompt)
    scopes_index = {scope: index for scope, index, _ in scopes}
    plan = [(scope, "cmmd", "clip") for scope in scopes if "clip" in spaces]
    plan += [(scope, "kid", fid_space) for scope in scopes]
    plan += [(scope, "fid_infinity", fid_space) for scope in scopes]
    minimum = {"cmmd": distances.MIN_KERNEL_IMAGES, "kid": distances.MIN_KERNEL_IMAGES,
               "fid_infinity": distances.MIN_FID_IMAGES}
    _enough(len(rows_of(fid_space, 0, scopes[0][1])), len(rows_of(fid_space, 1, scopes[0][2])),
            rundir.root)
    runnable = [(s, m, f) for s, m, f in plan
                if min(len(rows_of(f, 0, s[1])), len(rows_of(f, 1, s[2]))) >= minimum[m]]
    reporter = progress.get("intervals")
    if reporter:
        fid_runs = sum(1 for _, m, _ in runnable if m == "fid_infinity")
        reporter.start(fid_halves * fid_runs * (2 if second is not None else 1), 0)
    advance = reporter.advance if reporter else None
    rows, skipped = [], []
    for (scope, run_index, other_index), metric, space in plan:
        x, y = rows_of(space, 0, run_index), rows_of(space, 1, other_index)
        if min(len(x), len(y)) < minimum[metric]:
            skipped.append({"scope": scope, "metric": metric,
                            "why": f"{len(x)} run and {len(y)} other images; {metric} needs at "
                                   f"least {minimum[metric]} in each"})
            continue
        if metric == "cmmd":
            found = distances.cmmd(x, y, confidence=confidence)
        elif metric == "kid":
            found = distances.kid(x, y, confidence=confidence)
        else:
            found = distances.fid_infinity(x, y, confidence=confidence, halves=fid_halves,
                                           progress=advance)
        rows.append({"scope": scope, "metric": metric, "features": space,
                     "value": found.value, "ci_low": found.ci_low, "ci_high": found.ci_high,
                     "se": found.se, "n_run": found.n_a, "n_against": found.n_b,
                     "plug_in_fid": found.plug_in})
    differences = []
    if second is not None:
        second_groups = np.array(second.groups, dtype=object)
        for (scope, _, other_index), metric, space in plan:
            x1 = rows_of(space, 0, scopes_index[scope])
            x2 = rows_of(space, 2, np.arange(len(second)) if scope == ALL
                         else np.flatnonzero(second_groups == scope))
            y = rows_of(space, 1, other_index)
            if min(len(x1), len(x2), len(y)) < minimum[metric]:
                continue
            if metric == "fid_infinity":
                found = distances.fid_infinity_difference(x1, x2, y, confidence=confidence,
                                                          halves=fid_halves, progress=advance)
            else:
                found = distances.mmd2_difference(metric, x1, x2, y, confidence=confidence)
            differences.append({"scope": scope, "metric": metric, "features": space,
                                "difference": found.value, "ci_low": found.ci_low,
                                "ci_high": found.ci_high, "se": found.se, "n_run": len(x1),
                                "n_versus": len(x2), "n_against": len(y)})
    if any(s["scope"] == ALL and s["metric"] == "fid_infinity" for s in skipped):
        notes.append(f"FID∞ left out: it needs at least {distances.MIN_FID_IMAGES} images in "
                     "each set")
    table = pd.DataFrame(rows, columns=["scope", "metric", "features", "value", "ci_low",
                                        "ci_high", "se", "n_run", "n_against", "plug_in_fid"])
    clip_card = None
    if clip is not None:
        clip_card = {"model": clip.bundle.name, "pretrained": clip.bundle.pretrained,
                     "weights_sha256": clip.bundle.weights_sha256,
                     "preprocessing": "the CLIP model's own (open_clip's eval transform)"}
    document = {
        "format": FORMAT,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "run": str(rundir.root),
        "against": {"kind": other.kind, "where": other.where, "images": len(other),
                    "unreadable": unreadable},
        "features": {"clip": clip_card,
                     "inception": None if inception_card is None else {
                         **inception_card, "preprocessing": preprocess.record()}},
        "settings": {"confidence": confidence, "fid_halves": fid_halves,
                     "fid_fractions": list(distances.FRACTIONS),
                     "cmmd": {"kernel": "gaussian", "sigma": distances.CMMD_SIGMA,
                              "scale": distances.CMMD_SCALE, "estimator": "unbiased"},
                     "kid": {"kernel": "(x.y/d + 1)^3", "estimator": "unbiased, all pairs"},
                     "intervals": {"cmmd": "jackknife, normal", "kid": "jackknife, normal",
                                   "fid_infinity": "delete-half jackknife, normal"}},
        "metrics": [{k: (None if isinstance(v, float) and np.isnan(v) else v)
                     for k, v in row.items()} for row in rows],
        "skipped": skipped,
        "versus": None if second is None else {
            "run": second.where,
            "differences": [{k: (None if isinstance(v, float) and np.isnan(v) else v)
                             for k, v in row.items()} for row in differences]},
        "notes": notes,
    }
    check(document, "quality.schema.json", "quality summary")
    with rundir.lock():
        write_json(rundir.quality_json, document)
    return QualityResult(rundir.quality_json, table, skipped, notes, document)
