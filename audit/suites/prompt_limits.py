"""What a prompt may be before anything is generated from it: bounded in
length and in BREAK chunks (each chunk is a 77-token encoder pass kept in
memory), with prompt weights that are numbers a model can scale by. Checked
when a suite expands, so a bad prompt stops before a model loads."""

from __future__ import annotations

import math
import re

MAX_PROMPT_CHARS = 20_000  # about 260 chunks of 75 tokens; WebUI prompts are far shorter
MAX_BREAKS = 32
MAX_WEIGHT = 100.0  # (word:100) already drowns the rest of the prompt
_BREAK = re.compile(r"\bBREAK\b")
_WORD_WEIGHT = re.compile(r":\s{0,8}[+-]?(inf|infinity|nan)\s{0,8}\)", re.IGNORECASE)
_WEIGHT = re.compile(r":\s{0,8}([+-]?(?:\d++(?:\.\d*+)?|\.\d++))\s{0,8}\)")  # possessive: linear


def prompt_problem(text: str) -> str | None:
    if len(text) > MAX_PROMPT_CHARS:
        return (f"a prompt of {len(text)} characters; more than {MAX_PROMPT_CHARS} is "
                "refused")
    breaks = len(_BREAK.findall(text))
    if breaks > MAX_BREAKS:
        return f"a prompt with {breaks} BREAKs; more than {MAX_BREAKS} is refused"
    word = _WORD_WEIGHT.search(text)
    if word:
        return f"prompt weight '{word.group(1)}' is not a finite number"
    for match in _WEIGHT.finditer(text):
        weight = float(match.group(1))
        if not math.isfinite(weight) or abs(weight) > MAX_WEIGHT:
            return (f"prompt weight {match.group(1)[:40]} is beyond +-{MAX_WEIGHT:g}")
    return None


def styled_length(style: str, text: str, placeholder: str) -> int:
    """The length a style gives a text, known before the text is built (a
    style with ten placeholders applied seven times is 10^7 copies)."""
    count = style.count(placeholder)
    if count:
        return len(style) + count * (len(text) - len(placeholder))
    return len(text) + 2 + len(style) if text else len(style)
