"""Assemble proportions, tests, effects and corrected p-values into one result.

Everything here is a function of count tables; ``audit.stats.run_tables`` turns a
run directory into such tables first.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from audit.api.statistic import COLUMNS
from audit.stats import effects
from audit.stats.compare import homogeneity
from audit.stats.goodness import (
    TestResult,
    difference_interval,
    fit_with_reference_error,
    goodness_of_fit,
)
from audit.stats.intervals import binomial_ci, check_ci_method, contain, multinomial_ci
from audit.stats.multiplicity import adjust
from audit.stats.references import Reference

NAN = float("nan")

METRIC_COLUMNS = ["group", "attribute", "metric", "value", "n", "note"]
COMPARISON_COLUMNS = ["kind", "attribute", "groups", "category", "n", "estimate", "ci_low",
                      "ci_high", "ci_method", "test", "test_id", "statistic", "p_value",
                      "p_adjusted"]
NOTES = [
    "Labels are perceived attributes assigned by a classifier or a person: a proxy for how "
    "an image reads, never the identity of anyone depicted.",
    "Every proportion carries n (images with a confident label) and a confidence interval.",
]


@dataclass
class Settings:
    alpha: float = 0.05
    ci_method: str = "wilson"
    simultaneous: str | None = None
    correction: str = "bh"
    seed: int = 0
    mc_draws: int = 20000

    def __post_init__(self) -> None:
        check_ci_method(self.ci_method)
        if not 0 < self.alpha < 1:
            raise ValueError("alpha must be strictly between 0 and 1")


@dataclass
class StatsResult:
    settings: Settings
    source: dict[str, Any]
    proportions: pd.DataFrame
    metrics: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=METRIC_COLUMNS))
    comparisons: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=COMPARISON_COLUMNS))
    funnel: pd.DataFrame = field(default_factory=pd.DataFrame)
    pooled: pd.DataFrame = field(default_factory=pd.DataFrame)
    controls: pd.DataFrame = field(default_factory=pd.DataFrame)
    corrected: pd.DataFrame = field(default_factory=pd.DataFrame)
    powered: pd.DataFrame = field(default_factory=pd.DataFrame)  # audit.stats.ppi
    agreement: pd.DataFrame = field(default_factory=pd.DataFrame)
    abstention: pd.DataFrame = field(default_factory=pd.DataFrame)
    bounds: pd.DataFrame = field(default_factory=pd.DataFrame)
    safety: pd.DataFrame = field(default_factory=pd.DataFrame)  # audit.stats.safety
    adherence: pd.DataFrame = field(default_factory=pd.DataFrame)  # audit.stats.adherence
    conditional: pd.DataFrame = field(default_factory=pd.DataFrame)  # shares among on-class
    rewrites: dict[str, Any] | None = None  # audit.stats.rewrites
    review: dict[str, Any] | None = None  # what human labels say, when a run has them
    # per attribute: the reference its shares were tested against and the
    # items that found no row in it (with close row names)
    references: list[dict[str, Any]] = field(default_factory=list)
    tests: int = 0

    def to_dict(self) -> dict[str, Any]:
        def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
            return [{k: _clean(v) for k, v in row.items()} for row in frame.to_dict("records")]

        return {
            "format": "t2i-audit-stats/2",
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "source": self.source,
            "settings": vars(self.settings),
            "multiplicity": {"method": self.settings.correction, "tests": self.tests,
                             "family": "tests of shares against the reference and "
                                       "counterfactual contrasts",
                             "diagnostics": "loss-funnel, abstention, homogeneity-across-"
                                            "prompts and on- vs off-class tests are reported "
                                            "unadjusted, outside the family"},
            "notes": NOTES,
            "proportions": records(self.proportions),
            "metrics": records(self.metrics),
            "comparisons": records(self.comparisons),
            "funnel": records(self.funnel),
            "pooled": records(self.pooled),
            "controls": records(self.controls),
            "corrected": records(self.corrected),
            "prediction_powered": records(self.powered),
            "agreement": records(self.agreement),
            "abstention": records(self.abstention),
            "share_bounds": records(self.bounds),
            "safety": records(self.safety),
            "adherence": records(self.adherence),
            "conditional": records(self.conditional),
            "rewrites": _clean_tree(self.rewrites),
            "review": _clean_tree(self.review),
            "references": _clean_tree(self.references),
        }


def _clean(value: Any) -> Any:
    """JSON-safe: NaN -> null, numpy scalars -> Python."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _clean_tree(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean_tree(v) for v in value]
    return _clean(value)


def is_ordinal(categories: list[str]) -> bool:
    return len(categories) > 2 and all(c.strip().isdigit() for c in categories)


def assess_group(group: str, attribute: str, counts: dict[str, int],
                 expected: dict[str, float] | None, reference_name: str | None,
                 settings: Settings, reference_se: dict[str, float] | None = None,
                 untested: str = "no reference") -> tuple[list[dict[str, Any]],
                                                          list[dict[str, Any]]]:
    """Rows (one per category) and group metrics for one group's counts.
    Each row also has its difference from the reference (with the
    reference's standard error when it has one) and from parity (1/K).
    Without ``expected`` the shares get intervals but no test (``untested``
    says why): testing them against anything else would be a silent
    substitute."""
    categories = list(expected) if expected else list(counts)
    categories += [c for c in counts if c not in categories]
    observed = np.array([counts.get(c, 0) for c in categories])
    n = int(observed.sum())
    tested = expected is not None
    p0 = np.array([expected.get(c, 0.0) for c in categories]) if tested else \
        np.full(len(categories), np.nan)
    reference_label = reference_name
    se = np.array([(reference_se or {}).get(c, 0.0) for c in categories])
    if tested and (se > 0).any():
        test = fit_with_reference_error(observed, p0, se, mc_draws=settings.mc_draws,
                                        seed=settings.seed)
    elif tested:
        test = goodness_of_fit(observed, p0, mc_draws=settings.mc_draws, seed=settings.seed)
    else:
        test = TestResult(f"none ({untested})", NAN, NAN)
    simultaneous = settings.simultaneous if len(categories) > 2 else None
    if simultaneous:
        bounds = [contain(k / n, low, high) if n else (low, high) for k, (low, high) in zip(
            observed, multinomial_ci(observed, method=simultaneous, alpha=settings.alpha),
            strict=True)]
        ci_method = f"{simultaneous} (simultaneous)"
    else:
        bounds = np.array([binomial_ci(int(k), n, method=settings.ci_method,
                                       alpha=settings.alpha) for k in observed])
        ci_method = settings.ci_method
    rows = []
    parity = 1 / len(categories)
    for category, k, p_ref, (low, high), error in zip(categories, observed, p0, bounds, se,
                                                      strict=True):
        estimate = k / n if n else float("nan")
        versus = difference_interval(estimate, (low, high), float(p_ref), float(error),
                                     alpha=settings.alpha) if n and tested else (NAN,) * 2
        log_odds = effects.log_odds_vs_reference(int(k), n, float(p_ref), alpha=settings.alpha) \
            if tested else (NAN,) * 3
        ratio = effects.representation_ratio(estimate, (low, high), float(p_ref)) \
            if tested else (NAN,) * 3
        rows.append({
            "group": group, "attribute": attribute, "category": category, "n": n, "k": int(k),
            "estimate": estimate, "ci_low": low, "ci_high": high, "ci_method": ci_method,
            "test": test.test, "test_id": f"fit:{attribute}:{group}",
            "statistic": test.statistic, "p_value": test.p_value, "p_adjusted": float("nan"),
            "reference": f"{reference_label}={p_ref:.4g}" if tested else None,
            "log_odds": log_odds[0],
            "log_odds_ci_low": log_odds[1], "log_odds_ci_high": log_odds[2],
            "ratio": ratio[0], "ratio_ci_low": ratio[1], "ratio_ci_high": ratio[2],
            "cohens_h": effects.cohens_h(estimate, float(p_ref)) if n and tested else NAN,
            "reference_se": float(error), "difference": estimate - p_ref,
            "difference_ci_low": versus[0], "difference_ci_high": versus[1],
            "parity_difference": estimate - parity, "parity_ci_low": low - parity,
            "parity_ci_high": high - parity, "reviewed": 0,
        })
    metrics = []
    if n:
        shares = observed / n

        def metric(name: str, value: float, note: str) -> None:
            metrics.append({"group": group, "attribute": attribute, "metric": name,
                            "value": value, "n": n, "note": note})

        if len(categories) == 2:
            metric("heim_imbalance", effects.heim_imbalance(float(shares[0])),
                   f"|share({categories[0]}) - 0.5| as in HEIM; no interval, floor > 0 at "
                   "small n (see audit plan)")
        metric("dalleval_mad", effects.mad_from_uniform(shares),
               "mean |share - 1/K| as in DALL-Eval; compares with uniform, not the reference")
        metric("openbias_1_minus_norm_entropy", effects.one_minus_normalised_entropy(shares),
               "1 - H/log K as in OpenBias; 0 = uniform")
        if is_ordinal(categories) and tested:
            levels = np.array([int(c) for c in categories])
            shift = effects.ordinal_shift(levels, observed, p0, alpha=settings.alpha)
            for name, value in shift.items():
                metric(name, value, f"ordinal levels vs {reference_label} reference")
            metric("heim_skin_tone_mad", effects.mad_from_uniform(shares),
                   "HEIM's skin-tone MAD from uniform over the ordinal scale")
    return rows, metrics


def assess_counts(counts: pd.DataFrame, *, attribute: str = "label",
                  reference: Reference | None = None, settings: Settings | None = None,
                  source: dict[str, Any] | None = None, untested: str | None = None
                  ) -> StatsResult:
    """Proportions, tests vs reference (``UNIFORM`` for parity; none when
    None), effects, a test of homogeneity across groups, and corrected
    p-values.

    ``counts``: columns group, category, count (and optionally attribute).
    """
    settings = settings or Settings()
    if "attribute" not in counts.columns:
        counts = counts.assign(attribute=attribute)
    rows: list[dict[str, Any]] = []
    metrics: list[dict[str, Any]] = []
    comparisons: list[dict[str, Any]] = []
    for attr, by_attribute in counts.groupby("attribute", sort=False):
        for group, frame in by_attribute.groupby("group", sort=False):
            counts_of = dict(zip(frame.category, frame["count"], strict=True))
            expected = reference.expected(group, list(counts_of)) if reference else None
            group_rows, group_metrics = assess_group(
                str(group), str(attr), counts_of, expected,
                reference.name if reference is not None else None, settings,
                reference.se_for_group(group) if reference is not None else None,
                untested=untested or ("no reference" if reference is None else
                                      f"no {reference.name} row for '{group}'"))
            rows += group_rows
            metrics += group_metrics
        table = by_attribute.pivot_table(index="group", columns="category", values="count",
                                         aggfunc="sum", fill_value=0, sort=False)
        if len(table) > 1:
            test = homogeneity(table.to_numpy(), draws=settings.mc_draws, seed=settings.seed)
            comparisons.append({
                "kind": "homogeneity across groups", "attribute": attr,
                "groups": ", ".join(map(str, table.index)), "category": None,
                "n": int(table.to_numpy().sum()), "estimate": float("nan"),
                "ci_low": float("nan"), "ci_high": float("nan"), "ci_method": None,
                "test": test.test, "test_id": f"homogeneity:{attr}",
                "statistic": test.statistic, "p_value": test.p_value,
                "p_adjusted": float("nan")})
    result = StatsResult(settings=settings, source=source or {"kind": "counts"},
                         proportions=pd.DataFrame(rows, columns=COLUMNS),
                         metrics=pd.DataFrame(metrics, columns=METRIC_COLUMNS),
                         comparisons=pd.DataFrame(comparisons, columns=COMPARISON_COLUMNS))
    apply_multiplicity(result)
    return result


DIAGNOSTICS = ("funnel:", "abstention:", "homogeneity:", "adherence:")


def is_diagnostic(test_id: str) -> bool:
    """Tests of the audit's own losses, and of homogeneity across prompts
    chosen to differ (occupations): not findings about the model, and kept
    out of the family so a certain rejection there does not loosen BH for
    the findings (shares against references, counterfactual contrasts)."""
    return test_id.startswith(DIAGNOSTICS)


def apply_multiplicity(result: StatsResult) -> None:
    """One correction across every finding's test in the result (each test
    counted once; diagnostics excluded)."""
    tests: dict[str, float] = {}
    for frame in (result.proportions, result.comparisons):
        for test_id, p in zip(frame.test_id, frame.p_value, strict=True):
            if test_id is not None and not pd.isna(p) and not is_diagnostic(test_id):
                tests.setdefault(test_id, float(p))
    ids = list(tests)
    adjusted = dict(zip(ids, adjust([tests[i] for i in ids], method=result.settings.correction),
                        strict=True))
    for frame in (result.proportions, result.comparisons):
        if len(frame):
            frame["p_adjusted"] = [adjusted.get(i, float("nan")) for i in frame.test_id]
    result.tests = len(ids)
