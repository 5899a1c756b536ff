"""``audit.report``: a finished run -> one self-contained HTML file."""

from __future__ import annotations

from pathlib import Path

from audit.errors import UsageError


def report(*, run: Path, out: Path | None = None) -> Path:
    """Write the static report (default RUN/report.html) and return its path."""
    from audit.rundir import RunDir
    from audit.views.static_report import write_report

    rundir = RunDir(Path(run)).require()
    target = Path(out) if out else rundir.report_html
    if target.is_dir():
        raise UsageError("is a folder; give the report's file name (e.g. report.html)",
                         where=str(target))
    return write_report(rundir, target)
