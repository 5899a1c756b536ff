"""``run.json``: configuration and provenance, enough to rerun the audit next
month and get the same images, and to refuse resuming into a run made with a
different suite or model. This module is the only writer of run.json; every
write is checked against ``schemas/run.schema.json``."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import platform
import sys
from pathlib import Path
from typing import Any

from audit.errors import InvalidInput, UsageError
from audit.rundir.atomic import write_text

RUN_JSON = "run.json"
FORMAT = "t2i-audit-run/2"  # 2: score tables in scores/ (format 1 runs still resume)
_PACKAGES = ("t2i-audit", "torch", "diffusers", "transformers", "open_clip_torch", "numpy",
             "pandas", "pyarrow", "scipy", "statsmodels", "pillow")
# Fields that, if changed, would change the images: resuming must refuse.
_MUST_MATCH = [("suite", "name"), ("suite", "sha256"), ("model", "id"), ("model", "sha256"),
               ("model", "pipeline_class"), ("model", "dtype"), ("model", "safety_checker"),
               ("model", "generator_device")]


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": sys.version.split()[0]}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _problem(card: Any) -> str | None:
    from audit.data_files import pointer, validator

    errors = sorted(validator("run.schema.json").iter_errors(card),
                    key=lambda e: list(map(str, e.absolute_path)))
    return f"{pointer(errors[0].absolute_path)}: {errors[0].message[:200]}" if errors else None


def read_run(run_dir: Path) -> dict[str, Any]:
    path = run_dir / RUN_JSON
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError("not a run directory (no run.json)", where=str(run_dir)) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"cannot read: {exc}", where=str(path)) from None
    problem = _problem(card)
    if problem:
        raise InvalidInput(f"not a valid run.json: {problem}", where=str(path))
    return card


def write_run(run_dir: Path, card: dict[str, Any]) -> None:
    card = json.loads(json.dumps(card, default=str))
    problem = _problem(card)
    if problem:  # a bug in this package, not the user's input
        raise AssertionError(f"run.json would break its schema at {problem}")
    write_text(run_dir / RUN_JSON, json.dumps(card, indent=2, sort_keys=False))


def check_compatible(run_dir: Path, old: dict[str, Any], new: dict[str, Any]) -> None:
    for section, key in _MUST_MATCH:
        before, after = old.get(section, {}).get(key), new.get(section, {}).get(key)
        if before != after:
            raise InvalidInput(
                f"/{section}/{key} is {before!r} in the existing run but {after!r} now; "
                "resume only with the same suite and model, or pass a new --out",
                where=str(run_dir / RUN_JSON))


def start_run(run_dir: Path, *, suite: dict[str, Any], model: dict[str, Any],
              config: dict[str, Any], command: str) -> dict[str, Any]:
    """Create run.json, or check and extend it when resuming."""
    invocation = {"command": command, "started": now(), "finished": None}
    new = {"format": FORMAT, "suite": suite, "model": model}
    if (run_dir / RUN_JSON).exists():
        card = read_run(run_dir)
        check_compatible(run_dir, card, new)
        card["format"] = FORMAT
        card["config"] = {**card.get("config", {}), **config,
                          "n": max(card.get("config", {}).get("n", 0), config["n"])}
    else:
        card = {**new, "config": config, "started": invocation["started"], "finished": None,
                "command": command, "history": []}
    _append_invocation(run_dir, card, invocation)
    return card


def _append_invocation(run_dir: Path, card: dict[str, Any], invocation: dict[str, Any]
                       ) -> None:
    """Stamp the software and machine of this invocation, record it, write."""
    card["packages"] = package_versions()
    card["platform"] = {"system": platform.platform(), "machine": platform.machine()}
    card["history"].append(invocation)
    write_run(run_dir, card)


def record_import(run_dir: Path, *, name: str, version: str, settings: dict[str, Any],
                  model: str, reference: str | list[str] | None,
                  attributes: list[str] | None, images: int,
                  command: str, summary: dict[str, Any]) -> dict[str, Any]:
    """run.json of an imported run: a suite describing the import (its sha256
    is of the import settings, so the same import again is the same run) and
    the model the images say, or were told, they come from."""
    import hashlib

    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()
    invocation = {"command": command, "started": now(), "finished": now(), **summary}
    if (run_dir / RUN_JSON).exists():
        card = read_run(run_dir)
    else:
        card = {"format": FORMAT, "started": invocation["started"], "finished": None,
                "command": command, "history": []}
    card["suite"] = {"name": name, "version": version, "sha256": digest,
                     "description": f"images imported from {settings['source']}",
                     "reference": reference, "attributes": attributes or [],
                     "content_warning": None}
    card["model"] = {"id": model, "sha256": None, "source": "import",
                     "pipeline_class": "unknown (imported)", "dtype": None,
                     "scheduler": {"class": "as recorded per image"}}
    card["config"] = {"n": images, "import": settings}
    card["finished"] = invocation["finished"]
    _append_invocation(run_dir, card, invocation)
    return card


def finish_run(run_dir: Path, card: dict[str, Any], summary: dict[str, Any]) -> None:
    card["finished"] = now()
    card["history"][-1].update(finished=card["finished"], **summary)
    write_run(run_dir, card)


def record_scoring(run_dir: Path, *, scorers: list[dict[str, Any]], summary: dict[str, Any]
                   ) -> dict[str, Any]:
    """The scorer cards and what the score stage did, into run.json."""
    from audit.rundir.score_tables import FORMAT as SCORES_FORMAT

    card = read_run(run_dir)
    card["format"] = FORMAT
    card["scorers"] = scorers
    card["scored"] = {"at": now(), "format": SCORES_FORMAT, **summary}
    write_run(run_dir, card)
    return card["scored"]
