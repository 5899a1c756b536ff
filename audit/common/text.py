"""User text on one terminal line: control characters shown, not obeyed.

A file name, a label or a provider's error message can carry ESC sequences
(which retitle or repaint the terminal) or newlines (which split one error
into two lines); every message the CLI prints goes through ``one_line``.
"""

from __future__ import annotations

import re

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def one_line(text: object) -> str:
    """``text`` with each control character as its escape (\\n, \\x1b, ...)."""
    return CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(text))


FORMULA = ("=", "+", "-", "@")


def spreadsheet_cell(value: object) -> object:
    """A CSV cell a spreadsheet shows as text: control characters escaped and
    a leading formula character quoted with ' (as OWASP advises for CSV
    injection); numbers and missing values pass unchanged."""
    if not isinstance(value, str):
        return value
    value = one_line(value)
    return "'" + value if value.startswith(FORMULA) else value
