"""Statistics of one audit's tables: images (the generation record) and
decisions (one label per image, scorer and attribute) -> everything
stats.json holds. Pure functions of DataFrames: reading a run directory is
``audit.pipeline.assess``'s job, and which scorer answers an attribute is
data passed in (``answers``), never the order scorers ran in.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import numpy as np
import pandas as pd

from audit.api.scorer import ABSTAIN, ON_CLASS, ON_CLASS_LABELS
from audit.api.statistic import COLUMNS
from audit.errors import UsageError
from audit.stats.abstention import abstention_tables
from audit.stats.adherence import (
    adherence_rates,
    conditional_rows,
    on_class_labels,
)
from audit.stats.assess import (
    COMPARISON_COLUMNS,
    METRIC_COLUMNS,
    Settings,
    StatsResult,
    apply_multiplicity,
    assess_counts,
)
from audit.stats.bootstrap import cluster_bootstrap, crossed_interval, seed_correlation
from audit.stats.compare import cochrans_q, paired_difference, permutation_homogeneity
from audit.stats.correction import Confusion, corrected_rows, outcome_counts
from audit.stats.funnel import funnel
from audit.stats.human_labels import HumanReview
from audit.stats.intervals import binomial_ci
from audit.stats.references import Reference
from audit.stats.through_classifier import retest_through_confusion

PERSON = "person_present"
# Safety attributes: measured on every valid image, with or without a person
# in it, and reported as unsafe rates (audit.stats.safety), never tested
# against a reference share or parity (1/19 of NudeNet's labels means nothing).
SAFETY_ATTRIBUTES = {"nsfw", "unsafe_concept", "nudenet"}


def resolve_answers(decisions: pd.DataFrame, *, requested: dict[str, str],
                    defaults: dict[str, list[str]], where: str,
                    needed: list[str] | None = None) -> dict[str, str]:
    """Which scorer answers each attribute: the one requested (suite or
    caller), else the only scorer that decided it, else the first of the
    default table's choices that did. Several candidates and no rule is an
    error, not a coin flip, for an attribute in ``needed`` (default: every
    one); one not needed is left out of the answers (it still counts in the
    agreement between scorers)."""
    answers: dict[str, str] = {}
    for attribute, frame in decisions.groupby("attribute", sort=True):
        names = sorted(set(frame.scorer))
        choice = requested.get(attribute)
        if choice is None:
            if len(names) == 1:
                choice = names[0]
            elif any(d in names for d in defaults.get(attribute, [])):
                choice = next(d for d in defaults[attribute] if d in names)
            elif needed is not None and attribute not in needed:
                continue
            else:
                raise UsageError(f"attribute '{attribute}' is decided by {', '.join(names)}; "
                                 f"say which answers it (suite 'answers: {{{attribute}: "
                                 f"{names[0]}}}' or --answer {attribute}={names[0]})",
                                 where=where)
        elif choice not in names:
            raise UsageError(f"scorer '{choice}' has no '{attribute}' decisions (has: "
                             f"{', '.join(names)})", where=where)
        answers[attribute] = choice
    return answers


def chosen(decisions: pd.DataFrame, answers: dict[str, str]) -> pd.DataFrame:
    """The answering scorer's decisions only."""
    keep = decisions.scorer == decisions.attribute.map(answers)
    return decisions[keep]


def reviewed_labels(labels: pd.DataFrame) -> pd.DataFrame:
    """image_id, attribute, label where people agree (the most frequent
    current label, not tied): the label the shares count for that image.
    A person's 'unclear' or 'no_person' takes the image out like the
    classifier's would."""
    rows = []
    for (image_id, attribute), frame in labels.groupby(["image_id", "attribute"], sort=False):
        votes = frame.label.value_counts()
        if len(votes) == 1 or votes.iloc[1] < votes.iloc[0]:
            rows.append({"image_id": image_id, "attribute": attribute,
                         "label": str(votes.index[0])})
    return pd.DataFrame(rows, columns=["image_id", "attribute", "label"])


def agreement(decisions: pd.DataFrame) -> list[dict[str, Any]]:
    """Cohen's kappa and the confusion table wherever two scorers decide the
    same attribute (e.g. CLIP vs NudeNet faces on gender presentation), over
    images both decided confidently."""
    from statsmodels.stats.inter_rater import cohens_kappa

    out = []
    for attribute, frame in decisions.groupby("attribute", sort=False):
        names = list(dict.fromkeys(frame.scorer))
        for i, first in enumerate(names):
            for second in names[i + 1:]:
                a = frame[frame.scorer == first].set_index("image_id").label
                b = frame[frame.scorer == second].set_index("image_id").label
                both = pd.concat([a.rename("a"), b.rename("b")], axis=1, join="inner")
                both = both[~both.a.isin(ABSTAIN) & ~both.b.isin(ABSTAIN)]
                if both.empty:
                    continue
                table = pd.crosstab(both.a, both.b)
                categories = sorted(set(table.index) | set(table.columns))
                table = table.reindex(index=categories, columns=categories, fill_value=0)
                counts = table.to_numpy()
                # a scorer that gave one label throughout agrees exactly at chance
                # level: kappa is 0 [0, 0] by construction, so it is reported as
                # undefined with the reason instead
                constant = [name for name, used in ((first, counts.sum(1)),
                                                     (second, counts.sum(0)))
                            if (used > 0).sum() < 2]
                if constant:
                    value = (float("nan"),) * 3
                    note = f"no variation: {' and '.join(constant)} gave one label throughout"
                else:
                    with warnings.catch_warnings():  # its z-test divides by 0 at kappa 0
                        warnings.simplefilter("ignore", RuntimeWarning)
                        kappa = cohens_kappa(counts, return_results=True)
                    value = (float(kappa.kappa), float(kappa.kappa_low), float(kappa.kappa_upp))
                    note = None
                out.append({"attribute": attribute, "scorers": f"{first} vs {second}",
                            "n": int(len(both)), "kappa": value[0],
                            "ci_low": value[1], "ci_high": value[2],
                            "agreement": float((both.a == both.b).mean()),
                            "categories": categories, "confusion": counts.tolist(),
                            "note": note})
    return out


def _item_references(images: pd.DataFrame, reference: Reference | None
                     ) -> tuple[Reference | None, list[dict[str, Any]]]:
    """Re-key a reference from slot values (e.g. occupation) to item ids,
    matching names through ``audit.reference_names``; also the items left
    without a row, each with what it was looked up by and close row names."""
    if reference is None or reference.parity:
        return reference, []
    from audit.reference_names import match_item

    known = list(dict.fromkeys(reference.table.group))
    rows, unmatched = [], []
    for item_id, keys in images.drop_duplicates("item_id")[["item_id", "reference_keys"]].values:
        match = match_item(item_id, list(json.loads(keys or "{}").values()), known)
        if match["row"] is not None:
            rows.append(reference.table[reference.table.group == match["row"]]
                        .assign(group=item_id))
        else:
            unmatched.append({k: match[k] for k in ("item_id", "keys", "suggestions")})
    table = pd.concat(rows, ignore_index=True) if rows else reference.table.iloc[:0]
    return Reference(reference.name, reference.source, table), unmatched


def seeds_shared(probes: pd.DataFrame) -> bool:
    """Do prompts share seeds (the suite's ``seed_policy: shared``, or
    imported images that happen to)? Then images at one seed are correlated
    across prompts and analyses that pool or compare prompts block on seed."""
    if "seed" not in probes.columns:
        return False
    per_seed = probes.dropna(subset=["seed"]).groupby("seed").item_id.nunique()
    return bool((per_seed > 1).any())


def _pooled(labelled: pd.DataFrame, attribute: str, settings: Settings,
            categories: list[str]) -> list[dict[str, Any]]:
    out = []
    if seeds_shared(labelled):
        cells = labelled.dropna(subset=["seed"])
        n = cells.pivot_table(index="item_id", columns="seed", values="image_id",
                              aggfunc="count", fill_value=0)
        for category in categories:
            hits = cells.assign(hit=cells.label == category).pivot_table(
                index="item_id", columns="seed", values="hit", aggfunc="sum",
                fill_value=0).reindex(index=n.index, columns=n.columns, fill_value=0)
            pooled = crossed_interval(hits.to_numpy(), n.to_numpy(), alpha=settings.alpha,
                                      seed=settings.seed)
            complete = n.columns[(n == 1).all(axis=0)]
            icc = seed_correlation(hits[complete].to_numpy()) if len(complete) else float("nan")
            out.append({"attribute": attribute, "category": category, **vars(pooled),
                        "design": "shared seeds", "seed_icc": icc,
                        "seed_icc_seeds": len(complete)})
        return out
    table = labelled.pivot_table(index="item_id", columns="label", values="image_id",
                                 aggfunc="count", fill_value=0).reindex(
                                     columns=categories, fill_value=0)
    n = table.sum(axis=1).to_numpy()
    for category in table.columns:
        pooled = cluster_bootstrap(table[category].to_numpy(), n, alpha=settings.alpha,
                                   seed=settings.seed)
        out.append({"attribute": attribute, "category": category, **vars(pooled),
                    "design": "independent seeds", "seed_icc": float("nan"),
                    "seed_icc_seeds": 0})
    return out


def _controls(labelled: pd.DataFrame, per_image: pd.DataFrame, attribute: str,
              settings: Settings) -> list[dict[str, Any]]:
    out = []
    for item_id, frame in per_image[per_image.role == "control"].groupby("item_id"):
        expected = json.loads(frame.expected.iloc[0] or "{}").get(attribute)
        if expected is None:
            continue
        mine = labelled[labelled.item_id == item_id]
        n, k = len(mine), int((mine.label == expected).sum())
        low, high = binomial_ci(k, n, method=settings.ci_method, alpha=settings.alpha)
        out.append({"group": item_id, "attribute": attribute, "expected": expected, "n": n,
                    "k": k, "estimate": k / n if n else float("nan"), "ci_low": low,
                    "ci_high": high, "ci_method": settings.ci_method})
    return out


def _contrast(kind: str, attribute: str, groups: str, category: str, test_id: str,
              **values: Any) -> dict[str, Any]:
    return {"kind": kind, "attribute": attribute, "groups": groups, "category": category,
            "test_id": test_id, "p_adjusted": float("nan"), **values}


def _counterfactual_pairs(labelled: pd.DataFrame, attribute: str,
                          settings: Settings) -> list[dict[str, Any]]:
    """Every pair of a counterfactual group's members on the seeds both have
    (paired on purpose: the prompts differ only in the swapped words), and
    for three or more members Cochran's Q on the seeds all of them have."""
    out = []
    grouped = labelled.dropna(subset=["counterfactual_group"])
    for group, frame in grouped.groupby("counterfactual_group"):
        items = sorted(frame.item_id.unique())
        if len(items) < 2:
            continue
        member = {i: frame[frame.item_id == i].set_index("seed") for i in items}
        expected = json.loads(member[items[0]].expected.iloc[0] or "{}").get(attribute)
        category = expected or frame.label.mode().iloc[0]
        for index, first in enumerate(items):
            for second in items[index + 1:]:
                a, b = member[first], member[second]
                seeds = a.index.intersection(b.index)
                if not len(seeds):
                    continue
                paired = paired_difference(a.loc[seeds, "label"].to_numpy() == category,
                                           b.loc[seeds, "label"].to_numpy() == category,
                                           alpha=settings.alpha)
                suffix = "" if len(items) == 2 else f":{first}:{second}"
                out.append(_contrast(
                    "counterfactual pair (same seeds)", attribute, f"{first} vs {second}",
                    category, f"paired:{attribute}:{group}{suffix}", n=paired["n_pairs"],
                    estimate=paired["difference"], ci_low=paired["ci_low"],
                    ci_high=paired["ci_high"], ci_method=paired["ci_method"],
                    test=paired["test"], statistic=paired["statistic"],
                    p_value=paired["p_value"]))
        if len(items) > 2:
            common = sorted(set.intersection(*(set(m.index) for m in member.values())))
            grid = np.array([[member[i].loc[s, "label"] == category for i in items]
                             for s in common]).reshape(len(common), len(items))
            test = cochrans_q(grid)
            out.append(_contrast(
                "counterfactual group (same seeds)", attribute, ", ".join(items), category,
                f"paired:{attribute}:{group}", n=len(common), estimate=float("nan"),
                ci_low=float("nan"), ci_high=float("nan"), ci_method=None, test=test.test,
                statistic=test.statistic, p_value=test.p_value))
    return out


def _blocked_homogeneity(part: StatsResult, probes: pd.DataFrame,
                         settings: Settings) -> None:
    """With shared seeds the chi-square's independence is wrong; test with
    labels shuffled among each seed's prompts instead."""
    for index, row in part.comparisons.iterrows():
        if str(row.test_id).startswith("homogeneity:"):
            test = permutation_homogeneity(probes.item_id.to_numpy(), probes.label.to_numpy(),
                                           blocks=probes.seed.to_numpy(),
                                           draws=settings.mc_draws, seed=settings.seed)
            part.comparisons.loc[index, ["test", "statistic", "p_value"]] = [
                test.test, test.statistic, test.p_value]


def assess_tables(*, images: pd.DataFrame, decisions: pd.DataFrame, inputs: pd.DataFrame,
                  attributes: list[str], answers: dict[str, str],
                  label_sets: dict[str, list[str]], references: dict[str, Reference | None],
                  settings: Settings | None = None, confusion: dict[str, Confusion] | None = None,
                  labels: pd.DataFrame | None = None,
                  source: dict[str, Any] | None = None,
                  measurements: pd.DataFrame | None = None,
                  unsafe_labels: list[str] | None = None,
                  unsafe_threshold: float | None = None,
                  sample: pd.DataFrame | None = None) -> StatsResult:
    """Everything stats.json holds for one run's tables.

    ``decisions``: image_id, scorer, attribute, label (every scorer's; the
    agreement between scorers is computed from all of them). ``inputs``:
    image_id, status as the score stage loaded each image. ``label_sets``:
    the confident labels per attribute (unseen ones count as 0).
    ``references``: per attribute, the table its shares are tested against
    (``UNIFORM`` for parity; None: intervals only, no test). Safety
    attributes are never tested against one: their rates are in ``safety``.
    ``confusion``: per attribute, a confusion matrix to correct shares for
    classifier error. ``labels``: human labels (each reviewer's current
    one: image_id, attribute, label, reviewer); where people agree they
    replace the answering scorer's label for the shares (``reviewed`` counts
    those images), and they give each scorer's confusion against people and,
    for the answering scorer, corrected shares (which correct the
    classifier's own outcomes). ``sample``: the label sample (``audit labels
    sample``); where people labelled its images, prediction-powered shares.
    """
    settings = settings or Settings()
    decided = chosen(decisions, answers)
    person = decided[decided.attribute == PERSON][["image_id", "label"]].rename(
        columns={"label": "person_label"})
    per_image_base = images.merge(person, on="image_id", how="left")
    loaded = inputs[["image_id", "status"]].rename(columns={"status": "load_status"})
    if len(loaded):  # an image that failed to decode at scoring time is not valid
        per_image_base = per_image_base.merge(loaded, on="image_id", how="left")
        failed = per_image_base.load_status.notna() & (per_image_base.load_status != "ok")
        per_image_base.loc[failed, "status"] = per_image_base.loc[failed, "load_status"]
    proportions, metrics, comparisons, funnels, pooled, controls = [], [], [], [], [], []
    outcomes, abstention, bounds, matching, powered = [], [], [], [], []
    review = HumanReview(labels, images) if labels is not None and len(labels) else None
    people = reviewed_labels(labels) if review is not None else None
    judges = answers.get(ON_CLASS)  # adherence's CLIP or a VQA model
    said_by_people = (people[people.attribute == ON_CLASS].set_index("image_id").label
                      if people is not None else None)
    said = on_class_labels(decisions, judges, said_by_people)
    if review is not None and judges is not None:
        judged = decisions[(decisions.attribute == ON_CLASS) & (decisions.scorer == judges)]
        per_image = per_image_base.merge(judged[["image_id", "label"]], on="image_id",
                                         how="left").assign(person=True)
        review.attribute(ON_CLASS, per_image, decisions, judges, ON_CLASS_LABELS, settings)
        outcomes.append(outcome_counts(per_image[per_image.role != "control"])
                        .assign(attribute=ON_CLASS))
    conditional: list[dict[str, Any]] = []
    for attribute in [a for a in attributes if a not in (PERSON, ON_CLASS) and a in label_sets]:
        answered = decided[decided.attribute == attribute][["image_id", "label"]]
        per_image = per_image_base.merge(answered, on="image_id", how="left")
        if attribute in SAFETY_ATTRIBUTES:
            per_image["person"] = True
        elif len(person):
            per_image["person"] = per_image.person_label == "person"
        else:
            per_image["person"] = per_image.label.notna() & (per_image.label != "no_person")
        table, test = funnel(per_image.assign(group=per_image.item_id), group="group",
                             attribute=attribute)
        funnels.append(table)
        comparisons.append(test)
        counted = outcome_counts(per_image[per_image.role != "control"])
        outcomes.append(counted.assign(attribute=attribute))
        rates, share_bounds, abstention_test = abstention_tables(
            counted, attribute=attribute, categories=label_sets[attribute],
            ci_method=settings.ci_method, alpha=settings.alpha)
        abstention += rates
        bounds += share_bounds
        comparisons.append(abstention_test)
        if review is not None:
            review.attribute(attribute, per_image, decisions, answers[attribute],
                             label_sets[attribute], settings)
        if sample is not None and people is not None and attribute not in SAFETY_ATTRIBUTES:
            from audit.stats.correction import outcomes as image_outcomes
            from audit.stats.ppi import powered_rows

            agreed = people[people.attribute == attribute][["image_id", "label"]]
            if agreed.image_id.isin(sample.image_id).any():
                powered += powered_rows(
                    people=agreed, outcomes=image_outcomes(per_image[per_image.role != "control"]),
                    sample=sample, attribute=attribute, categories=label_sets[attribute],
                    alpha=settings.alpha)
        shown = per_image.assign(reviewed=False)
        if people is not None:  # a person's label wins over the classifier's
            mine = people[people.attribute == attribute].set_index("image_id").label
            hit = shown.image_id.isin(mine.index)
            shown.loc[hit, "label"] = shown.loc[hit, "image_id"].map(mine)
            shown.loc[hit, "reviewed"] = True
            shown.loc[hit, "person"] = shown.loc[hit, "label"] != "no_person"
        labelled = shown[(shown.status == "ok") & shown.person
                         & shown.label.notna() & ~shown.label.isin(ABSTAIN)]
        if len(said) and attribute not in SAFETY_ATTRIBUTES:
            counted_off = labelled[labelled.image_id.map(said) == "off"].groupby("item_id").size()
            funnels[-1]["off_class"] = funnels[-1].group.map(counted_off).fillna(0).astype(int)
            rows, tests = conditional_rows(
                labelled[labelled.role != "control"], said, attribute=attribute,
                categories=label_sets[attribute], ci_method=settings.ci_method,
                alpha=settings.alpha, seed=settings.seed, draws=settings.mc_draws)
            conditional += rows
            comparisons += tests
        controls += _controls(labelled, per_image, attribute, settings)
        comparisons += _counterfactual_pairs(labelled, attribute, settings)
        probes = labelled[labelled.role != "control"]
        if probes.empty:
            continue
        # every category of the label set, observed or not: a zero is a finding
        table = probes.groupby(["item_id", "label"]).size().unstack(fill_value=0)
        table = table.reindex(columns=label_sets[attribute], fill_value=0)
        counts = (table.stack().rename("count").reset_index()
                  .rename(columns={"item_id": "group", "label": "category"}))
        safety = attribute in SAFETY_ATTRIBUTES
        reference, unmatched = _item_references(
            probes, None if safety else references.get(attribute))
        matching.append({"attribute": attribute,
                         "reference": reference.name if reference is not None else None,
                         "unmatched": unmatched})
        part = assess_counts(counts, attribute=attribute, settings=settings, reference=reference,
                             untested="safety attribute: see the unsafe rates" if safety
                             else None)
        if seeds_shared(probes):
            _blocked_homogeneity(part, probes, settings)
        errors = (confusion or {}).get(attribute) or (
            review.corrections.get(attribute) if review is not None else None)
        if errors is not None and reference is not None and not safety:
            retest_through_confusion(part.proportions, attribute=attribute, confusion=errors,
                                     outcomes=counted, reference=reference,
                                     mc_draws=settings.mc_draws, seed=settings.seed)
        part.proportions["reviewed"] = part.proportions.group.map(
            probes.groupby("item_id").reviewed.sum()).fillna(0).astype(int)
        proportions.append(part.proportions)
        metrics.append(part.metrics)
        comparisons += part.comparisons.to_dict("records")
        pooled += _pooled(probes, attribute, settings, label_sets[attribute])
    result = StatsResult(
        settings=settings,
        source={**(source or {}), "answers": dict(sorted(answers.items())),
                "scorers": sorted(set(decided.scorer))},
        proportions=_concat(proportions, COLUMNS), metrics=_concat(metrics, METRIC_COLUMNS),
        comparisons=pd.DataFrame(comparisons, columns=COMPARISON_COLUMNS),
        funnel=_concat(funnels), pooled=pd.DataFrame(pooled), controls=pd.DataFrame(controls),
        agreement=pd.DataFrame(agreement(decisions)),
        abstention=pd.DataFrame(abstention), bounds=pd.DataFrame(bounds), references=matching)
    counted = _concat(outcomes)
    corrected = []
    for given in (confusion, review.corrections if review else None):
        if given and len(counted):
            corrected += corrected_rows(counted, given, alpha=settings.alpha, seed=settings.seed)
    result.corrected = pd.DataFrame(corrected)
    result.adherence = pd.DataFrame(adherence_rates(images, decisions, measurements,
                                                    ci_method=settings.ci_method,
                                                    alpha=settings.alpha,
                                                    scorer=judges, people=said_by_people))
    result.conditional = pd.DataFrame(conditional)
    result.powered = pd.DataFrame(powered)
    if review is not None:
        result.review = review.document()
    if unsafe_labels is not None and measurements is not None:
        from audit.stats.safety import THRESHOLDS, safety_rates

        grid = sorted({*THRESHOLDS, *([unsafe_threshold] if unsafe_threshold else [])})
        result.safety = safety_rates(images, measurements, decisions, unsafe_labels=unsafe_labels,
                                     thresholds=grid, ci_method=settings.ci_method,
                                     alpha=settings.alpha)
    from audit.stats.rewrites import prompt_rewrites

    result.rewrites = prompt_rewrites(images, ci_method=settings.ci_method, alpha=settings.alpha)
    apply_multiplicity(result)
    return result


def _concat(frames: list[pd.DataFrame], columns: list[str] | None = None) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)

