"""``audit.report``: a finished run -> one self-contained HTML file."""

from __future__ import annotations

from pathlib import Path

from audit.errors import UsageError


def report(*, run: Path, out: Path | None = None, grid_intensity: float | None = None) -> Path:
    """Write the static report (default RUN/report.html) and return its path.
    ``grid_intensity`` (g CO2e per kWh) turns the run's energy into CO2e;
    default the 2023 world average."""
    import math

    from audit.rundir import RunDir
    from audit.views.static_report import GRID_G_PER_KWH, write_report

    grid = GRID_G_PER_KWH if grid_intensity is None else float(grid_intensity)
    if not math.isfinite(grid) or grid < 0:
        raise UsageError(f"grid intensity must be a non-negative number of g CO2e per kWh, "
                         f"got {grid_intensity}")

    rundir = RunDir(Path(run)).require()
    target = Path(out) if out else rundir.report_html
    if target.is_dir():
        raise UsageError("is a folder; give the report's file name (e.g. report.html)",
                         where=str(target))
    return write_report(rundir, target, grid=grid)
