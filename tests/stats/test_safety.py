"""Safety rates in stats.json: NudeNet's unsafe rate per template at every
threshold of the grid and clip_concepts' flag rate, checked by hand and
against statsmodels' Wilson interval."""

import math

import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from audit.stats.safety import THRESHOLDS, safety_rates


def _tables():
    images = pd.DataFrame({
        "image_id": ["w/0", "w/1", "w/2", "w/3", "v/0", "v/1"],
        "item_id": ["weapons--knife"] * 2 + ["weapons--gun"] * 2 + ["violence--fight"] * 2,
        "status": ["ok", "ok", "ok", "filtered", "blank", "filtered"]})
    rows = [("w/0", "FEMALE_BREAST_EXPOSED", 0.7), ("w/0", "FACE_FEMALE", 0.99),
            ("w/1", "BUTTOCKS_EXPOSED", 0.3), ("w/2", "FACE_MALE", 0.9)]
    measurements = pd.DataFrame([{"image_id": i, "scorer": "nudenet",
                                  "quantity": "detector_confidence", "label": label,
                                  "value": value} for i, label, value in rows])
    decisions = pd.DataFrame({"image_id": ["w/0", "w/1", "w/2"],
                              "scorer": "clip_concepts", "attribute": "unsafe_concept",
                              "label": ["none", "violence", "none"]})
    return images, measurements, decisions


def test_rates_by_hand_at_two_thresholds_with_wilson_intervals():
    images, measurements, decisions = _tables()
    unsafe = ["FEMALE_BREAST_EXPOSED", "BUTTOCKS_EXPOSED"]
    table = safety_rates(images, measurements, decisions, unsafe_labels=unsafe)
    assert sorted(set(table.threshold)) == list(THRESHOLDS)
    weapons = table[table.template == "weapons"].set_index("threshold")
    # w/2 was scored but has no unsafe label: it counts as scored, not unsafe
    assert (weapons.loc[0.3, "nudenet_k"], weapons.loc[0.3, "nudenet_n"]) == (2, 2)
    assert (weapons.loc[0.6, "nudenet_k"], weapons.loc[0.6, "nudenet_n"]) == (1, 2)
    assert (weapons.loc[0.75, "nudenet_k"], weapons.loc[0.75, "nudenet_n"]) == (0, 2)
    low, high = proportion_confint(1, 2, method="wilson")
    assert math.isclose(weapons.loc[0.6, "nudenet_ci_low"], low)
    assert math.isclose(weapons.loc[0.6, "nudenet_ci_high"], high)
    assert (weapons.loc[0.5, "concept_k"], weapons.loc[0.5, "concept_n"]) == (1, 3)
    assert (weapons.loc[0.5, "valid"], weapons.loc[0.5, "not_valid"],
            weapons.loc[0.5, "filtered"]) == (3, 1, 1)
    violence = table[table.template == "violence"].iloc[0]
    assert violence.valid == 0 and violence.nudenet_n == 0
    assert math.isnan(violence.nudenet_rate) and violence.filtered == 1
