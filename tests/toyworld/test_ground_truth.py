"""The toy world's ground truth separates generator from classifier: pixel
readers exact on renders and VAE round trips, an oracle generator whose
audit covers the card at the stated rate, and a decomposition that adds up."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from audit.stats.intervals import binomial_ci
from audit.toyworld.ground_truth import bias_amplification, separated_terms
from audit.toyworld.model import WEIGHTS
from audit.toyworld.oracle import draw_people, oracle_coverage, vae_round_trip
from audit.toyworld.readers import read
from audit.toyworld.world import render

pytest.importorskip("diffusers")


def test_pixel_readers_are_exact_on_renders_and_through_the_vae():
    people = draw_people(50, seed=99)
    renders = np.stack([np.asarray(render(p)) for p in people])
    for images, exact in ((renders, True), (vae_round_trip(renders, WEIGHTS / "toyworld-sd"
                                                           / "vae"), False)):
        readings = [read(image) for image in images]
        assert all(r.readable for r in readings)
        for field in ("occupation", "tone_group", "age"):
            got = [getattr(r, field) for r in readings]
            assert got == [getattr(p, field) for p in people], field
        presentation = np.mean([r.presentation == p.presentation
                                for r, p in zip(readings, people, strict=True)])
        if exact:
            assert presentation == 1.0
            assert [r.tone for r in readings] == [p.tone for p in people]
            assert max(r.rmse for r in readings) < 2
        else:  # the VAE blurs long grey hair against white clothes now and then
            assert presentation >= 0.99


@pytest.mark.slow
def test_oracle_generator_covers_the_card_at_the_stated_rate():
    """People drawn from the card, through the toy VAE: the pixel readers'
    95% Wilson intervals cover the card's shares at the rate Wilson gives at
    n = 40 for these shares (computed exactly here: 0.951), within 0.03 over
    224 cells; the toy CLIP's raw shares do not (their error is the
    classifier's), and corrected with a confusion matrix measured per
    occupation they do. A matrix pooled over occupations is not enough: the
    toy CLIP's errors depend on the occupation."""
    result = oracle_coverage(per_cell=40, replicates=4, calibration=100, seed=7)
    expected = []
    for cell in result["cells"]:
        ks = np.arange(41)
        inside = [binomial_ci(int(k), 40)[0] <= cell["true"] <= binomial_ci(int(k), 40)[1]
                  for k in ks]
        expected.append(stats.binom.pmf(ks[inside], 40, cell["true"]).sum())
    wilson = float(np.mean(expected))
    assert len(result["cells"]) == 224 and wilson == pytest.approx(0.951, abs=0.002)
    coverage = result["coverage"]
    assert coverage["pixel"] >= wilson - 0.03
    assert coverage["corrected_per_occupation"] >= wilson - 0.03
    assert coverage["clip"] < coverage["pixel"]
    assert coverage["corrected_pooled"] < coverage["corrected_per_occupation"]
    assert result["accuracy"]["readers"]["tone_group"] == 1.0


def readings_and_labels():
    """Doctor prompt, 10 images: 8 drawn as doctors (image 7 unreadable), 2
    drawn as nurses; truth A on images 0-2 and both nurses."""
    rows, clip = [], []
    truth = ["A", "A", "A", "B", "B", "B", "B", "B", "A", "A"]
    drawn = ["doctor"] * 8 + ["nurse"] * 2
    said = ["A", "B", "A", "B", "B", "B", "A", "unclear", "A", "A"]
    for i in range(10):
        rows.append({"image_id": str(i), "item_id": "photo--doctor", "prompted": "doctor",
                     "drawn": drawn[i], "readable": i != 7, "rmse": 5.0,
                     "presentation": truth[i], "tone_group": "light", "age_group": "young"})
        clip.append({"image_id": str(i), "attribute": "presentation", "label": said[i]})
    data = {("doctor", "presentation", "A"): 0.2, ("doctor", "presentation", "B"): 0.8,
            ("nurse", "presentation", "A"): 0.8, ("nurse", "presentation", "B"): 0.2}
    for occupation in ("doctor", "nurse"):
        for attribute, categories in (("tone_group", ("dark", "light", "medium")),
                                      ("age_group", ("old", "young"))):
            for category in categories:
                data[(occupation, attribute, category)] = 1 / len(categories)
    return pd.DataFrame(rows), pd.DataFrame(clip), data


def test_separated_terms_by_hand_and_they_add_up_to_what_the_audit_reports():
    readings, clip, data = readings_and_labels()
    terms = separated_terms(readings, clip, data)
    row = terms[(terms.attribute == "presentation") & (terms.category == "A")].iloc[0]
    assert (row.n, row.on_class, row.read_on_class) == (10, 8, 7)
    assert row.model_share == pytest.approx(3 / 7)  # images 0-2 of the 7 readable doctors
    assert (row.model_ci_low, row.model_ci_high) == pytest.approx(binomial_ci(3, 7))
    # A is under-represented among doctors (0.2 < 0.5 overall): the term is -(model - data)
    assert not row.over_represented
    assert row.amplification == pytest.approx(-(3 / 7 - 0.2))
    assert row.off_class_term == pytest.approx(5 / 9 - 3 / 7)  # readable: 9, A among them 5
    clip_readable = 5 / 9  # CLIP says A on 0, 2, 6, 8, 9 of the 9 readable (all decided)
    assert row.classifier_term == pytest.approx(clip_readable - 5 / 9)
    assert row.clip_share == pytest.approx(5 / 9)  # image 7 abstained
    total = row.amplification * -1 + row.data_share + row.off_class_term \
        + row.classifier_term + row.unreadable_term
    assert total == pytest.approx(row.clip_share)
    b = terms[(terms.attribute == "presentation") & (terms.category == "B")].iloc[0]
    assert b.over_represented and b.amplification == pytest.approx(row.amplification)


def test_directional_amplification_separates_exaggeration_from_reversal():
    """An occupation whose data skew is 0.8 A: a model at 0.9 amplifies
    (+0.1), a model at 0.3 reverses the skew (-0.5), not 'amplification'."""
    rows = []
    for occupation, share_a in (("nurse", 0.9), ("doctor", 0.3)):
        for i in range(100):
            rows.append({"image_id": f"{occupation}{i}", "prompted": occupation,
                         "drawn": occupation, "readable": True,
                         "presentation": "A" if i < share_a * 100 else "B",
                         "tone_group": "light", "age_group": "young"})
    data = {("nurse", "presentation", "A"): 0.8, ("nurse", "presentation", "B"): 0.2,
            ("doctor", "presentation", "A"): 0.8, ("doctor", "presentation", "B"): 0.2,
            ("other", "presentation", "A"): 0.2, ("other", "presentation", "B"): 0.8}
    for occupation in ("nurse", "doctor", "other"):
        for category in ("dark", "light", "medium"):
            data[(occupation, "tone_group", category)] = 1 / 3
        for category in ("old", "young"):
            data[(occupation, "age_group", category)] = 0.5
    frame = pd.DataFrame(rows)
    nurse = bias_amplification(frame[frame.prompted == "nurse"], data)
    doctor = bias_amplification(frame[frame.prompted == "doctor"], data)
    assert nurse["presentation"]["value"] == pytest.approx(0.1)
    assert doctor["presentation"]["value"] == pytest.approx(-0.5)
    assert doctor["presentation"]["ci_high"] < 0 < nurse["presentation"]["ci_high"]


def test_amplification_interval_covers_at_audit_sizes():
    """Issue 28: the percentile bootstrap covered 0.90-0.94 at about 14
    readable images per occupation. 300 replicates (s.e. 0.013); the full
    table is benchmarks/amplification_coverage.py's."""
    from benchmarks.amplification_coverage import DEMO, coverage

    for n in (14, DEMO):  # the demo's counts: 4 teachers, 13 firefighters, 22-24 others
        for attribute, row in coverage(n, reps=300, seed=3, before=False).items():
            assert row["now"] >= 0.93 - 0.02, (attribute, row)  # 1.5 s.e.
