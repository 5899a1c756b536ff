"""Which prompts are the same item, and what slot values they carry.

``--group-by "a photo of {occupation|a}"`` turns a suite-style template into
a pattern matched against whole prompts: "a photo of a nurse" is the item
``a-photo-of--nurse`` with slot occupation = nurse, as a suite would have
made it, so references and comparisons work on imported images too.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from audit.errors import UsageError
from audit.suites.expand import _PLACEHOLDER, placeholders, slug

MAX_NAME = 80  # characters of a stored name made from a user's file or folder name


def bounded(name: str) -> str:
    """A name made from user text that any file system stores, temp prefix and
    suffix included: past ``MAX_NAME`` it is cut and a hash of the whole keeps
    it distinct (the original name stays in the table's ``imported.file``)."""
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    return f"{name[:MAX_NAME - 11].rstrip('-')}-{digest}"


@dataclass(frozen=True)
class Group:
    item_id: str
    template: str  # the template text, or the prompt itself when ungrouped
    slots: dict[str, str]


class Template:
    """A template matched by its literal text, without a regular expression:
    each slot ends at the first place the next literal occurs (the last
    literal at the end of the prompt), which is the split a non-greedy
    pattern finds, in time linear in the prompt where a backtracking pattern
    with five slots is polynomial of degree five."""

    def __init__(self, text: str) -> None:
        names = placeholders(text)
        if not names:
            raise UsageError(f"--group-by '{text}' has no {{slot}}; e.g. 'a photo of "
                             "{occupation|a}'")
        self.text = text
        self.id = slug(_PLACEHOLDER.sub("", text)) or "template"
        self.literals: list[str] = []
        self.slots: list[tuple[str, bool]] = []  # (name, takes an article)
        last = 0
        for match in _PLACEHOLDER.finditer(text):
            self.literals.append(text[last:match.start()].lower())
            self.slots.append((match.group(1), bool(match.group(2))))
            last = match.end()
        self.literals.append(text[last:].lower())
        self.literals[0] = self.literals[0].lstrip()
        self.literals[-1] = self.literals[-1].rstrip()
        self.names = names

    def match(self, prompt: str) -> Group | None:
        text = prompt.strip()
        low = text.lower()
        if len(low) != len(text):  # a character whose lower case is longer: compare as is
            low = text
        if not low.startswith(self.literals[0]):
            return None
        position, tail = len(self.literals[0]), self.literals[-1]
        if not low.endswith(tail) or len(low) - len(tail) < position:
            return None
        slots: dict[str, str] = {}
        for i, (name, article) in enumerate(self.slots):
            following = self.literals[i + 1]
            if i == len(self.slots) - 1:
                end = len(low) - len(tail)
            elif following:
                end = low.find(following, position + 1)
            else:
                end = position + 1
            if end < position + 1:
                return None
            value = text[position:end]
            position = end + len(following)
            if article:
                for word in ("an ", "a "):
                    if value.lower().startswith(word) and len(value) > len(word):
                        value = value[len(word):]
                        break
            value = value.strip()
            if slots.setdefault(name, value) != value:
                return None  # a slot named twice holds one value
        suffix = "--".join(slug(slots[n]) for n in self.names)
        return Group(bounded(f"{self.id}--{suffix}"), self.text, slots)


def ungrouped(prompt: str, negative: str) -> Group:
    """One item per distinct prompt (and negative prompt), with a readable id."""
    digest = hashlib.sha256(f"{prompt}\x00{negative}".encode()).hexdigest()[:8]
    return Group(f"prompt--{slug(prompt)[:40].strip('-') or 'empty'}-{digest}", prompt, {})


def group_of(prompt: str | None, negative: str | None, templates: list[Template],
             named: str | None, slots: dict[str, str]) -> Group | None:
    """A manifest's group wins, then the first matching template, then the
    prompt itself; None when there is no prompt to group by."""
    if named:
        return Group(bounded(slug(named)) or "group", named, dict(slots))
    if prompt is None:
        return None
    for template in templates:
        group = template.match(prompt)
        if group is not None:
            return Group(group.item_id, group.template, {**group.slots, **slots})
    return ungrouped(prompt, negative or "")
