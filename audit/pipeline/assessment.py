"""``audit.assess``: the statistics of a run (or of a counts table) -> stats.json."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from audit.api.scorer import ABSTAIN
from audit.errors import UsageError

if TYPE_CHECKING:
    from audit.options import StatsOptions
    from audit.rundir.card import RunCard
    from audit.stats.assess import StatsResult
    from audit.stats.correction import Confusion
    from audit.stats.references import Reference


@dataclass(frozen=True)
class AssessResult:
    document: dict[str, Any]  # stats.json (schemas/stats.schema.json)
    path: Path | None  # where it was written, if it was
    result: StatsResult  # the same tables as DataFrames

    @property
    def proportions(self) -> pd.DataFrame:
        """One row per (group, attribute, category): n, k, estimate, interval, test."""
        return self.result.proportions

    @property
    def comparisons(self) -> pd.DataFrame:
        return self.result.comparisons


def _label_sets(card: RunCard, decisions: pd.DataFrame,
                answers: dict[str, str]) -> dict[str, list[str]]:
    """Confident labels per attribute from the answering scorer's card (so
    unseen categories count as 0), else the labels that occur."""
    sets = {}
    for attribute, scorer in answers.items():
        labels = (card.scorer(scorer) or {}).get("labels", {}).get(attribute)
        if labels is None:
            labels = sorted(decisions[decisions.attribute == attribute].label.unique())
        sets[attribute] = [label for label in labels if label not in ABSTAIN]
    return sets


def assess_run(run: Path, *, settings: Any, confusion: Path | None = None,
               answers: dict[str, str] | None = None, use_labels: bool = True,
               reference: str | list[str] | None = None) -> Any:
    """A run directory's tables -> StatsResult (nothing rescored or
    regenerated). Human labels in the run are used unless ``use_labels`` is
    False; ``reference`` (named references) replaces the suite's."""
    from audit.data_files import default_answers
    from audit.references import reference_for
    from audit.review.sample import read_sample
    from audit.rundir import RunDir
    from audit.rundir.labels import current_labels
    from audit.stats.correction import Confusion
    from audit.stats.run_tables import assess_tables, resolve_answers
    from audit.user_tables import read_confusion

    rundir = RunDir(Path(run)).require()
    card = rundir.card()
    images = rundir.read_images()
    tables = rundir.read_scores()
    decisions = tables.decisions[["image_id", "scorer", "attribute", "label"]]
    suite = card.suite
    chosen = resolve_answers(decisions, requested={**suite.answers, **(answers or {})},
                             defaults=default_answers(), where=str(rundir.scores.decisions),
                             needed=suite.attributes or None)
    reference_name = reference if reference is not None else suite.reference
    attributes = suite.attributes or sorted(chosen)
    references = {a: reference_for(reference_name, a) for a in attributes}
    safety = card.scorer("nudenet") is not None or card.scorer("clip_concepts") is not None
    nudenet = (card.scorer("nudenet") or {}).get("thresholds", {})
    return assess_tables(
        measurements=tables.measurements if safety or card.scorer("adherence") else None,
        unsafe_labels=nudenet.get("unsafe_labels", []) if safety else None,
        unsafe_threshold=nudenet.get("unsafe"),
        images=images, decisions=decisions, inputs=tables.inputs, attributes=attributes,
        answers=chosen, label_sets=_label_sets(card, decisions, chosen),
        references=references, settings=settings,
        confusion={attribute: Confusion.from_spec(spec, f"confusion file {confusion.name}")
                   for attribute, spec in read_confusion(confusion).items()}
        if confusion is not None else None,
        labels=current_labels(rundir.read_labels()) if use_labels else None,
        sample=read_sample(rundir) if use_labels else None,
        source={"kind": "run", "run": str(rundir.root), "suite": suite.name,
                "inputs": rundir.inputs_of_stats(labels=use_labels),
                "suite_version": suite.version, "model": card.model_id,
                "reference": reference_name})


def assess(*, run: Path | None = None, counts: Path | pd.DataFrame | None = None,
           reference: Path | str | None = None, attribute: str = "label", ci: str = "wilson",
           simultaneous: str | None = None, correction: str = "bh", alpha: float = 0.05,
           seed: int = 0, confusion: Path | None = None, answers: dict[str, str] | None = None,
           labels: bool = True, out: Path | None = None, write: bool = True) -> AssessResult:
    """Shares with intervals, tests against the reference, effects,
    comparisons and corrected p-values.

    For a ``run`` the result is written to RUN/stats.json (or ``out``) unless
    ``write=False``; for ``counts`` (a CSV path or a DataFrame with group,
    category, count) only when ``out`` is given. ``answers`` names the scorer
    whose decisions count for an attribute, overriding the suite's.
    ``labels=False`` ignores the run's human labels (RUN/labels.parquet).
    ``reference``: with counts, a CSV of group,category,proportion or
    ``"uniform"`` (parity, the default); with a run, a named reference
    replacing the suite's (comma-separated names are tried in order per
    attribute).
    """
    from audit.options import StatsOptions

    options = StatsOptions.of(locals())
    return assess_with(options, run=run, counts=counts, reference=reference,
                       attribute=attribute, out=out, write=write)


def assess_with(options: StatsOptions, *, run: Path | None = None,
                counts: Path | pd.DataFrame | None = None,
                reference: Path | str | None = None,
                attribute: str = "label", out: Path | None = None,
                write: bool = True) -> AssessResult:
    """``assess`` on options already built and checked."""
    from audit.rundir import RunDir
    from audit.rundir.atomic import write_json
    from audit.stats.assess import assess_counts
    from audit.stats.output import stats_document
    from audit.stats.references import UNIFORM, check_groups
    from audit.user_tables import read_counts_csv, read_reference_csv

    if (run is None) == (counts is None):
        raise UsageError("give either a run directory or counts (not both)")
    settings = options.settings()
    confusion, answers, labels = options.confusion, options.answers, options.labels
    if counts is not None:
        table = counts if isinstance(counts, pd.DataFrame) else read_counts_csv(Path(counts))
        where = str(counts) if not isinstance(counts, pd.DataFrame) else "counts"
        errors, outcomes = None, None
        if confusion is not None:
            errors, outcomes, table = _counted_through(table, Path(confusion), attribute, where)
        parity = reference is None or str(reference) == "uniform"
        ref = UNIFORM if parity else read_reference_csv(Path(reference))
        if not parity:
            check_groups(table, ref, where)
        result = assess_counts(table, attribute=attribute, reference=ref, settings=settings,
                               source={"kind": "counts",
                                       "counts": "DataFrame" if isinstance(counts, pd.DataFrame)
                                       else str(counts),
                                       "reference": "uniform" if parity else str(reference),
                                       **({"confusion": str(confusion)} if errors else {})})
        if errors is not None:
            _correct_counts(result, errors, outcomes, attribute, ref)
        document = stats_document(result)
        if out:
            write_json(Path(out), document)
        return AssessResult(document, Path(out) if out else None, result)
    result = assess_run(Path(run), settings=settings,
                        confusion=Path(confusion) if confusion is not None else None,
                        answers=answers, use_labels=labels,
                        reference=_names(str(reference)) if reference is not None else None)
    document = stats_document(result)
    path = RunDir(Path(run)).write_stats(document, Path(out) if out else None) if write else None
    return AssessResult(document, path, result)


def _counted_through(table: pd.DataFrame, path: Path, attribute: str, where: str
                     ) -> tuple[Confusion, pd.DataFrame, pd.DataFrame]:
    """A classifier's counted labels with its confusion: the confusion, every
    outcome counted (group, label, count; abstentions included) and the
    confident labels' counts (every true class of each group, zeros too)."""
    from audit.errors import InvalidInput
    from audit.registry import suggest
    from audit.stats.correction import Confusion
    from audit.user_tables import read_confusion

    specs = read_confusion(path)
    if attribute not in specs:
        raise UsageError(f"no attribute '{attribute}' in the confusion file (has: "
                         f"{', '.join(specs)}); name it with --attribute", where=str(path))
    errors = Confusion.from_spec(specs[attribute], f"confusion file {path.name}")
    for category in dict.fromkeys(table.category):
        if category not in errors.outcomes:
            raise InvalidInput(f"field category: '{category}' is not an outcome of the "
                               f"confusion for '{attribute}'"
                               f"{suggest(category, errors.outcomes)}", where=where)
    outcomes = table.rename(columns={"category": "label"})[["group", "label", "count"]]
    groups = list(dict.fromkeys(table.group))
    grid = pd.MultiIndex.from_product([groups, errors.true], names=["group", "category"])
    confident = (table.set_index(["group", "category"])["count"].reindex(grid, fill_value=0)
                 .reset_index())
    return errors, outcomes, confident


def _correct_counts(result: StatsResult, errors: Confusion, outcomes: pd.DataFrame,
                    attribute: str, reference: Reference) -> None:
    """Corrected shares, and each group's test through the confusion."""
    from audit.stats.assess import apply_multiplicity
    from audit.stats.correction import corrected_rows
    from audit.stats.through_classifier import retest_through_confusion

    settings = result.settings
    retest_through_confusion(result.proportions, attribute=attribute, confusion=errors,
                             outcomes=outcomes, reference=reference,
                             mc_draws=settings.mc_draws, seed=settings.seed)
    result.corrected = pd.DataFrame(corrected_rows(
        outcomes.assign(attribute=attribute), {attribute: errors}, alpha=settings.alpha,
        seed=settings.seed))
    apply_multiplicity(result)


def _names(given: str) -> list[str]:
    from audit.references import REFERENCES

    names = [n.strip() for n in given.split(",") if n.strip()]
    for name in names:
        if name not in REFERENCES:
            raise REFERENCES.unknown(name)
    return names
