"""``audit.calibrate``: CLIP's accuracy on labelled images and the abstention
threshold per attribute that reaches a target accuracy -> calibration file."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from audit.api.scorer import ON_CLASS, ON_CLASS_LABELS
from audit.errors import InvalidInput, UsageError

CHUNK = 256  # images decoded and embedded at a time


@dataclass(frozen=True)
class CalibrationResult:
    document: dict[str, Any]  # the calibration file (schemas/calibration.schema.json)
    path: Path
    skipped: dict[str, int]  # why labelled images were not used -> how many


def _folder_set(images: Path, labels: Path) -> tuple[pd.DataFrame, dict[str, Path]]:
    """Labels CSV (image_id,attribute,label[,reviewer]; image_id as 'audit score
    --images' names files: the path inside the folder) and the files."""
    from audit.stages.score import folder_images
    from audit.user_tables import read_csv, require_columns

    if not images.is_dir():
        raise UsageError("not a folder", where=str(images))
    frame = read_csv(labels)
    require_columns(frame, ["image_id", "attribute", "label"], labels)
    files = {image_id: path for image_id, path, _ in folder_images(images)[0]}
    for index, row in frame.iterrows():
        if row.image_id not in files:
            raise InvalidInput(f"field image_id: '{str(row.image_id)[:200]}' is not an image "
                               f"file in {images}", where=f"{labels}:{index + 2}")
    if "reviewer" not in frame.columns:
        frame["reviewer"] = ""
    return frame[["image_id", "attribute", "label", "reviewer"]], files


def _run_set(run: Path) -> tuple[pd.DataFrame, dict[str, Path]]:
    from audit.rundir import RunDir
    from audit.rundir.labels import current_labels

    rundir = RunDir(run).require()
    labels = current_labels(rundir.read_labels())
    if labels.empty:
        raise UsageError("the run has no human labels (audit labels import, or the viewer's "
                         "Relabel)", where=str(rundir.labels))
    images = rundir.read_images()
    valid = images[images.status == "ok"]
    return labels, {r.image_id: rundir.image_file(r.path) for r in valid.itertuples()}


def calibrate(*, out: Path, images: Path | None = None, labels: Path | None = None,
              run: Path | None = None, model: str | None = None,
              pretrained: str | None = None,
              attributes: Path | None = None, target: float = 0.95, min_decided: int = 10,
              slot: str = "occupation", adherence_prompts: Path | None = None,
              device: str = "auto") -> CalibrationResult:
    """Calibrate a CLIP model's abstention on labelled images: ``images`` (a
    folder) with ``labels`` (CSV), or a ``run`` with human labels.

    Per attribute of the attribute file that has labels: CLIP's accuracy and
    confusion per true label, and the smallest cosine-margin threshold shown
    ``target`` accurate on fresh images with 90% confidence (fixed-sequence
    binomial tests on at least ``min_decided`` decided images;
    ``audit.calibration.fit.choose_threshold``). Labels of ``on_class`` (on
    or off; a run only: the decision needs each image's prompt) calibrate the
    adherence scorer's on-class decision for ``slot`` the same way. Writes
    ``out``; ``audit score --calibration`` uses it. ``model`` defaults to the
    CLIP a run was scored with, and to ViT-L-14 for a folder."""
    from audit.calibration.file import FORMAT, write_calibration
    from audit.calibration.fit import calibrate_attribute
    from audit.common.hashing import file_sha256
    from audit.rundir import RunDir
    from audit.rundir.atomic import output_file
    from audit.scorers import make_scorers
    from audit.scorers.prompt_book import PromptBook
    from audit.stats.human_labels import consensus

    if (run is None) == (images is None):
        raise UsageError("give a labelled folder (--images DIR --labels FILE.csv) or a run "
                         "with human labels (RUN), not both")
    if images is not None and labels is None:
        raise UsageError("--images needs --labels FILE.csv (image_id,attribute,label)")
    if not 0 < target <= 1:
        raise UsageError(f"--target must be in (0, 1], got {target}")
    if min_decided < 1:
        raise UsageError(f"--min-decided must be at least 1, got {min_decided}")
    output_file(Path(out), what="the calibration file (-o)")
    table, files = _run_set(Path(run)) if run is not None else _folder_set(Path(images),
                                                                           Path(labels))
    where = str(labels or run)
    truth = consensus(table)
    skipped = {"no consensus (tie, unclear or no_person)": int(truth.truth.isna().sum())}
    truth = truth[truth.truth.notna()]
    judged = truth[truth.attribute == ON_CLASS]
    if len(judged) and run is None:
        raise InvalidInput("on_class labels need a run: the on-class decision reads each "
                           "image's prompt (import the images as a run: audit import)",
                           where=where)
    wrong = sorted(set(judged.truth) - set(ON_CLASS_LABELS))
    if wrong:
        raise InvalidInput(f"label(s) {', '.join(wrong)} are not labels of on_class "
                           f"({', '.join(ON_CLASS_LABELS)})", where=where)
    names = (["clip"] if (truth.attribute != ON_CLASS).any() else []) + (
        ["adherence"] if len(judged) else [])
    if not names:
        raise InvalidInput("no labelled image left to calibrate on", where=where)
    rundir = RunDir(Path(run)) if run is not None else None
    if rundir is not None:
        from audit.scorers.clip_model import run_clip

        model, pretrained = run_clip(rundir.card(), model, pretrained)
        if model is not None and pretrained is None:
            pretrained = "none"  # the run was scored with random weights
    options = {"model": model or "ViT-L-14", "pretrained": pretrained or "default"}
    scorer_options: dict[str, dict[str, Any]] = {"clip": dict(options),
                                                 "adherence": {**options, "slot": slot}}
    if attributes is not None:
        scorer_options["clip"]["attributes"] = str(attributes)
    if adherence_prompts is not None:
        scorer_options["adherence"]["prompts"] = str(adherence_prompts)
    built = dict(zip(names, make_scorers(
        names, options={n: scorer_options[n] for n in names}, device=device,
        cache_folder=rundir.embeddings if rundir else None,
        prompts=PromptBook.of_run(rundir) if "adherence" in names else None), strict=True))
    clip, adherence = built.get("clip"), built.get("adherence")
    if clip is not None:
        _check_clip_labels(truth[truth.attribute != ON_CLASS], clip, where)
    encoder = (clip or adherence).encoder
    embeddings = _embed(encoder, sorted(set(truth.image_id) & set(files)), files)
    skipped["image missing, blank or unreadable"] = int((~truth.image_id.isin(embeddings)).sum())
    truth = truth[truth.image_id.isin(embeddings)]
    results = {}
    for attribute, frame in truth[truth.attribute != ON_CLASS].groupby("attribute", sort=True):
        vectors = np.stack([embeddings[i] for i in frame.image_id])
        cosines = vectors @ clip.label_embeddings(attribute).T
        results[attribute] = calibrate_attribute(
            list(clip.attributes[attribute]["labels"]), cosines, list(frame.truth),
            target=target, min_decided=min_decided)
    tied: dict[str, Any] = {}  # what the on_class threshold was made for
    if adherence is not None:
        on_class, why = _on_class(adherence, truth[truth.attribute == ON_CLASS], embeddings,
                                  target=target, min_decided=min_decided, where=where)
        skipped.update(why)
        if on_class is not None:
            results[ON_CLASS] = on_class
            tied["adherence"] = {
                "prompts_file": {"path": str(adherence.prompts_file),
                                 "sha256": file_sha256(adherence.prompts_file),
                                 "version": adherence.spec_version},
                "slot": adherence.slot, "classes": adherence.classes}
    if not results:
        raise InvalidInput("no labelled image left to calibrate on", where=where)
    bundle = encoder.bundle
    attributes_file = clip.attributes_file if clip is not None else _default_attributes(
        bundle.name, attributes)
    source = Path(labels) if labels is not None else rundir.labels
    document = {
        "format": FORMAT,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "target_accuracy": target, "min_decided": min_decided,
        "model": {"name": bundle.name, "pretrained": bundle.pretrained,
                  "weights_sha256": bundle.weights_sha256},
        "attributes_file": {"path": str(attributes_file),
                            "sha256": file_sha256(attributes_file),
                            "version": _version(clip, attributes_file)},
        **tied,
        "labelled_set": {"kind": "run" if run is not None else "folder",
                         "path": str(run if run is not None else images),
                         "images": int(truth.image_id.nunique()), "labels": int(len(truth)),
                         "labels_sha256": file_sha256(source)},
        "attributes": results,
    }
    write_calibration(Path(out), document)
    return CalibrationResult(document, Path(out), {k: v for k, v in skipped.items() if v})


def _check_clip_labels(truth: pd.DataFrame, scorer: Any, where: str) -> None:
    unknown = sorted(set(truth.attribute) - set(scorer.attributes))
    if unknown:
        raise InvalidInput(f"attribute(s) {', '.join(unknown)} not in the CLIP attribute file "
                           f"{scorer.attributes_file.name}", where=where)
    for attribute, frame in truth.groupby("attribute"):
        wrong = sorted(set(frame.truth) - set(scorer.attributes[attribute]["labels"]))
        if wrong:
            raise InvalidInput(f"label(s) {', '.join(wrong)} are not labels of {attribute} "
                               f"({', '.join(scorer.attributes[attribute]['labels'])})",
                               where=where)


def _embed(encoder: Any, wanted: list[str], files: dict[str, Path]) -> dict[str, np.ndarray]:
    from audit.stages.score import load_image

    embeddings = {}
    for start in range(0, len(wanted), CHUNK):  # decoded a chunk at a time, not all at once
        loaded = [load_image(i, files[i]) for i in wanted[start:start + CHUNK]]
        items = [one.item for one in loaded if one.status == "ok"]
        if items:
            embeddings.update(zip([i.image_id for i in items], encoder.embed(items),
                                  strict=True))
    return embeddings


def _on_class(scorer: Any, truth: pd.DataFrame, embeddings: dict[str, np.ndarray], *,
              target: float, min_decided: int, where: str
              ) -> tuple[dict[str, Any] | None, dict[str, int]]:
    """The adherence scorer's on/off decision against people's on/off."""
    from audit.calibration.fit import calibrate_on_class

    if not scorer.classes:
        raise InvalidInput(f"the run's suite gives no values to the slot '{scorer.slot}' "
                           "(calibrate --slot NAME)", where=where)
    index = {c: k for k, c in enumerate(scorer.classes)}
    named = [(asked[1].get(scorer.slot) if (asked := scorer.book.lookup(i)) else None)
             for i in truth.image_id]
    usable = np.array([n in index for n in named], dtype=bool)
    skipped = {f"on_class: the prompt names no {scorer.slot} of the suite": int((~usable).sum())}
    truth = truth[usable]
    if truth.empty:
        return None, skipped
    vectors = np.stack([embeddings[i] for i in truth.image_id])
    cosines = vectors @ scorer.class_embeddings().T
    columns = np.array([index[n] for n, ok in zip(named, usable, strict=True) if ok])
    return calibrate_on_class(cosines, columns, list(truth.truth), target=target,
                              min_decided=min_decided), skipped


def _default_attributes(model: str, given: Path | None) -> Path:
    from audit.scorers.clip_model import default_attributes

    return Path(given) if given is not None else Path(default_attributes(model))


def _version(clip: Any, attributes_file: Path) -> Any:
    from audit.data_files import clip_attributes

    return clip.spec_version if clip is not None else clip_attributes(attributes_file)["version"]
