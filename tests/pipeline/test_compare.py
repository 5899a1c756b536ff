"""``audit.compare``: two runs paired by prompt and seed, the answering
scorer's confident labels only, checked against statsmodels and by hand."""

import numpy as np
import pandas as pd
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

import audit
from audit.stats.compare import compare_paired_runs


def _labels(item, attribute, labels):
    return pd.DataFrame({"item_id": item, "seed": range(len(labels)), "attribute": attribute,
                         "label": labels})


def test_paired_table_matches_mcnemar_and_bh_by_hand():
    a = pd.concat([_labels("nurse", "g", list("ffffffmmmm")),
                   _labels("ceo", "g", list("mmmmmmmmmf"))])
    b = pd.concat([_labels("nurse", "g", list("fffmmmmmmm")),
                   _labels("ceo", "g", list("mmmmmmmmmm"))[:9]])  # seed 9 only in A
    table = compare_paired_runs(a, b).set_index(["item_id", "category"])
    nurse = table.loc[("nurse", "f")]
    assert (nurse.n_pairs, nurse.both, nurse.only_a, nurse.only_b) == (10, 3, 3, 0)
    assert nurse.difference == 0.3
    assert np.isclose(nurse.p_value, mcnemar([[3, 3], [0, 4]], exact=True).pvalue)
    assert table.loc[("ceo", "m")].n_pairs == 9  # the unpaired seed is left out
    expected = multipletests(table.p_value, method="fdr_bh")[1]
    assert np.allclose(table.p_adjusted, expected)


def test_a_run_against_itself_uses_the_answering_scorer(scored_run):
    result = audit.compare(runs=[scored_run, scored_run])
    assert result.answers[0]["gender_presentation"] == "clip"
    table = result.table
    assert (table.difference == 0).all() and (table.p_value == 1).all()
    from audit.rundir import RunDir

    run = RunDir(scored_run)
    decisions = run.read_scores().decisions
    clip = decisions[(decisions.scorer == "clip")
                     & (decisions.attribute == "gender_presentation")
                     & ~decisions.label.isin(["unclear", "no_person"])]
    per_item = clip.merge(run.read_images()[["image_id", "item_id"]], on="image_id"
                          ).groupby("item_id").size()
    shown = table[table.attribute == "gender_presentation"].groupby("item_id").n_pairs.max()
    assert shown.to_dict() == per_item.to_dict()
