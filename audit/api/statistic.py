"""The ``Statistic`` result shape: every statistic is one or more rows of
this table, whatever produced it, so reports and exports read one format."""

from __future__ import annotations

# One row per (group, attribute, category). Test columns are shared by the
# rows of one test (same test_id); p_adjusted is filled in once, across every
# test of a stats.json.
COLUMNS = [
    "group", "attribute", "category", "n", "k", "estimate", "ci_low", "ci_high", "ci_method",
    "test", "test_id", "statistic", "p_value", "p_adjusted", "reference",
    "log_odds", "log_odds_ci_low", "log_odds_ci_high", "ratio", "ratio_ci_low",
    "ratio_ci_high", "cohens_h",
    # share - reference (Newcombe's MOVER when the reference has a standard
    # error) and share - 1/K: the reference describes a population, parity is
    # the other yardstick; neither is a target
    "reference_se", "difference", "difference_ci_low", "difference_ci_high",
    "parity_difference", "parity_ci_low", "parity_ci_high",
    # images of the group whose label is a person's, not the classifier's
    "reviewed",
]
