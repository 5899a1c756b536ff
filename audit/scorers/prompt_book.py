"""What each image of a run was asked to show: its prompt and slot values,
and every value each slot takes in the suite. Scorers that judge an image
against its prompt (``adherence``) read it from their ``BuildContext``; a
folder scored on its own has none."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Asked = tuple[str, dict[str, str]]  # (prompt, slot values)


def _slots(raw: Any) -> dict[str, str]:
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items()}
    try:
        parsed = json.loads(raw) if isinstance(raw, str) and raw else {}
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in parsed.items()} if isinstance(parsed, dict) else {}


@dataclass
class PromptBook:
    """``by_image``: image id -> what it was asked; ``by_item``: item id ->
    the same, for images not in the table yet (scored while generating);
    ``reload``: re-reads the images table on a miss."""

    by_image: dict[str, Asked] = field(default_factory=dict)
    by_item: dict[str, Asked] = field(default_factory=dict)
    slot_values: dict[str, list[str]] = field(default_factory=dict)
    reload: Callable[[], dict[str, Asked]] | None = None

    def lookup(self, image_id: str) -> Asked | None:
        found = self.by_image.get(image_id) or self.by_item.get(image_id.rsplit("/", 1)[0])
        if found is None and self.reload is not None:
            self.by_image = self.reload()
            found = self.by_image.get(image_id)
        return found

    @staticmethod
    def required(context: Any, scorer: str) -> PromptBook:
        """The prompts a scorer that judges images against them is built
        with; a folder scored alone has none, and the scorer is refused."""
        book = getattr(context, "prompts", None)
        if book is None:
            from audit.errors import UsageError

            raise UsageError(f"the {scorer} scorer judges images against their prompts: score "
                             "a run (generated or imported), not a folder")
        return book

    @classmethod
    def of_suite(cls, suite: Any, rundir: Any | None = None) -> PromptBook:
        """Every item the suite expands to; images not among them (a sweep's
        variants, an imported run's files) are looked up in the run's
        images table."""
        from audit.suites.expand import expand

        book = cls()
        for item in expand(suite):
            book.by_item[item.item_id] = (item.prompt, dict(item.slots))
        if rundir is not None:
            book.reload = lambda: _table(rundir)
        book._collect()
        return book

    @classmethod
    def of_run(cls, rundir: Any) -> PromptBook:
        """From the run's images table and, for a generated run, its suite
        (the suite's slot values, not only those drawn so far)."""
        path = (rundir.card().data.get("suite") or {}).get("path") or ""
        if path and Path(path).is_file():
            from audit.suites import load_suite

            book = cls.of_suite(load_suite(Path(path)), rundir)
        else:
            book = cls(reload=lambda: _table(rundir))
        book.by_image = _table(rundir)
        book._collect()
        return book

    def _collect(self) -> None:
        for _, slots in [*self.by_item.values(), *self.by_image.values()]:
            for name, value in slots.items():
                if value not in self.slot_values.setdefault(name, []):
                    self.slot_values[name].append(value)


def _table(rundir: Any) -> dict[str, Asked]:
    if not (rundir.images_table.is_file() and rundir.run_json.is_file()):
        return {}
    images = rundir.read_images()
    return {r.image_id: (r.prompt, _slots(r.slots)) for r in images.itertuples()
            if isinstance(r.prompt, str)}
