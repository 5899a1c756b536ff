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
