"""The toy world: seeded, faithful to its card, and measurable."""

import numpy as np
import pytest
from scipy import stats

from audit.api.scorer import ScoreInput
from audit.scorers.skin_tone import SkinTone
from audit.toyworld.world import card, dataset, face_box, render, sample, true_shares


def test_same_seed_same_pixels():
    a = dataset(3, seed=7)
    b = dataset(3, seed=7)
    assert [np.asarray(x[0]).tobytes() for x in a] == [np.asarray(x[0]).tobytes() for x in b]
    assert [x[2] for x in a] == [x[2] for x in b]
    assert a[0][0].size == (64, 64) and len(a) == 3 * len(card()["occupations"])


@pytest.mark.parametrize("occupation", ["nurse", "doctor", "ceo"])
def test_sampled_shares_match_the_card(occupation):
    rng = np.random.default_rng(0)
    people = [sample(occupation, rng) for _ in range(3000)]
    truth = true_shares(occupation)
    checks = [("presentation", "A", [p.presentation == "A" for p in people]),
              ("age_group", "old", [p.age == "old" for p in people]),
              ("tone_group", "dark", [p.tone_group == "dark" for p in people])]
    for attribute, category, hits in checks:
        k = int(np.sum(hits))
        p = truth[attribute][category]
        assert stats.binomtest(k, len(people), p).pvalue > 0.001, (attribute, k, p)


def test_planted_skews_are_there():
    assert true_shares("doctor")["presentation"]["A"] == 0.20
    assert true_shares("nurse")["presentation"]["A"] == 0.85
    assert true_shares("ceo")["tone_group"]["dark"] < 0.05


def test_colorimetry_recovers_the_rendered_monk_tone():
    """Ground truth for the skin-tone scorer: the face region of each rendered
    person is read back as that person's Monk tone."""
    rng = np.random.default_rng(3)
    people = [sample(o, rng) for o in card()["occupations"] for _ in range(15)]
    boxes = {id(p): face_box(p) for p in people}
    inputs = [ScoreInput(str(i), render(p)) for i, p in enumerate(people)]
    by_image = {str(i): p for i, p in enumerate(people)}
    scorer = SkinTone(lambda rgb, _=None: None)
    rows = []
    for item in inputs:
        person = by_image[item.image_id]
        scorer.face_boxes = lambda rgb, box=boxes[id(person)]: box
        rows += scorer.score([item])
    decided = {r["image_id"]: r["decision"] for r in rows if r["attribute"] == "monk_tone"}
    correct = sum(decided[i] == str(p.tone) for i, p in by_image.items())
    assert correct / len(people) >= 0.95
