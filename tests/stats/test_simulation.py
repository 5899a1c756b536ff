"""Coverage and error rates by seeded simulation (fast: vectorised draws)."""

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from audit.stats.bootstrap import cluster_bootstrap
from audit.stats.intervals import binomial_ci
from audit.stats.multiplicity import adjust


def exact_coverage(n, p):
    ks = np.arange(n + 1)
    inside = [binomial_ci(int(k), n)[0] <= p <= binomial_ci(int(k), n)[1] for k in ks]
    return stats.binom.pmf(ks[inside], n, p).sum()


def test_wilson_coverage_is_near_nominal():
    """Simulated coverage per cell matches the exact coverage, and the grid's
    coverage sits in [0.93, 0.97]. Single cells can leave that band because
    the binomial is discrete: exactly 0.975 at n = 20, p = 0.3."""
    rng = np.random.default_rng(11)
    simulated = []
    for n in (20, 50, 200):
        for p in (0.1, 0.3, 0.5):
            k = rng.binomial(n, p, size=20000)
            bounds = {int(x): binomial_ci(int(x), n) for x in np.unique(k)}
            coverage = np.mean([bounds[int(x)][0] <= p <= bounds[int(x)][1] for x in k])
            assert coverage == pytest.approx(exact_coverage(n, p), abs=4 * np.sqrt(0.05 * 0.95
                                                                                   / 20000))
            assert 0.93 <= coverage <= 0.98
            simulated.append(coverage)
    assert 0.93 <= np.mean(simulated) <= 0.97


def test_benjamini_hochberg_controls_fdr():
    rng = np.random.default_rng(7)
    fdp = []
    for _ in range(400):
        null = rng.uniform(size=80)
        effect = stats.norm.sf(rng.normal(3.0, 1.0, size=20))
        p = np.concatenate([null, effect])
        rejected = adjust(p) <= 0.05
        false = rejected[:80].sum()
        fdp.append(false / max(1, rejected.sum()))
    assert np.mean(fdp) <= 0.05
    assert np.mean(fdp) > 0.01  # the nulls are really tested, not all kept


def test_cluster_bootstrap_covers_better_than_naive_when_prompts_differ():
    rng = np.random.default_rng(3)
    truth, prompts, images = 0.5, 20, 10
    naive_hits, boot_hits = [], []
    for rep in range(200):
        shares = rng.beta(1.0, 1.0, size=prompts)  # prompts differ a lot (mean 0.5)
        k = rng.binomial(images, shares)
        n = np.full(prompts, images)
        low, high = proportion_confint(k.sum(), n.sum(), method="wilson")
        naive_hits.append(low <= truth <= high)
        pooled = cluster_bootstrap(k, n, draws=1000, seed=rep)
        boot_hits.append(pooled.ci_low <= truth <= pooled.ci_high)
    naive, boot = np.mean(naive_hits), np.mean(boot_hits)
    assert boot > naive + 0.1
    assert boot >= 0.88


def test_cluster_bootstrap_is_seeded():
    k, n = np.array([3, 7, 5, 9]), np.array([10, 10, 10, 10])
    assert cluster_bootstrap(k, n, seed=5) == cluster_bootstrap(k, n, seed=5)
    assert cluster_bootstrap(k, n).estimate == pytest.approx(24 / 40)


def test_abstention_that_depends_on_the_true_class_is_corrected_when_kept():
    """The classifier abstains ('unclear') on 30% of women and 5% of men and
    is 90% right otherwise; the true share is 0.5. Confident labels alone
    read about 0.44, and a correction that drops the abstention column
    cannot undo it; keeping the column recovers 0.5 with near-nominal
    coverage. The confusion comes from 150 labelled images per class."""
    from audit.stats.correction import correct_with_interval

    rng = np.random.default_rng(0)
    outcome_given_true = np.array([[0.7 * 0.9, 0.7 * 0.1, 0.3],  # true female
                                   [0.95 * 0.1, 0.95 * 0.9, 0.05]])  # true male
    kept, dropped, confident, covered = [], [], [], 0
    replicates = 300
    for r in range(replicates):
        women = rng.binomial(400, 0.5)
        observed = (rng.multinomial(women, outcome_given_true[0])
                    + rng.multinomial(400 - women, outcome_given_true[1]))
        confusion = np.stack([rng.multinomial(150, row) for row in outcome_given_true])
        out = correct_with_interval(["female", "male"], observed, confusion,
                                    outcomes=["female", "male", "unclear"], draws=500, seed=r)
        kept.append(out.corrected[0])
        covered += out.ci_low[0] <= 0.5 <= out.ci_high[0]
        confident.append(observed[0] / observed[:2].sum())
        dropped.append(correct_with_interval(["female", "male"], observed[:2], confusion[:, :2],
                                             draws=20, seed=r).corrected[0])
    # P(read female | confident) = (0.5 * 0.63 + 0.5 * 0.095) / (0.5 * 0.7 + 0.5 * 0.95)
    assert np.mean(confident) == pytest.approx((0.63 + 0.095) / 1.65, abs=0.01)
    assert np.mean(dropped) < 0.45  # the old correction stays biased
    assert np.mean(kept) == pytest.approx(0.5, abs=0.01)
    assert covered / replicates >= 0.9
