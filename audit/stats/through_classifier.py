"""Test the true shares against a reference when a classifier did the counting.

A classifier with known error sees a true share p0 as q0 = p0 M (M: the
probability of each outcome given each true class), so the count of its
confident labels is tested against q0, not against p0: testing against p0
rejects a true null whenever the classifier errs (39% of the time at a
planned 124 images with sensitivity and specificity 0.9). M is estimated
from labelled images, often a few per class, so under the null the
classifier's share is not q0 but q0 seen through a matrix drawn from its
posterior (each row Dirichlet(0.5 + labelled counts), as for the corrected
shares). Two categories: the exact two-sided test of the confident count
under the beta-binomial whose beta matches that share's mean and variance
(and the reference's error, when it has one). More: Pearson's statistic
against the expected counts, its null simulated by drawing a matrix, then
the counts. ``audit plan`` powers this same test (``audit.stats.power``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from audit.stats.correction import PRIOR_CONFUSION, Confusion
from audit.stats.goodness import TestResult, _pearson
from audit.stats.references import Reference

NULL_DRAWS = 20000


def null_shares(p0: Sequence[float], labelled: np.ndarray, confident: Sequence[int], *,
                reference_se: Sequence[float] | None = None, draws: int = NULL_DRAWS,
                seed: int = 0) -> np.ndarray:
    """Draws (draws x classes) of the shares of the classifier's confident
    labels when the true shares are ``p0``: each confusion row from its
    posterior, the reference from a Dirichlet with its standard errors
    (when given). ``confident``: the outcome column of each true class."""
    rng = np.random.default_rng(seed)
    labelled = np.asarray(labelled, dtype=float)
    rows = rng.gamma(PRIOR_CONFUSION + labelled[None], size=(draws, *labelled.shape))
    matrix = rows / rows.sum(axis=2, keepdims=True)
    truth = np.tile(np.asarray(p0, dtype=float), (draws, 1))
    if reference_se is not None:
        truth = _reference_draws(truth[0], np.asarray(reference_se, dtype=float), rng, draws)
    outcomes = np.einsum("dk,dko->do", truth, matrix)[:, list(confident)]
    return outcomes / outcomes.sum(axis=1, keepdims=True)


def _reference_draws(p: np.ndarray, se: np.ndarray, rng: np.random.Generator,
                     draws: int) -> np.ndarray:
    """A reference known to its standard errors: Dirichlet with its mean and
    the mean variance (as ``fit_with_reference_error``)."""
    inside = (p > 0) & (p < 1)
    if not (se[inside] > 0).any():
        return np.tile(p, (draws, 1))
    concentration = float(np.mean(p[inside] * (1 - p[inside]) / se[inside] ** 2) - 1)
    return rng.dirichlet(np.maximum(p * concentration, 1e-9), size=draws)


def beta_of(draws: np.ndarray) -> tuple[float, float]:
    """Beta parameters with the mean and variance of the first class's share."""
    share = draws[:, 0]
    mean, variance = float(share.mean()), float(share.var())
    if variance <= 0:
        variance = 1e-12
    concentration = max(mean * (1 - mean) / variance - 1, 1e-6)
    return mean * concentration, (1 - mean) * concentration


def beta_binomial_p_values(n: int, a: float, b: float) -> np.ndarray:
    """Two-sided p-value of every count 0..n under BetaBinomial(n, a, b), by
    binomtest's rule (the sum of outcomes no more likely)."""
    from audit.stats.power import two_sided_p_values

    return two_sided_p_values(stats.betabinom.pmf(np.arange(n + 1), n, a, b))


def pearson_null(n: int, draws: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Pearson's statistic against n x the mean share, counts drawn from a
    share drawn per row of ``draws``."""
    expected = n * draws.mean(axis=0)
    return _pearson(rng.multinomial(n, draws), expected)


def fit_through_confusion(observed: Sequence[int], p0: Sequence[float], labelled: np.ndarray,
                          confident: Sequence[int], *,
                          reference_se: Sequence[float] | None = None, source: str = "",
                          mc_draws: int = NULL_DRAWS, seed: int = 0) -> TestResult:
    """Test the classifier's confident counts (one per true class, in the
    order of ``p0`` and the matrix's rows) against the reference seen
    through the labelled confusion ``labelled`` (true classes x outcomes)."""
    observed = np.asarray(observed, dtype=int)
    n = int(observed.sum())
    if n == 0:
        return TestResult("none (no images)", float("nan"), float("nan"))
    draws = null_shares(p0, labelled, confident, reference_se=reference_se, draws=mc_draws,
                        seed=seed)
    labels = int(np.asarray(labelled).sum())
    origin = f"{source}: " if source else ""
    what = (f"the reference seen through the classifier's confusion ({origin}{labels} "
            f"labelled images, Dirichlet({PRIOR_CONFUSION:g}) prior per row")
    what += ", and the reference's standard error)" if reference_se is not None and \
        np.any(np.asarray(reference_se) > 0) else ")"
    if len(observed) == 2:
        p_values = beta_binomial_p_values(n, *beta_of(draws))
        return TestResult(f"beta-binomial exact against {what}", float(observed[0]),
                          float(p_values[observed[0]]))
    rng = np.random.default_rng(seed + 1)
    statistic = float(_pearson(observed, n * draws.mean(axis=0)))
    simulated = pearson_null(n, draws, rng)
    exceed = int((simulated >= statistic - 1e-9 * max(1.0, statistic)).sum())
    return TestResult(f"Monte-Carlo chi-square against {what}; {mc_draws} draws, seed {seed}",
                      statistic, (exceed + 1) / (mc_draws + 1))


def retest_through_confusion(proportions: pd.DataFrame, *, attribute: str, confusion: Confusion,
                             outcomes: pd.DataFrame, reference: Reference,
                             mc_draws: int = NULL_DRAWS, seed: int = 0) -> None:
    """Replace each group's ``fit:`` test of ``attribute`` (in place) by the
    test of the classifier's own confident counts through ``confusion``.
    ``outcomes``: group, label, count of the classifier's outcomes. A group
    whose reference has other categories than the confusion's true classes
    keeps its test, and its name says why."""
    mine = proportions.attribute == attribute
    for group in dict.fromkeys(proportions.loc[mine, "group"]):
        rows = mine & (proportions.group == group)
        categories = list(proportions.loc[rows, "category"])
        expected = reference.expected(str(group), categories)
        if expected is None:
            continue
        if set(expected) != set(confusion.true):
            proportions.loc[rows, "test"] = (
                f"{proportions.loc[rows, 'test'].iloc[0]} of the labels as counted (the "
                f"confusion's classes {', '.join(confusion.true)} are not the reference's)")
            continue
        counts = outcomes[outcomes.group == group].groupby("label")["count"].sum()
        observed = counts.reindex(confusion.true).fillna(0).astype(int).to_numpy()
        se = reference.se_for_group(str(group))
        matrix, _ = confusion.for_group(str(group))
        test = fit_through_confusion(
            observed, [expected[c] for c in confusion.true], matrix,
            [confusion.outcomes.index(c) for c in confusion.true],
            reference_se=[se.get(c, 0.0) for c in confusion.true] if se else None,
            source=confusion.source, mc_draws=mc_draws, seed=seed)
        proportions.loc[rows, ["test", "statistic", "p_value"]] = [
            test.test, test.statistic, test.p_value]
