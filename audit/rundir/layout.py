"""Every path of a run directory, and the one place that reads and writes them.

Stages, statistics, the report and the viewer go through ``RunDir``; none
builds a run path itself. The layout (``docs/architecture.md``)::

    RUN/run.json                  config + provenance (schemas/run.schema.json)
    RUN/images/<item_id>/<seed>.png
    RUN/images.parquet            one row per requested image (+ a journal while running)
    RUN/scores/decisions.parquet  score tables (schemas/score-*.schema.json)
    RUN/scores/measurements.parquet
    RUN/scores/inputs.parquet
    RUN/labels.parquet            human labels
    RUN/label-sample.parquet      images drawn at random for people to label
    RUN/cache/embeddings/         CLIP image embeddings, keyed by model and image sha256
    RUN/stats.json                schemas/stats.schema.json
    RUN/quality.json              schemas/quality.schema.json
    RUN/report.html
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audit.errors import InvalidInput, UsageError
from audit.rundir.images_table import TABLE

if TYPE_CHECKING:
    from audit.rundir.card import RunCard
from audit.rundir.runcard import RUN_JSON

LOCK = ".lock"
OLD_SCORES = "scores.parquet"  # format 1: one long table with a per-scorer 'score' column


@dataclass(frozen=True)
class ScorePaths:
    decisions: Path
    measurements: Path
    inputs: Path

    @classmethod
    def beside(cls, decisions: Path) -> ScorePaths:
        """For ``audit score --images DIR --out FILE.parquet``: the decision
        table at FILE.parquet, the others beside it."""
        stem = decisions.name[:-len(".parquet")] if decisions.name.endswith(
            ".parquet") else decisions.name
        return cls(decisions, decisions.with_name(f"{stem}.measurements.parquet"),
                   decisions.with_name(f"{stem}.inputs.parquet"))

    def as_dict(self) -> dict[str, Path]:
        return {"decisions": self.decisions, "measurements": self.measurements,
                "inputs": self.inputs}


@dataclass(frozen=True)
class RunDir:
    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    # -- paths ------------------------------------------------------------
    @property
    def run_json(self) -> Path:
        return self.root / RUN_JSON

    @property
    def images_dir(self) -> Path:
        return self.root / "images"

    @property
    def images_table(self) -> Path:
        return self.root / TABLE

    @property
    def scores(self) -> ScorePaths:
        folder = self.root / "scores"
        return ScorePaths(folder / "decisions.parquet", folder / "measurements.parquet",
                          folder / "inputs.parquet")

    @property
    def labels(self) -> Path:
        return self.root / "labels.parquet"

    @property
    def label_sample(self) -> Path:
        """The images drawn at random for people to label, with their
        sampling probabilities (``audit labels sample``)."""
        return self.root / "label-sample.parquet"

    @property
    def embeddings(self) -> Path:
        return self.root / "cache" / "embeddings"

    @property
    def stats_json(self) -> Path:
        return self.root / "stats.json"

    @property
    def report_html(self) -> Path:
        return self.root / "report.html"

    @property
    def provenance_table(self) -> Path:
        """Per image: watermark, C2PA manifest, metadata claim (audit provenance)."""
        return self.root / "provenance.parquet"

    @property
    def memorization_table(self) -> Path:
        """Per image: the closest reference image per method (audit memorization)."""
        return self.root / "memorization.parquet"

    @property
    def memorization_json(self) -> Path:
        """audit memorization's thresholds and their rates."""
        return self.root / "memorization.json"

    @property
    def prompt_memorization_json(self) -> Path:
        """Per prompt: the model's memorization score (audit memorization
        --prompt-score)."""
        return self.root / "prompt_memorization.json"

    @property
    def quality_json(self) -> Path:
        """KID, CMMD and FID∞ against another set of images (audit quality)."""
        return self.root / "quality.json"

    def read_table(self, path: Path, *, made_by: str) -> Any:
        """A Parquet file a command wrote into the run, or None when there is
        none; a damaged one is one line naming the command that remakes it."""
        import pandas as pd

        from audit.errors import UsageError

        if not path.is_file():
            return None
        try:
            return pd.read_parquet(path)
        except Exception as exc:  # noqa: BLE001 (pyarrow's errors have no common base)
            raise UsageError(f"cannot be read ({type(exc).__name__}); rerun '{made_by}'",
                             where=str(path)) from None

    @property
    def ground_truth_json(self) -> Path:
        """What a world with known truth adds (``audit demo``): the model's
        own deviation apart from off-class images and the classifier."""
        return self.root / "ground_truth.json"

    @staticmethod
    def image_relative(item_id: str, seed: int) -> str:
        return f"images/{item_id}/{seed}.png"

    def image_file(self, relative: str) -> Path:
        return self.root / relative

    # -- checks -----------------------------------------------------------
    def exists(self) -> bool:
        return self.run_json.is_file()

    def require(self) -> RunDir:
        if not self.exists():
            raise UsageError("not a run directory (no run.json)", where=str(self.root))
        return self

    def is_scored(self) -> bool:
        return self.scores.decisions.is_file()

    # -- one process at a time ---------------------------------------------
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold RUN/.lock while a stage writes. The kernel drops a flock when
        its process dies, so a lock left by ``kill -9`` is simply taken over;
        holding it, leftovers of interrupted writes are removed."""
        import fcntl

        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / LOCK
        with open(path, "a+", encoding="utf-8") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "unknown"
                raise UsageError(f"another audit process (PID {holder}) is working on this "
                                 "run; wait for it to finish or stop it",
                                 where=str(self.root)) from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            self.remove_leftovers()
            try:
                yield
            finally:
                handle.seek(0)
                handle.truncate()
                fcntl.flock(handle, fcntl.LOCK_UN)

    def remove_leftovers(self) -> list[Path]:
        """Temporary files of writes a killed process never finished
        (``.NAME.XXXX.tmp``, as atomic_path makes them)."""
        from audit.rundir.labels import idle

        removed = []
        with idle(self.root) as labels_idle:
            for path in self.root.rglob(".*.tmp"):
                in_progress = path.name.startswith(f".{self.labels.name}.") and not labels_idle
                if path.is_file() and not path.is_symlink() and not in_progress:
                    path.unlink(missing_ok=True)
                    removed.append(path)
        return removed

    # -- run.json ---------------------------------------------------------
    def read_card(self) -> dict[str, Any]:
        """run.json as a mapping (for its writer); readers use ``card()``."""
        from audit.rundir.runcard import read_run

        return read_run(self.root)

    def card(self) -> RunCard:
        """run.json, typed."""
        from audit.rundir.card import RunCard

        return RunCard.from_dict(self.read_card())

    # -- images.parquet ---------------------------------------------------
    def read_images(self) -> Any:
        from audit.rundir.images_table import read_images

        self.require()
        return read_images(self.root)

    # -- score tables -----------------------------------------------------
    def read_scores(self) -> Any:
        from audit.rundir.score_tables import read_tables

        if not self.is_scored():
            if (self.root / OLD_SCORES).is_file():
                raise InvalidInput("scores are in the old single-table format (before "
                                   f"t2i-audit 0.2); rescore with: audit score {self.root}",
                                   where=str(self.root / OLD_SCORES))
            raise UsageError(f"not scored yet; run: audit score {self.root}",
                             where=str(self.root))
        return read_tables(self.scores.as_dict())

    def read_scores_or_empty(self) -> Any:
        """Score tables for viewing: empty ones before scoring."""
        from audit.rundir.score_tables import empty_tables

        return self.read_scores() if self.is_scored() else empty_tables()

    def write_scores(self, rows: dict[str, list[dict[str, Any]]]) -> None:
        from audit.rundir.score_tables import write_tables

        write_tables(rows, self.scores.as_dict())
        (self.root / OLD_SCORES).unlink(missing_ok=True)

    # -- labels -----------------------------------------------------------
    def inputs_of_stats(self, *, labels: bool) -> dict[str, Any]:
        """What a stats.json computed now rests on: the scoring that wrote the
        score tables and, when human labels are used, the labels file's
        bytes. Recorded in stats.json so a later reader can tell it is stale."""
        import hashlib

        from audit.rundir.score_tables import scoring_id_of

        return {"scoring_id": scoring_id_of(self.scores.decisions),
                "labels_used": labels,
                "labels_sha256": hashlib.sha256(self.labels.read_bytes()).hexdigest()
                if labels and self.labels.is_file() else None,
                "label_sample_sha256": hashlib.sha256(self.label_sample.read_bytes()).hexdigest()
                if labels and self.label_sample.is_file() else None}

    def files_version(self) -> tuple[tuple[str, int, int], ...]:
        """(path, size, mtime in ns) of the run's files outside images/ and
        cache/: what changes when the run is rescored, restatted or
        relabelled, read without opening any of them."""
        found = []
        for folder in (self.root, self.scores.decisions.parent):
            with contextlib.suppress(OSError):
                for entry in os.scandir(folder):
                    if entry.is_file():
                        stat = entry.stat()
                        found.append((entry.path, stat.st_size, stat.st_mtime_ns))
        return tuple(sorted(found))

    def stale_stats(self, stats: dict[str, Any]) -> str | None:
        """Why ``stats`` no longer describes this run's scores and labels, or
        None. A stats.json that did not record its inputs (format 1) cannot
        be checked and is taken as it is."""
        recorded = (stats.get("source") or {}).get("inputs")
        if recorded is None or not self.is_scored():
            return None
        now = self.inputs_of_stats(labels=bool(recorded.get("labels_used")))
        if now["scoring_id"] != recorded.get("scoring_id"):
            return "the images were scored again since"
        if now["labels_sha256"] != recorded.get("labels_sha256"):
            return "the human labels changed since"
        if now["label_sample_sha256"] != recorded.get("label_sample_sha256"):
            return "the label sample was drawn since"
        return None

    def require_fresh_stats(self) -> dict[str, Any] | None:
        """stats.json, refused with one line when its scores or labels have
        changed since it was written (a report or export must not show old
        numbers as current); None when there is none."""
        stats = self.read_stats()
        reason = self.stale_stats(stats) if stats is not None else None
        if reason:
            raise UsageError(f"out of date: {reason}; run 'audit stats {self.root}' first",
                             where=str(self.stats_json))
        return stats

    def read_labels(self) -> Any:
        from audit.rundir.labels import read_labels

        return read_labels(self.labels)

    def append_labels(self, rows: list[dict[str, Any]], *, source: str) -> Any:
        """Append human labels (already checked: audit.review.labels does)."""
        from audit.rundir.labels import append_labels

        return append_labels(self.labels, rows, source=source)

    # -- stats.json -------------------------------------------------------
    def read_stats(self) -> dict[str, Any] | None:
        if not self.stats_json.is_file():
            return None
        try:
            return json.loads(self.stats_json.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UsageError(f"cannot read: {exc}", where=str(self.stats_json)) from None

    def write_stats(self, document: dict[str, Any], path: Path | None = None) -> Path:
        from audit.rundir.atomic import write_json

        out = path or self.stats_json
        write_json(out, document)
        return out
