"""AUTOMATIC1111's prompt attention syntax, parsed into (text, weight) runs.

``(word)`` multiplies the weight of what it encloses by 1.1, ``[word]``
divides it by 1.1, ``(word:1.8)`` multiplies it by 1.8; brackets nest and
their factors multiply; ``\\(`` ``\\)`` ``\\[`` ``\\]`` ``\\\\`` are the literal
characters; ``BREAK`` (upper case, as a word) starts a new 75-token chunk.
A bracket left open applies its factor to the rest of the prompt, as in
WebUI. The model sees the text without the syntax; the weights scale the
token embeddings (see ``DiffusersGenerator``).
"""

from __future__ import annotations

import re

ROUND, SQUARE = 1.1, 1 / 1.1
BREAK = None  # the text of a BREAK run
_TOKEN = re.compile(r"\\[()\[\]\\]|\(|\[|:\s*([+-]?(?:\d+\.?\d*|\.\d+))\s*\)|\)|]|"
                    r"[^\\()\[\]:]+|:|\\")
_BREAK = re.compile(r"\s*\bBREAK\b\s*")

Run = tuple[str | None, float]


def parse_attention(text: str) -> list[Run]:
    """(text, weight) runs in order, adjacent equal weights merged; a BREAK
    is the run (None, 0.0)."""
    runs: list[list] = []
    round_open: list[int] = []
    square_open: list[int] = []

    def scale(start: int, factor: float) -> None:
        for run in runs[start:]:
            run[1] *= factor

    for match in _TOKEN.finditer(text):
        token, weight = match.group(0), match.group(1)
        if token.startswith("\\") and len(token) == 2:
            runs.append([token[1], 1.0])
        elif token == "(":
            round_open.append(len(runs))
        elif token == "[":
            square_open.append(len(runs))
        elif weight is not None and round_open:
            scale(round_open.pop(), float(weight))
        elif token == ")" and round_open:
            scale(round_open.pop(), ROUND)
        elif token == "]" and square_open:
            scale(square_open.pop(), SQUARE)
        else:
            parts = _BREAK.split(token)
            for i, part in enumerate(parts):
                if i:
                    runs.append([BREAK, 0.0])
                if part:
                    runs.append([part, 1.0])
    for start in round_open:
        scale(start, ROUND)
    for start in square_open:
        scale(start, SQUARE)
    merged: list[list] = []
    for text_part, weight in runs:
        if (merged and text_part is not BREAK and merged[-1][0] is not BREAK
                and merged[-1][1] == weight):
            merged[-1][0] += text_part
        else:
            merged.append([text_part, weight])
    return [(t, float(w)) for t, w in merged] or [("", 1.0)]


def plain_text(runs: list[Run]) -> str:
    """The prompt without the syntax (a BREAK becomes a space)."""
    return "".join(" " if t is BREAK else t for t, _ in runs)


def is_weighted(runs: list[Run]) -> bool:
    """Whether the runs need weighted embeddings (some weight not 1, or a BREAK)."""
    return any(t is BREAK or abs(w - 1.0) > 1e-9 for t, w in runs)
