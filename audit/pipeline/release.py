"""``audit.gate`` (a run against a release policy), ``audit.card`` (a
Hugging Face model card from runs) and ``audit.provenance`` (watermarks,
C2PA manifests and metadata claims per image)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from audit.common.progress import Progress
from audit.errors import UsageError
from audit.release.gate import GateResult


def gate(*, run: Path, policy: Path, out: Path | None = None) -> GateResult:
    """Check ``run``'s fresh stats.json (and provenance.parquet, for the
    provenance rules) against the rules in ``policy`` (a YAML file,
    schemas/gate-policy.schema.json) and write the summary to
    ``out`` (default RUN/gate.json). ``result.passed`` is the verdict; the
    CLI exits 1 when it is False."""
    from audit.data_files import check
    from audit.release.gate import evaluate
    from audit.release.policy import PROVENANCE_MEASURES, read_policy
    from audit.rundir import RunDir
    from audit.rundir.atomic import output_file, write_json

    rundir = RunDir(Path(run)).require()
    target = output_file(Path(out) if out else rundir.root / "gate.json", what="the summary")
    rules = read_policy(Path(policy))
    stats = None
    if any(r.measure not in PROVENANCE_MEASURES for r in rules.rules):
        stats = rundir.require_fresh_stats()
        if stats is None:
            raise UsageError(f"no statistics yet: run 'audit stats {rundir.root}' first",
                             where=str(rundir.stats_json))
    provenance_table, valid = None, None
    if any(r.measure in PROVENANCE_MEASURES for r in rules.rules):
        images = rundir.read_images()
        valid = set(images.image_id[images.status == "ok"])
        if rundir.provenance_table.is_file():
            import pandas as pd

            provenance_table = pd.read_parquet(rundir.provenance_table)
    result = evaluate(rules, stats, rundir.card(), run=str(rundir.root),
                      provenance=provenance_table, valid_images=valid)
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
        stats = rundir.require_fresh_stats()
        if stats is None:
            raise UsageError(f"no statistics yet: run 'audit stats {rundir.root}' first",
                             where=str(rundir.stats_json))
        run_card = rundir.card()
        name = run_card.model_id or "unnamed model"
        if model is not None and name != model:
            raise UsageError(f"a model card describes one model; this run is of '{name}', "
                             f"the first of '{model}'", where=str(rundir.root))
        model = name
        threshold = float(((run_card.scorer("nudenet") or {}).get("thresholds") or {})
                          .get("unsafe", 0.6))
        signals = None
        if rundir.provenance_table.is_file():
            import pandas as pd

            from audit.provenance.table import rates

            signals = rates(pd.read_parquet(rundir.provenance_table))
        audited.append(AuditedRun(path=str(rundir.root), card=run_card, stats=stats,
                                  energy=energy_summary(run_card, grid),
                                  unsafe_threshold=threshold, provenance=signals))
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
    from audit.provenance.table import provenance_rows, rates
    from audit.rundir import RunDir
    from audit.rundir.atomic import atomic_path
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
