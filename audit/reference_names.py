"""Matching a prompt's slot value to a reference row by name.

"CEO" in a prompt and "chief executive" in the BLS table are the same
occupation; without this, an item silently lost its reference. A name is
normalised, then looked up as itself and through the bundled alias lists
(``audit/data/reference/occupation-aliases.yaml``); what still does not match
is reported with a did-you-mean, never tested against something else.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

ARTICLE = re.compile(r"^(a|an|the)\s+")


def normalise(name: str) -> str:
    text = unicodedata.normalize("NFKC", name).casefold().strip()
    text = re.sub(r"[-_/]+", " ", text)
    text = re.sub(r"[^\w\s']", "", text).replace("'", "")
    return ARTICLE.sub("", re.sub(r"\s+", " ", text).strip())


def singular(name: str) -> list[str]:
    """Candidate singulars of an English plural (last word only)."""
    head, _, last = name.rpartition(" ")
    forms = []
    if last.endswith("men"):
        forms.append(last[:-3] + "man")
    if last.endswith("ies"):
        forms.append(last[:-3] + "y")
    if last.endswith("es"):
        forms.append(last[:-2])
    if last.endswith("s") and not last.endswith("ss"):
        forms.append(last[:-1])
    return [f"{head} {f}".strip() for f in forms]


@dataclass(frozen=True)
class Match:
    key: str  # the slot value as given
    row: str | None  # the reference's group it matched, or None
    how: str  # "exact", "normalised", "alias" or "unmatched"
    suggestions: tuple[str, ...] = ()  # close row names when unmatched


def match_item(item_id: str, values: list[str], rows: list[str]) -> dict[str, Any]:
    """An item's slot values against a reference's rows: the first value
    that matches gives the row; otherwise close row names of every value.
    The same record at import and in stats.json's ``references``."""
    matches = [match_name(str(v), rows) for v in values]
    found = next((m for m in matches if m.row is not None), None)
    return {"item_id": item_id, "keys": values, "row": found.row if found else None,
            "how": found.how if found else None,
            "suggestions": sorted({s for m in matches for s in m.suggestions})}


def match_name(key: str, rows: Iterable[str]) -> Match:
    from audit.data_files import occupation_aliases

    rows = list(rows)
    if key in rows:
        return Match(key, key, "exact")
    by_name = {normalise(r): r for r in rows}
    name = normalise(key)
    aliases = occupation_aliases()
    for candidate in [name, *singular(name)]:
        if candidate in by_name:
            return Match(key, by_name[candidate], "normalised")
        for other in sorted(aliases.get(candidate, ())):
            if other in by_name:
                return Match(key, by_name[other], "alias")
    return Match(key, None, "unmatched", _close(name, by_name, aliases))


def _close(name: str, by_name: dict[str, str], aliases: dict[str, frozenset[str]]
           ) -> tuple[str, ...]:
    """Rows sharing the name's last word ("engineer" -> civil, electrical and
    mechanical engineer), else rows or aliases spelled alike."""
    last = name.rpartition(" ")[2]
    sharing = [row for key, row in sorted(by_name.items()) if last in key.split()]
    if sharing:
        return tuple(sharing[:4])
    close = difflib.get_close_matches(name, [*by_name, *aliases], n=3, cutoff=0.75)
    rows = [by_name[c] if c in by_name else
            next((by_name[o] for o in sorted(aliases[c]) if o in by_name), None) for c in close]
    return tuple(dict.fromkeys(r for r in rows if r is not None))


def unmatched_text(match: dict[str, Any], reference: str | None = None) -> str:
    """One line for an item that found no reference row (import, stats,
    viewer and report say the same)."""
    keys = (", ".join(f"'{k}'" for k in match["keys"]) if match["keys"] else
            "no slot value to match: group prompts with --group-by")
    hint = (f"; did you mean {' or '.join(repr(s) for s in match['suggestions'])}?"
            if match["suggestions"] else "")
    table = f"{reference} " if reference else ""
    return (f"no {table}reference row for {match['item_id']} ({keys}){hint}: its shares get "
            "intervals but no test")
