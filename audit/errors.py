"""Errors that the CLI turns into one readable line and an exit code.

Exit codes follow the CLI contract: 1 when the input is invalid or a check
failed, 2 for usage errors and inputs that cannot be read or found.
"""

from __future__ import annotations


class AuditError(Exception):
    exit_code = 2

    def __init__(self, message: str, *, where: str | None = None) -> None:
        self.message = message
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class InvalidInput(AuditError):
    """The input was read but is wrong (schema error, failed check)."""

    exit_code = 1


class UsageError(AuditError):
    """Bad arguments, or an input that cannot be found or read."""

    exit_code = 2
