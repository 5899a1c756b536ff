"""Templates x slot values -> items with stable ids.

An item id depends only on the template id and its own slot values, never on
list order, so adding an occupation does not renumber the others and runs
stay comparable across suite versions.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from audit.errors import InvalidInput
from audit.suites.prompt_limits import prompt_problem

if TYPE_CHECKING:
    from audit.suites.load import Suite

_PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)(\|a)?\}")


def placeholders(text: str) -> list[str]:
    """Slot names in order of first appearance."""
    return list(dict.fromkeys(m.group(1) for m in _PLACEHOLDER.finditer(text)))


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


@dataclass(frozen=True)
class SlotValue:
    value: str
    key: str
    article: str | None = None
    expect: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: str | dict[str, Any]) -> SlotValue:
        if isinstance(raw, str):
            return cls(value=raw, key=raw)
        return cls(value=raw["value"], key=raw.get("key", raw["value"]),
                   article=raw.get("article"), expect=dict(raw.get("expect", {})))

    def with_article(self) -> str:
        article = self.article
        if article is None:
            article = "an" if self.value[:1].lower() in "aeiou" else "a"
        return f"{article} {self.value}".strip()


@dataclass(frozen=True)
class Item:
    item_id: str
    template_id: str
    template: str
    role: str
    prompt: str
    negative_prompt: str
    slots: dict[str, str]
    reference_keys: dict[str, str]
    expected: dict[str, str]
    counterfactual_group: str | None


def expand(suite: Suite) -> list[Item]:
    data = suite.data
    slot_values = {name: [SlotValue.parse(v) for v in values]
                   for name, values in data.get("slots", {}).items()}
    items: list[Item] = []
    for template in data["templates"]:
        names = placeholders(template["text"])
        role = template.get("role", "probe")
        negative = template.get("negative_prompt", data.get("negative_prompt", ""))
        for combo in itertools.product(*(slot_values[n] for n in names)):
            chosen = dict(zip(names, combo, strict=True))

            def fill(match: re.Match[str], chosen: dict[str, SlotValue] = chosen) -> str:
                value = chosen[match.group(1)]
                return value.with_article() if match.group(2) else value.value

            prompt = _PLACEHOLDER.sub(fill, template["text"])
            suffix = "--".join(slug(chosen[n].value) for n in names)
            group = None
            if template.get("vary"):
                rest = "--".join(slug(chosen[n].value) for n in names if n != template["vary"])
                group = f"{template['id']}--{rest}" if rest else template["id"]
            expected: dict[str, str] = {}
            if role == "control":
                for value in combo:
                    expected.update(value.expect)
            items.append(Item(
                item_id=f"{template['id']}--{suffix}" if suffix else template["id"],
                template_id=template["id"],
                template=template["text"],
                role=role,
                prompt=prompt,
                negative_prompt=negative,
                slots={n: v.value for n, v in chosen.items()},
                reference_keys={n: v.key for n, v in chosen.items()},
                expected=expected,
                counterfactual_group=group,
            ))
    seen: set[str] = set()
    for item in items:
        for field_name, text in (("prompt", item.prompt),
                                 ("negative prompt", item.negative_prompt)):
            problem = prompt_problem(text)
            if problem:
                raise InvalidInput(f"item '{item.item_id[:80]}', {field_name}: {problem}",
                                   where=f"{suite.path} /templates")
        if item.item_id in seen:
            raise InvalidInput(f"two items expand to the id '{item.item_id}'; "
                               "make slot values distinct", where=f"{suite.path} /templates")
        seen.add(item.item_id)
    return items
