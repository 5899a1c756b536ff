"""The calibration file: what ``audit calibrate`` writes and ``audit score
--calibration`` reads (schema: schemas/calibration.schema.json).

It is tied to one CLIP model (name, weights sha256) and one attribute file
(sha256): a threshold in cosine margin means nothing for other label
embeddings, so a mismatch is an error, not a warning. Its ``on_class``
attribute, when present, is the adherence scorer's: tied as well to the
adherence prompt file, the slot and the classes the labelled run's suite gave
that slot (the on/off margin is taken against every other class).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from audit.api.scorer import ON_CLASS
from audit.errors import UsageError

FORMAT = "t2i-audit-calibration/1"
MAX_BYTES = 1 << 20


def read_calibration(path: Path) -> dict[str, Any]:
    from audit.data_files import check
    from audit.user_files import read_user_json

    path = Path(path)
    # NaN refused there too: Python's json reads it, and a threshold of NaN never abstains
    document = read_user_json(path, what="calibration file", limit=MAX_BYTES)
    check(document, "calibration.schema.json", path)
    return document


def write_calibration(path: Path, document: dict[str, Any]) -> None:
    """Write atomically; a document that breaks its own schema is a bug here."""
    from audit.data_files import validator
    from audit.rundir.atomic import write_json

    errors = list(validator("calibration.schema.json").iter_errors(document))
    if errors:
        where = "/" + "/".join(map(str, errors[0].absolute_path))
        raise AssertionError(f"calibration file breaks its schema at {where}: "
                             f"{errors[0].message}")
    write_json(Path(path), document)


def check_model(document: dict[str, Any], path: Path, *, model: str,
                weights_sha256: str | None) -> None:
    made = document["model"]
    if made["name"] != model or made.get("weights_sha256") != weights_sha256:
        raise UsageError(f"calibrated for CLIP {made['name']} (weights "
                         f"{str(made.get('weights_sha256'))[:12]}), but the scorer uses {model} "
                         f"(weights {str(weights_sha256)[:12]}); calibrate this model",
                         where=f"{path} /model")


def clip_attributes(document: dict[str, Any]) -> dict[str, Any]:
    """Every attribute but on_class, the adherence scorer's."""
    return {k: v for k, v in document["attributes"].items() if k != ON_CLASS}


def check_matches(document: dict[str, Any], path: Path, *, model: str,
                  weights_sha256: str | None, attributes_sha256: str,
                  attributes: dict[str, Any]) -> None:
    """The file was made for this model, these weights and this attribute file."""
    check_model(document, path, model=model, weights_sha256=weights_sha256)
    if not clip_attributes(document):
        return  # only the adherence scorer's on_class: nothing here for clip
    if document["attributes_file"]["sha256"] != attributes_sha256:
        raise UsageError("calibrated with another attribute file (its prompts give other "
                         "label embeddings); calibrate with this one",
                         where=f"{path} /attributes_file")
    for name, spec in clip_attributes(document).items():
        if name not in attributes:
            raise UsageError(f"attribute '{name}' is not in the scorer's attribute file",
                             where=f"{path} /attributes/{name}")
        if list(spec["labels"]) != list(attributes[name]["labels"]):
            raise UsageError(f"labels {spec['labels']} differ from the attribute file's",
                             where=f"{path} /attributes/{name}/labels")


def check_on_class(document: dict[str, Any], path: Path, *, model: str,
                   weights_sha256: str | None, prompts_sha256: str, slot: str,
                   classes: list[str]) -> None:
    """The on_class threshold was chosen with this CLIP, prompt file, slot
    and class list."""
    check_model(document, path, model=model, weights_sha256=weights_sha256)
    made = document["adherence"]
    if made["prompts_file"]["sha256"] != prompts_sha256:
        raise UsageError("on_class was calibrated with another adherence prompt file; "
                         "calibrate with this one", where=f"{path} /adherence/prompts_file")
    if made["slot"] != slot:
        raise UsageError(f"on_class was calibrated for slot '{made['slot']}', the scorer "
                         f"judges '{slot}'", where=f"{path} /adherence/slot")
    if list(made["classes"]) != list(classes):
        raise UsageError(f"on_class was calibrated over the classes {', '.join(made['classes'])}"
                         f"; this suite gives {slot} {', '.join(classes) or 'no values'} (the "
                         "margin is taken against every other class); calibrate on a run of "
                         "this suite", where=f"{path} /adherence/classes")
