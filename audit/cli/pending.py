"""Contract commands whose stage has not been built yet: they exist so the
interface is stable, and say plainly that they are not implemented."""

from __future__ import annotations

import typer

from audit.errors import UsageError

PENDING = {
    "demo": ("Audit the bundled toy-world model end to end.", 7),
}


def _not_implemented(name: str, issue: int):
    def command(ctx: typer.Context) -> None:
        raise UsageError(f"'audit {name}' is not implemented yet (tracked in issue #{issue})")

    return command


def register(app: typer.Typer) -> None:
    for name, (summary, issue) in PENDING.items():
        app.command(name, help=f"{summary} [not implemented yet]",
                    context_settings={"allow_extra_args": True,
                                      "ignore_unknown_options": True}
                    )(_not_implemented(name, issue))
