"""The ``audit`` command line: parses, calls the Python API (``audit.pipeline``)
and renders. Errors become one line and an exit code (0 ok, 1 invalid input
or failed check, 2 usage error / unreadable input, 3 internal error: a bug);
``--debug`` shows the traceback instead."""

from __future__ import annotations

import errno
import logging
import os
import sys

import click
import typer

from audit.common.text import one_line
from audit.errors import AuditError

INTERNAL_ERROR = 3
# Where the disk, a quota or a permission stops a write: the user's to fix.
STORAGE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES,
                  errno.EPERM}
app = typer.Typer(
    name="audit",
    help="Audit text-to-image models for social bias and unsafe output: generate seeded "
         "images from probe suites, score perceived attributes, test with intervals.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: wraps at the terminal, never cuts a word
)


def _register() -> None:
    from audit.cli import (
        assignment,
        calibrate,
        demo,
        generate,
        importing,
        labels,
        probes,
        quality,
        release,
        report,
        run,
        score,
        stats,
    )

    app.add_typer(probes.app, name="probes")
    app.add_typer(labels.app, name="labels")
    generate.register(app)
    run.register(app)
    score.register(app)
    stats.register(app)
    report.register(app)
    assignment.register(app)
    calibrate.register(app)
    importing.register(app)
    release.register(app)
    quality.register(app)
    app.command()(demo.demo)


def _shown_errors() -> tuple[type[Exception], ...]:
    """Usage errors that print themselves; typer >= 0.25 vendors its own click."""
    classes: list[type[Exception]] = [click.ClickException]
    try:
        from typer._click.exceptions import ClickException

        classes.append(ClickException)
    except ImportError:
        pass
    return tuple(classes)


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    verbose = debug or "--verbose" in args
    args = [a for a in args if a not in ("--debug", "--verbose")]
    if verbose:
        from audit.common.devices import VERBOSE_ENV

        os.environ[VERBOSE_ENV] = "1"
    else:
        # Libraries' log lines (open_clip warns through the root logger) and
        # deprecation chatter are not the user's problem; --debug shows them.
        from audit.common.quiet import library_warnings_off

        logging.basicConfig(level=logging.ERROR)
        library_warnings_off()
    _register()
    try:
        # Without standalone mode click returns an Exit's code instead of raising.
        code = app(args=args, prog_name="audit", standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except AuditError as exc:
        if debug:
            raise
        typer.echo(f"error: {one_line(exc)}", err=True)
        sys.exit(exc.exit_code)
    except (typer.Exit, click.exceptions.Exit) as exc:
        sys.exit(exc.exit_code)
    except _shown_errors() as exc:
        exc.show()
        sys.exit(2)
    except (typer.Abort, click.exceptions.Abort, KeyboardInterrupt):
        typer.echo("interrupted; rerun the same command to resume", err=True)
        sys.exit(130)
    except OSError as exc:
        if debug or exc.errno not in STORAGE_ERRORS:
            if debug:
                raise
            _internal(exc)
        where = exc.filename or "a file being written"
        typer.echo(f"error: {one_line(where)}: {exc.strerror}; everything completed before this is "
                   "kept: free space or fix the permission, then rerun the same command to "
                   "resume", err=True)
        sys.exit(2)
    except Exception as exc:
        if debug:
            raise
        _internal(exc)


def _internal(exc: BaseException) -> None:
    typer.echo(f"internal error: {type(exc).__name__}: {one_line(str(exc)[:300])} (a bug: please "
               "report it; rerun with --debug for the traceback)", err=True)
    sys.exit(INTERNAL_ERROR)
