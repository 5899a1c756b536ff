"""``audit report`` (static HTML) and ``audit view`` (Streamlit)."""

from __future__ import annotations

import inspect
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from audit.cli import options as cli_options
from audit.options import ReportOptions

console = Console()
RUNS_ENV = "T2I_AUDIT_RUNS"


def report(**values: Any) -> None:
    """Write one self-contained HTML report (inline charts and thumbnails, no
    scripts) for sharing.

    Example: audit report runs/occupations__SDXL -o report.html
    """
    import audit

    written = audit.report(run=values["run"], out=values["out"],
                           **cli_options.flags_layer(ReportOptions, values))
    console.print(f"wrote {written}", markup=False)


report.__signature__, report.__annotations__ = cli_options.signature(  # type: ignore[attr-defined]
    [inspect.Parameter("run", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Path,
                       default=typer.Argument(..., help="Run directory.")),
     inspect.Parameter("out", inspect.Parameter.KEYWORD_ONLY, annotation=Path | None,
                       default=typer.Option(None, "--out", "-o", help="HTML file to write "
                                            "(default RUN/report.html)."))],
    cli_options.parameters(ReportOptions))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def view(
    runs: list[Path] = typer.Argument(..., help="One or more run directories."),
    port: int | None = typer.Option(None, help="Port (default: a free one)."),
    host: str = typer.Option("127.0.0.1", help="Address to bind; keep 127.0.0.1 unless you "
                             "mean to share the viewer on a network."),
) -> None:
    """Open runs in the Streamlit viewer (read-only except for human labels).

    Example: audit view runs/occupations__SDXL runs/occupations__SDv1.5
    """
    from audit.paths import viewer_app
    from audit.rundir import RunDir

    for run in runs:
        RunDir(run).require()
    port = port or free_port()
    env = {**os.environ, RUNS_ENV: os.pathsep.join(str(r.resolve()) for r in runs)}
    console.print(f"viewer on http://{host}:{port} (Ctrl+C to stop)")
    command = [sys.executable, "-m", "streamlit", "run", str(viewer_app()),
               "--server.address", host, "--server.port", str(port),
               "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    raise typer.Exit(serve(command, env))


def serve(command: list[str], env: dict[str, str]) -> int:
    """Run the viewer as a child that lives no longer than this process:
    SIGTERM, SIGINT and SIGHUP are passed on to it, and we wait for it."""
    child = subprocess.Popen(command, env=env)

    def forward(number: int, _frame: object) -> None:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM if number == signal.SIGHUP else number)

    previous = {n: signal.signal(n, forward)
                for n in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    try:
        while True:
            try:
                return child.wait()
            except KeyboardInterrupt:  # the handler already forwarded it
                continue
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        if child.poll() is None:
            child.kill()
            child.wait()


def register(app: typer.Typer) -> None:
    app.command()(report)
    app.command()(view)
