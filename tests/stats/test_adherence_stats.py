"""On-class rates and conditional shares: counts and intervals by hand
(statsmodels' Wilson), the on- vs off-class test against scipy's Fisher
test, and the conditional share's coverage by simulation on the audit's
design (a few prompts, on-class images a random subset of each)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import fisher_exact
from statsmodels.stats.proportion import proportion_confint

from audit.stats.adherence import adherence_rates, conditional_rows, on_class_labels


def tables(on_class: list[str], labels: list[str], item: str = "teacher"):
    ids = [f"{item}/{i}" for i in range(len(labels))]
    images = pd.DataFrame({"image_id": ids, "item_id": item, "prompt": f"a photo of a {item}",
                           "status": "ok", "role": "probe"})
    decisions = pd.DataFrame(
        [{"image_id": i, "scorer": "adherence", "attribute": "on_class", "label": o}
         for i, o in zip(ids, on_class, strict=True)]
        + [{"image_id": i, "scorer": "clip", "attribute": "presentation", "label": lab}
           for i, lab in zip(ids, labels, strict=True)])
    measurements = pd.DataFrame(
        [{"image_id": i, "scorer": "adherence", "attribute": "on_class", "quantity": "clipscore",
          "label": None, "value": 0.5 + k / 100} for k, i in enumerate(ids)])
    labelled = images.assign(label=labels)
    return images, decisions, measurements, labelled


def test_rates_and_conditional_shares_by_hand():
    on_class = ["on"] * 6 + ["off"] * 5 + ["unclear"]
    labels = ["A", "A", "A", "A", "A", "B", "B", "B", "B", "B", "A", "B"]
    images, decisions, measurements, labelled = tables(on_class, labels)
    (rate,) = adherence_rates(images, decisions, measurements, ci_method="wilson", alpha=0.05)
    assert (rate["judged"], rate["on"], rate["off"], rate["unclear"]) == (12, 6, 5, 1)
    assert rate["on_rate"] == pytest.approx(6 / 11)
    low, high = proportion_confint(6, 11, alpha=0.05, method="wilson")
    assert (rate["ci_low"], rate["ci_high"]) == pytest.approx((low, high))
    assert rate["clipscore_mean"] == pytest.approx(np.mean([0.5 + k / 100 for k in range(12)]))

    rows, (test,) = conditional_rows(labelled, on_class_labels(decisions),
                                     attribute="presentation", categories=["A", "B"],
                                     ci_method="wilson", alpha=0.05)
    a = next(r for r in rows if r["category"] == "A")
    assert (a["k"], a["n"], a["k_on_class"], a["n_on_class"], a["n_off_class"]) == (
        6, 12, 5, 6, 5)
    assert (a["on_class_ci_low"], a["on_class_ci_high"]) == pytest.approx(
        proportion_confint(5, 6, alpha=0.05, method="wilson"))
    # on: A 5, B 1; off: A 1, B 4 -> Fisher's exact test
    assert test["p_value"] == pytest.approx(fisher_exact([[5, 1], [1, 4]])[1])
    assert test["test_id"] == "adherence:presentation:teacher"


def test_a_prompt_without_off_class_images_has_no_test():
    images, decisions, _, labelled = tables(["on"] * 4, ["A", "B", "A", "A"])
    rows, (test,) = conditional_rows(labelled, on_class_labels(decisions),
                                     attribute="presentation", categories=["A", "B"],
                                     ci_method="wilson", alpha=0.05)
    assert test["p_value"] != test["p_value"] and test["test"].startswith("none")
    assert all(r["estimate"] == r["on_class_estimate"] for r in rows)


def test_the_conditional_share_covers_the_truth_on_the_audits_design():
    """Three prompts of 40 images; a prompt draws its class with probability
    0.5-0.8, on-class images are A with 0.7, off-class with 0.3: the
    unconditional share misses the on-class truth, the conditional interval
    covers it."""
    rng = np.random.default_rng(7)
    covered = unconditional_covered = total = 0
    for _ in range(300):
        for item, p_on in (("teacher", 0.5), ("nurse", 0.7), ("ceo", 0.8)):
            on = rng.random(40) < p_on
            labels = np.where(rng.random(40) < np.where(on, 0.7, 0.3), "A", "B")
            images, decisions, _, labelled = tables(
                ["on" if o else "off" for o in on], list(labels), item)
            rows, _ = conditional_rows(labelled, on_class_labels(decisions),
                                       attribute="presentation", categories=["A", "B"],
                                       ci_method="wilson", alpha=0.05)
            a = next(r for r in rows if r["category"] == "A")
            covered += a["on_class_ci_low"] <= 0.7 <= a["on_class_ci_high"]
            unconditional_covered += a["ci_low"] <= 0.7 <= a["ci_high"]
            total += 1
    assert covered / total >= 0.93
    assert unconditional_covered / total < 0.6
