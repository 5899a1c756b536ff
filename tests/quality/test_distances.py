"""The distances equal the reference implementations on the same features
(clean-fid, pytorch-fid, and CMMD's formula written out), their intervals
are checked against brute force, and their coverage by simulation on the
design audit quality uses: two independent sets of images."""

from __future__ import annotations

import numpy as np
import pytest

from audit.fidelity import distances as D


def gaussian_sets(rng, n_a, n_b, d, shift=0.0, scale=1.0):
    x = rng.normal(size=(n_a, d))
    y = rng.normal(size=(n_b, d)) * scale
    y[:, 0] += shift
    return x, y


def test_fid_equals_clean_fid_and_pytorch_fid():
    from cleanfid.fid import frechet_distance as clean
    from pytorch_fid.fid_score import calculate_frechet_distance as pytorch

    x, y = gaussian_sets(np.random.default_rng(0), 300, 250, 32, shift=0.3, scale=1.1)
    stats = (x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False))
    ours = D.fid(x, y)
    assert ours == pytest.approx(clean(*stats), rel=1e-6)
    assert ours == pytest.approx(pytorch(*stats), rel=1e-6)
    # fewer images than dimensions: the nuclear-norm route equals the d x d one
    small_x, small_y = x[:20], y[:15]
    full = D.frechet_distance(small_x.mean(0), np.cov(small_x, rowvar=False),
                              small_y.mean(0), np.cov(small_y, rowvar=False))
    assert D.fid(small_x, small_y) == pytest.approx(full, rel=1e-6)


def test_kid_equals_clean_fid_on_all_pairs():
    from cleanfid.fid import kernel_distance

    x, y = gaussian_sets(np.random.default_rng(1), 120, 120, 16, shift=0.5)
    # one subset of every image: clean-fid's random subset is then a permutation
    assert D.kid(x, y).value == pytest.approx(
        kernel_distance(x, y, num_subsets=1, max_subset_size=10_000), rel=1e-6)


def by_hand_mmd2(kernel, x, y):
    m, n = len(x), len(y)
    within_x = sum(kernel(x[i:i + 1], x[j:j + 1])[0, 0] for i in range(m) for j in range(m)
                   if i != j) / (m * (m - 1))
    within_y = sum(kernel(y[i:i + 1], y[j:j + 1])[0, 0] for i in range(n) for j in range(n)
                   if i != j) / (n * (n - 1))
    cross = sum(kernel(x[i:i + 1], y[j:j + 1])[0, 0] for i in range(m) for j in range(n))
    return within_x + within_y - 2 * cross / (m * n)


def test_mmd_and_its_jackknife_against_brute_force():
    rng = np.random.default_rng(2)
    x, y = gaussian_sets(rng, 9, 7, 4, shift=0.8)
    estimate = D.kid(x, y)
    assert estimate.value == pytest.approx(by_hand_mmd2(D.polynomial_kernel, x, y), rel=1e-9)
    # the jackknife from explicit leave-one-out recomputations
    without_x = [D.kid(np.delete(x, i, 0), y).value for i in range(len(x))]
    without_y = [D.kid(x, np.delete(y, j, 0)).value for j in range(len(y))]
    variance = sum((len(v) - 1) / len(v) * np.sum((np.array(v) - np.mean(v)) ** 2)
                   for v in (without_x, without_y))
    assert estimate.se == pytest.approx(np.sqrt(variance), rel=1e-9)
    assert estimate.ci_high - estimate.value == pytest.approx(1.959964 * estimate.se, rel=1e-5)


def test_cmmd_as_its_authors_define_it_and_unbiased():
    rng = np.random.default_rng(3)
    x, y = gaussian_sets(rng, 12, 10, 6, shift=0.4)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y /= np.linalg.norm(y, axis=1, keepdims=True)

    def gaussian(a, b):  # exp(-||a - b||^2 / (2 sigma^2)), sigma 10
        return np.exp(-((a[:, None, :] - b[None, :, :]) ** 2).sum(-1) / 200.0)

    authors = 1000 * (gaussian(x, x).mean() + gaussian(y, y).mean() - 2 * gaussian(x, y).mean())
    assert D.cmmd_v_statistic(x, y) == pytest.approx(authors, rel=1e-9)
    assert D.cmmd(x, y).value == pytest.approx(1000 * by_hand_mmd2(gaussian, x, y), rel=1e-9)
    # the authors' form adds each image's similarity with itself: positive bias
    assert D.cmmd_v_statistic(x, y) > D.cmmd(x, y).value


@pytest.mark.parametrize("shift", [0.0, 0.6])
def test_kid_and_cmmd_intervals_cover(shift):
    """Null (one distribution: the truth is 0) and a shift (the truth from a
    large sample); at n = 30 per set the jackknife covers at least
    nominally."""
    rng = np.random.default_rng(4)
    big_x, big_y = gaussian_sets(rng, 3000, 3000, 8, shift=shift)
    truth = {"kid": D.kid(big_x, big_y).value, "cmmd": D.cmmd(big_x, big_y).value}
    covered = {"kid": 0, "cmmd": 0}
    reps = 200
    for _ in range(reps):
        x, y = gaussian_sets(rng, 30, 30, 8, shift=shift)
        for name, metric in (("kid", D.kid), ("cmmd", D.cmmd)):
            found = metric(x, y)
            covered[name] += found.ci_low <= truth[name] <= found.ci_high
    for name, hits in covered.items():
        assert hits / reps >= 0.93, (name, hits)


def test_fid_infinity_removes_the_small_n_bias_and_its_interval_covers():
    """x ~ N(0, I), y ~ N(0.2, 1.21 I) in 16 dimensions: FID is
    16 (0.04 + (1 + 1.21 - 2.2)) = 0.8 exactly."""
    rng = np.random.default_rng(5)
    truth, reps = 16 * (0.04 + 0.01), 30
    found = []
    for r in range(reps):
        x = rng.normal(size=(100, 16))
        y = rng.normal(size=(100, 16)) * 1.1 + 0.2
        found.append(D.fid_infinity(x, y, halves=20, seed=r))
    values = np.array([e.value for e in found])
    plug_in = np.array([e.plug_in for e in found])
    assert abs(values.mean() - truth) < abs(plug_in.mean() - truth) / 3
    assert np.mean([e.ci_low <= truth <= e.ci_high for e in found]) >= 0.9


def test_tiny_sets_are_refused():
    x, y = gaussian_sets(np.random.default_rng(6), 2, 5, 4)
    with pytest.raises(ValueError, match="at least 3"):
        D.kid(x, y)


def test_the_difference_of_two_runs_against_one_reference():
    """KID(x1, y) - KID(x2, y): the value, its jackknife against explicit
    leave-one-out recomputation (the reference image left out of both), and
    an interval narrower than treating the two distances as independent."""
    rng = np.random.default_rng(8)
    x1, y = gaussian_sets(rng, 9, 8, 4, shift=0.9)
    x2 = rng.normal(size=(7, 4))
    found = D.mmd2_difference("kid", x1, x2, y)
    assert found.value == pytest.approx(D.kid(x1, y).value - D.kid(x2, y).value, rel=1e-9)

    def difference(a, b, c):
        return D.kid(a, c).value - D.kid(b, c).value

    parts = [[difference(np.delete(x1, i, 0), x2, y) for i in range(len(x1))],
             [difference(x1, np.delete(x2, i, 0), y) for i in range(len(x2))],
             [difference(x1, x2, np.delete(y, j, 0)) for j in range(len(y))]]
    variance = sum((len(v) - 1) / len(v) * np.sum((np.array(v) - np.mean(v)) ** 2)
                   for v in parts)
    assert found.se == pytest.approx(np.sqrt(variance), rel=1e-9)
    cmmd = D.mmd2_difference("cmmd", x1, x2, y)
    assert cmmd.value == pytest.approx(D.cmmd(x1, y).value - D.cmmd(x2, y).value, rel=1e-9)


def test_difference_intervals_cover_and_use_the_shared_reference():
    rng = np.random.default_rng(9)
    big = [rng.normal(size=(3000, 8)) for _ in range(3)]
    big[0][:, 0] += 0.8
    big[1][:, 0] += 0.4
    truth = D.kid(big[0], big[2]).value - D.kid(big[1], big[2]).value
    covered, narrower, reps = 0, 0, 200
    for _ in range(reps):
        x1, x2, y = (rng.normal(size=(30, 8)) for _ in range(3))
        x1[:, 0] += 0.8
        x2[:, 0] += 0.4
        found = D.mmd2_difference("kid", x1, x2, y)
        covered += found.ci_low <= truth <= found.ci_high
        naive = np.hypot(D.kid(x1, y).se, D.kid(x2, y).se)
        narrower += found.se < naive
    assert covered / reps >= 0.93
    assert narrower / reps > 0.9


def test_fid_infinity_difference_covers_a_known_difference():
    """x1 ~ N(0.2, 1.21 I), x2 ~ N(0, I), y ~ N(0, I) in 16 dimensions:
    FID(x1, y) - FID(x2, y) = 0.8 - 0."""
    rng = np.random.default_rng(10)
    found = [D.fid_infinity_difference(rng.normal(size=(100, 16)) * 1.1 + 0.2,
                                       rng.normal(size=(100, 16)), rng.normal(size=(100, 16)),
                                       halves=20, seed=r) for r in range(30)]
    assert np.mean([e.ci_low <= 0.8 <= e.ci_high for e in found]) >= 0.9
    assert abs(np.mean([e.value for e in found]) - 0.8) < 0.15
