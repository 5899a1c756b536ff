"""``audit.gate`` (a run against a release policy) and ``audit.card`` (a
Hugging Face model card from runs)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from audit.errors import UsageError
from audit.release.gate import GateResult


def gate(*, run: Path, policy: Path, out: Path | None = None) -> GateResult:
    """Check ``run``'s fresh stats.json against the rules in ``policy`` (a
    YAML file, schemas/gate-policy.schema.json) and write the summary to
    ``out`` (default RUN/gate.json). ``result.passed`` is the verdict; the
    CLI exits 1 when it is False."""
    from audit.data_files import check
    from audit.release.gate import evaluate
    from audit.release.policy import read_policy
    from audit.rundir import RunDir
    from audit.rundir.atomic import output_file, write_json

    rundir = RunDir(Path(run)).require()
    target = output_file(Path(out) if out else rundir.root / "gate.json", what="the summary")
    rules = read_policy(Path(policy))
    stats = rundir.require_fresh_stats()
    if stats is None:
        raise UsageError(f"no statistics yet: run 'audit stats {rundir.root}' first",
                         where=str(rundir.stats_json))
    result = evaluate(rules, stats, rundir.card(), run=str(rundir.root))
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
        audited.append(AuditedRun(path=str(rundir.root), card=run_card, stats=stats,
                                  energy=energy_summary(run_card, grid),
                                  unsafe_threshold=threshold))
    document = model_card(model or "unnamed model", audited, version=package.__version__)
    write_text(target, str(document))
    return target
