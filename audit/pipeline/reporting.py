"""``audit.report``: a finished run -> one self-contained HTML file."""

from __future__ import annotations

from pathlib import Path

from audit.errors import UsageError


def report(*, run: Path, out: Path | None = None, grid_intensity: float | None = None) -> Path:
    """Write the static report (default RUN/report.html) and return its path.
    ``grid_intensity`` (g CO2e per kWh) turns the run's energy into CO2e;
    default the 2023 world average."""
    from audit.options import ReportOptions
    from audit.rundir import RunDir
    from audit.views.static_report import GRID_G_PER_KWH, write_report

    options = ReportOptions(grid_intensity=grid_intensity)
    grid = GRID_G_PER_KWH if options.grid_intensity is None else float(options.grid_intensity)

    rundir = RunDir(Path(run)).require()
    rundir.require_fresh_stats()
    target = Path(out) if out else rundir.report_html
    if target.is_dir():
        raise UsageError("is a folder; give the report's file name (e.g. report.html)",
                         where=str(target))
    return write_report(rundir, target, grid=grid)
