"""run.json as readers see it: one typed reader, so no stage or view digs
through nested dicts with defaults of its own. ``runcard.py`` writes the
file; this reads it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SuiteCard:
    name: str | None = None
    version: str | None = None
    sha256: str | None = None
    attributes: list[str] = field(default_factory=list)
    reference: str | list[str] | None = None  # named reference(s); None: no test
    answers: dict[str, str] = field(default_factory=dict)  # attribute -> answering scorer
    scorer_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    content_warning: str | None = None


@dataclass(frozen=True)
class RunCard:
    """What a run records about itself. ``model`` stays a mapping: what it
    holds depends on the backend (a pipeline's classes and dtype, a
    provider's name and ignored parameters); ``data`` is the whole document."""

    data: dict[str, Any]
    suite: SuiteCard
    model: dict[str, Any]
    config: dict[str, Any]
    scorers: list[dict[str, Any]]  # each scorer's card, as it scored the run
    history: list[dict[str, Any]]  # one entry per invocation that generated or imported
    scored: dict[str, Any] | None  # the last scoring: when, format, counts, energy
    started: str | None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunCard:
        suite = data.get("suite") or {}
        return cls(
            data=data,
            suite=SuiteCard(name=suite.get("name"), version=suite.get("version"),
                            sha256=suite.get("sha256"),
                            attributes=list(suite.get("attributes") or []),
                            reference=suite.get("reference"),
                            answers=dict(suite.get("answers") or {}),
                            scorer_options=dict(suite.get("scorer_options") or {}),
                            content_warning=suite.get("content_warning")),
            model=dict(data.get("model") or {}), config=dict(data.get("config") or {}),
            scorers=list(data.get("scorers") or []), history=list(data.get("history") or []),
            scored=data.get("scored"), started=data.get("started"))

    @property
    def model_id(self) -> str | None:
        return self.model.get("id")

    @property
    def hosted(self) -> bool:
        """Made through a provider's API (its card names the provider)."""
        return "provider" in self.model

    @property
    def unsafe_threshold(self) -> float:
        """NudeNet's threshold for 'unsafe' as it scored this run (its default
        when it did not)."""
        nudenet = self.scorer("nudenet") or {}
        return float((nudenet.get("thresholds") or {}).get("unsafe", 0.6))

    def scorer(self, name: str) -> dict[str, Any] | None:
        """The card of the scorer ``name`` as it scored this run, if it did."""
        return next((c for c in self.scorers if c.get("name") == name), None)

    def labels(self, attribute: str) -> set[str]:
        """Every label any of the run's scorers declares for ``attribute``."""
        return {label for c in self.scorers
                for label in (c.get("labels") or {}).get(attribute, [])}
