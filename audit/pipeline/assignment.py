"""``audit.validate`` and ``audit.export``: the course assignment's zips.

One place builds a zip in scratch space, validates it and writes it only
when it passes, so the CLI and the viewer's Export page cannot disagree on
what "passes audit validate" means."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audit.errors import UsageError

if TYPE_CHECKING:
    from audit.assignment.submission import Finding


@dataclass(frozen=True)
class ValidationResult:
    path: Path
    task: str | None  # the task checked: given, or found from the JSON file
    findings: list[Finding]  # level, where, message, hint
    report: dict[str, Any]  # schemas/validation-report.schema.json

    @property
    def valid(self) -> bool:
        return bool(self.report["valid"])

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]


def _check_task(task: str | None) -> None:
    from audit.assignment import TASKS

    if task is not None and task not in TASKS:
        raise UsageError(f"unknown task '{task}' (known: {', '.join(TASKS)})")


def validate(*, path: Path, task: str | None = None,
             allow_any_model: bool = False) -> ValidationResult:
    """Every problem of a submission zip, folder or JSON file at once.
    Warnings do not make it invalid; an unreadable submission raises
    UsageError (exit 2)."""
    from audit.assignment.submission import Unreadable
    from audit.assignment.validate import report
    from audit.assignment.validate import validate as check

    _check_task(task)
    try:
        sub, found = check(Path(path), task=task, allow_any_model=allow_any_model)
    except Unreadable as exc:
        raise UsageError(str(exc)) from None
    return ValidationResult(Path(path), found, list(sub.findings),
                            report(Path(path), sub, found))


@dataclass(frozen=True)
class ExportResult:
    task: str
    out: Path
    written: bool  # False: the zip would fail validation, and nothing was written
    validation: ValidationResult  # of the zip as built (paths name ``out``)
    notes: list[str] = field(default_factory=list)  # what the export decided for the user
    # bias: fewer than four findings hold; the zip was written with those and
    # fails validation on the count alone (``strict`` refuses instead)
    partial: bool = False


def export(*, task: str, run: Path, out: Path | None = None,
           selection: Path | dict[str, Any] | None = None, picks: list[str] | None = None,
           story: str | None = None, goal: str | None = None,
           findings: list[str] | None = None, harms: list[str] | None = None,
           descriptions: list[str] | None = None, images_per_bias: int = 6,
           allow_any_model: bool = False, strict: bool = False) -> ExportResult:
    """An assignment zip from a run, written to ``out`` (default TASK.zip)
    only if it passes ``validate``.

    ``bias`` takes its findings from the run's stats.json: only
    demographic results that hold after correction, against a reference
    (``findings`` as "ITEM:ATTRIBUTE:CATEGORY" to choose them, ITEM an item
    id or a slot value; ``harms`` and ``descriptions`` replace the drafted
    texts). When fewer than four hold, the zip holds those (``partial``; it
    fails validation on the count) and the notes say what to probe next;
    ``strict`` refuses instead, and refuses named findings that do not hold.
    A run without stats.json is assessed in memory with default settings,
    and stats.json is not written. The other tasks take images by id: ``selection`` (a YAML file
    or the same as a dict) or ``picks`` (ITEM/SEED, in order) with
    ``story`` / ``goal``.
    """
    from audit.assignment.export import (
        export_bias,
        export_pairs,
        parse_finding,
        selection_from_picks,
    )
    from audit.rundir.atomic import output_file

    _check_task(task)
    out = output_file(Path(out) if out is not None else Path(f"{task}.zip"),
                      what="the zip (-o)")
    notes: list[str] = []
    if task != "bias" and (selection is None) == (not picks):
        raise UsageError(f"'{task}' needs --select FILE.yaml or --pick ITEM/SEED ... naming "
                         "the images (one of the two)")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = False
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as tmp:
        draft = Path(tmp) / out.name  # checked before it may replace anything at ``out``
        if task == "bias":
            made = export_bias(Path(run), draft,
                               findings=[parse_finding(f) for f in findings]
                               if findings else None,
                               harms=harms or None, descriptions=descriptions or None,
                               images_per_bias=images_per_bias, strict=strict)
            notes += made.notes
            partial = not made.complete
        else:
            chosen = selection if selection is not None else selection_from_picks(
                list(picks or []), story=story, goal=goal)
            export_pairs(task, Path(run), chosen, draft, allow_any_model=allow_any_model)
        checked = validate(path=draft, task=task, allow_any_model=allow_any_model)
        for finding in checked.findings:
            finding.where = finding.where.replace(str(draft), str(out))
        checked = ValidationResult(out, checked.task, checked.findings,
                                   {**checked.report, "path": str(out),
                                    "findings": [vars(f) for f in checked.findings]})
        count_only = all(f.where.endswith("/biases") and "asks for" in f.message
                         for f in checked.errors)
        written = checked.valid or (partial and count_only)
        if written:
            os.replace(draft, out)
    return ExportResult(task, out, written, checked, notes, partial=partial and written)
