"""``audit.probes`` and ``audit.plan``: what an audit will ask, and how many
images it needs for the power wanted."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from audit.errors import UsageError

if TYPE_CHECKING:
    from audit.stats.power import Plan
    from audit.suites import Item, Suite


@dataclass(frozen=True)
class ProbeSuite:
    """A suite file: loaded and expanded when valid, else every problem it has."""

    path: Path
    suite: Suite | None
    items: list[Item]  # each with its id and prompt
    problems: list[str]  # one line each, naming the file and the JSON pointer

    @property
    def valid(self) -> bool:
        return not self.problems


def probes(*, suites: list[str | Path] | None = None) -> list[ProbeSuite]:
    """The bundled suites (or the ``suites`` named: bundled names or .yaml
    paths), each checked against its schema and expanded into items. An
    unknown name or unreadable file raises UsageError."""
    from audit.paths import probes_dir
    from audit.suites import expand, load_suite, suite_problems
    from audit.suites.load import find_suite

    def located(name: str | Path) -> Path:  # a file's own problems are listed, not raised
        path = Path(name)
        return path if path.suffix in (".yaml", ".yml") or path.exists() else find_suite(
            str(name))

    paths = ([located(s) for s in suites] if suites
             else sorted(p for p in probes_dir().glob("*.yaml") if not p.name.startswith("_")))
    out = []
    for path in paths:
        problems = suite_problems(path)
        loaded = None if problems else load_suite(path)
        out.append(ProbeSuite(path, loaded, expand(loaded) if loaded else [], problems))
    return out


def plan(*, p0: float | Sequence[float], p1: float | Sequence[float], categories: int = 2,
         alpha: float = 0.05, power: float = 0.8, tests: int = 1,
         correction: str = "bonferroni", effects: int = 1, sensitivity: float = 1.0,
         specificity: float = 1.0, labels: int | None = None, confusion: Path | None = None,
         attribute: str | None = None, category: str | None = None, loss: float = 0.0) -> Plan:
    """Images to generate per prompt to tell ``p1`` from ``p0`` with the test
    ``audit stats`` runs on a prompt, after the correction over ``tests``
    prompts, classifier error and the share of images not counted.

    ``p0``/``p1``: the first category's share (the others share the rest;
    ``categories`` of them) or every category's. Classifier error: the
    ``sensitivity``/``specificity`` of that category (exact, unless
    ``labels`` images per class measured them), or a ``confusion`` file's
    labelled counts for ``attribute`` (``category`` is the one p0 and p1
    are of; the file's abstentions add to ``loss``), which is also what
    ``audit stats --confusion`` tests through. ``generate`` of the result is
    None when the power is not reached below its search limit."""
    from audit.stats.power import plan as make_plan
    from audit.stats.power import rates_from_confusion

    abstention, labelled, confident, focal = 0.0, None, None, 0
    if confusion is not None:
        from audit.user_tables import read_confusion

        attributes = read_confusion(Path(confusion))
        if attribute not in attributes or category is None:
            raise UsageError(f"--confusion needs --attribute (one of: {', '.join(attributes)}) "
                             "and --category", where=str(confusion))
        spec = attributes[attribute]
        if category not in spec["true"]:
            raise UsageError(f"category '{category}' is not a true label of '{attribute}' (has: "
                             f"{', '.join(spec['true'])})", where=str(confusion))
        abstention = rates_from_confusion(spec, category)[2]
        labelled = spec["confusion"]
        confident = [spec["predicted"].index(t) for t in spec["true"]]
        focal = spec["true"].index(category)
        categories = len(spec["true"])
    try:
        return make_plan(p0=p0, p1=p1, categories=categories, focal=focal, alpha=alpha,
                         power=power, tests=tests, correction=correction, effects=effects,
                         sensitivity=sensitivity, specificity=specificity, labels=labels,
                         labelled=labelled, confident=confident,
                         loss=1 - (1 - loss) * (1 - abstention))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
