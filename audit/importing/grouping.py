"""Which prompts are the same item, and what slot values they carry.

``--group-by "a photo of {occupation|a}"`` turns a suite-style template into
a pattern matched against whole prompts: "a photo of a nurse" is the item
``a-photo-of--nurse`` with slot occupation = nurse, as a suite would have
made it, so references and comparisons work on imported images too.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from audit.errors import UsageError
from audit.suites.expand import _PLACEHOLDER, placeholders, slug


@dataclass(frozen=True)
class Group:
    item_id: str
    template: str  # the template text, or the prompt itself when ungrouped
    slots: dict[str, str]


class Template:
    def __init__(self, text: str) -> None:
        names = placeholders(text)
        if not names:
            raise UsageError(f"--group-by '{text}' has no {{slot}}; e.g. 'a photo of "
                             "{occupation|a}'")
        self.text = text
        self.id = slug(_PLACEHOLDER.sub("", text)) or "template"
        pattern, last, seen = "", 0, set()
        for match in _PLACEHOLDER.finditer(text):
            pattern += re.escape(text[last:match.start()])
            name = match.group(1)
            article = r"(?:an? )?" if match.group(2) else ""
            pattern += (f"{article}(?P={name})" if name in seen
                        else f"{article}(?P<{name}>.+?)")
            seen.add(name)
            last = match.end()
        pattern += re.escape(text[last:])
        self.pattern = re.compile(rf"^\s*{pattern}\s*$", re.IGNORECASE | re.DOTALL)
        self.names = names

    def match(self, prompt: str) -> Group | None:
        found = self.pattern.match(prompt)
        if found is None:
            return None
        slots = {n: found.group(n).strip() for n in self.names}
        suffix = "--".join(slug(slots[n]) for n in self.names)
        return Group(f"{self.id}--{suffix}", self.text, slots)


def ungrouped(prompt: str, negative: str) -> Group:
    """One item per distinct prompt (and negative prompt), with a readable id."""
    digest = hashlib.sha256(f"{prompt}\x00{negative}".encode()).hexdigest()[:8]
    return Group(f"prompt--{slug(prompt)[:40].strip('-') or 'empty'}-{digest}", prompt, {})


def group_of(prompt: str | None, negative: str | None, templates: list[Template],
             named: str | None, slots: dict[str, str]) -> Group | None:
    """A manifest's group wins, then the first matching template, then the
    prompt itself; None when there is no prompt to group by."""
    if named:
        return Group(slug(named) or "group", named, dict(slots))
    if prompt is None:
        return None
    for template in templates:
        group = template.match(prompt)
        if group is not None:
            return Group(group.item_id, group.template, {**group.slots, **slots})
    return ungrouped(prompt, negative or "")
