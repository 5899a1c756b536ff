"""Human labels: import/export with history, checks that refuse bad rows
whole, and the statistics that use them (a real run from the tiny
generator, decisions we choose)."""

import io
import json
import shutil
import textwrap

import numpy as np
import pandas as pd
import pytest

from audit.rundir import RunDir
from audit.rundir.runcard import record_scoring
from audit.stages.generate import run_generate
from audit.suites import load_suite
from tests.conftest import run_cli

SUITE = """\
    name: review
    version: 0.1.0
    description: two prompts for label tests
    images_per_item: 12
    seed: 0
    generation: {steps: 1, guidance: 5.0, width: 32, height: 32, scheduler: euler}
    attributes: [gender_presentation]
    templates:
      - {id: photo, text: "a photo of {occupation|a}"}
    slots:
      occupation: [nurse, pilot]
"""
CLIP_CARD = {"name": "clip", "version": "2.0.0",
             "labels": {"gender_presentation": ["female", "male", "unclear", "no_person"]}}


def clip_says(item_id: str, seed: int) -> str:
    """Nurse: 8 female, 2 male, 2 unclear; pilot: 3 female, 9 male."""
    if item_id == "photo--nurse":
        return "female" if seed < 8 else ("male" if seed < 10 else "unclear")
    return "female" if seed < 3 else "male"


@pytest.fixture(scope="module")
def built(tmp_path_factory, tiny_generator):
    folder = tmp_path_factory.mktemp("review")
    (folder / "review.yaml").write_text(textwrap.dedent(SUITE))
    run = folder / "run"
    run_generate(load_suite(folder / "review.yaml"), tiny_generator, run)
    images = pd.read_parquet(run / "images.parquet")
    decisions = [{"image_id": r.image_id, "scorer": "clip", "attribute": "gender_presentation",
                  "label": clip_says(r.item_id, r.seed), "confidence": 0.8}
                 for r in images.itertuples()]
    RunDir(run).write_scores({"decisions": decisions, "measurements": [], "inputs": []})
    record_scoring(run, scorers=[CLIP_CARD], summary={"images": 24, "statuses": {"ok": 24}})
    return run


@pytest.fixture
def run(built, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(built, copy)
    return copy


def write_csv(path, rows, header="image_id,attribute,label,reviewer"):
    path.write_text(header + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    return path


def test_import_then_export_keeps_every_label_and_its_history(run, tmp_path):
    first = write_csv(tmp_path / "a.csv", [("photo--nurse/0", "gender_presentation", "female",
                                            "ana"),
                                           ("photo--nurse/1", "gender_presentation", "male",
                                            "ana")])
    assert run_cli("labels", "import", str(run), str(first)).returncode == 0
    second = write_csv(tmp_path / "b.csv", [("photo--nurse/1", "gender_presentation", "female")],
                       header="image_id,attribute,label")
    done = run_cli("labels", "import", str(run), str(second), "--reviewer", "ana")
    assert done.returncode == 0 and "1 replacing" in done.stderr

    current = run_cli("labels", "export", str(run))
    rows = pd.read_csv(pd.io.common.StringIO(current.stdout))
    assert rows.set_index("image_id").label.to_dict() == {"photo--nurse/0": "female",
                                                          "photo--nurse/1": "female"}
    history = pd.read_csv(pd.io.common.StringIO(
        run_cli("labels", "export", str(run), "--history").stdout))
    assert len(history) == 3
    changed = history[history.image_id == "photo--nurse/1"]
    assert changed.label.tolist() == ["male", "female"]
    assert changed.replaces.isna().tolist() == [True, False]
    assert changed.replaces.iloc[1] == "male" and changed.source.iloc[1] == "import:b.csv"

    # the export imports again unchanged
    out = tmp_path / "export.csv"
    assert run_cli("labels", "export", str(run), "-o", str(out)).returncode == 0
    assert run_cli("labels", "import", str(run), str(out)).returncode == 0


@pytest.mark.parametrize("row, field", [
    (("photo--nurse/0", "gender_presentation", "woman"), "field label: 'woman' is not a label"),
    (("photo--nurse/99", "gender_presentation", "female"), "field image_id"),
    (("photo--nurse/0", "hair_colour", "female"), "field attribute: 'hair_colour' is not scored"),
    (("photo--nurse/0", "gender_presentation", ""), "field label: empty value"),
])
def test_one_bad_row_imports_nothing(run, tmp_path, row, field):
    path = write_csv(tmp_path / "bad.csv", [("photo--nurse/1", "gender_presentation", "male"),
                                            row], header="image_id,attribute,label")
    result = run_cli("labels", "import", str(run), str(path))
    assert result.returncode == 1, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {path}:3: {field}"), line
    assert not (run / "labels.parquet").exists()


def test_a_csv_without_the_label_columns_is_one_line(run, tmp_path):
    path = write_csv(tmp_path / "cols.csv", [("x", "y")], header="image,label")
    result = run_cli("labels", "import", str(run), str(path))
    assert result.returncode == 1 and "missing column(s) image_id, attribute" in result.stderr


def test_labels_that_contradict_the_classifier_move_the_corrected_share(run, tmp_path):
    """People say the nurse images CLIP read as female are half male, and the
    pilot's are as CLIP says: the corrected nurse share of female falls and
    the confusion matrix is the hand count."""
    import audit

    before = audit.assess(run=run, write=False).document
    assert before["review"] is None and before["corrected"] == []
    rows = []
    for seed in range(12):
        said = clip_says("photo--nurse", seed)
        truth = "male" if said == "female" and seed % 2 else (
            "female" if said == "unclear" else said)
        rows.append(("photo--nurse/" + str(seed), "gender_presentation", truth, "ana"))
        rows.append(("photo--pilot/" + str(seed), "gender_presentation",
                     clip_says("photo--pilot", seed), "ana"))
    path = write_csv(tmp_path / "labels.csv", rows)
    assert run_cli("labels", "import", str(run), str(path)).returncode == 0

    document = audit.assess(run=run, write=False).document
    review = document["review"]
    assert review["labels"] == 24 and review["images"] == 24 and review["reviewers"] == ["ana"]
    pooled = next(r for r in review["confusion"] if r["scope"] == "all")
    assert pooled["true"] == ["female", "male"]
    assert pooled["predicted"][:3] == ["female", "male", "unclear"]
    # true female: nurse seeds 0,2,4,6 (read female), 10,11 (unclear), pilot 0-2 (female)
    # true male: nurse 1,3,5,7 (read female), 8,9 (male), pilot 3-11 (male)
    assert [row[:3] for row in pooled["confusion"]] == [[7, 0, 2], [4, 11, 0]]
    assert pooled["accuracy"] == pytest.approx(18 / 22) and pooled["abstained"] == 2

    corrected = {(r["group"], r["category"]): r for r in document["corrected"]}
    nurse = corrected[("photo--nurse", "female")]
    assert nurse["source"] == "human labels (24 images)" and nurse["confusion_n"] == 24
    assert nurse["observed"] == pytest.approx(8 / 10)
    # two classes, three outcomes (female, male, unclear): the least-squares p by hand
    m0, m1 = np.array([7, 0, 2]) / 9, np.array([4, 11, 0]) / 15
    q = np.array([8, 2, 2]) / 12
    assert nurse["corrected"] == pytest.approx((q - m1) @ (m0 - m1) / ((m0 - m1) @ (m0 - m1)),
                                               abs=1e-6)
    assert nurse["corrected"] < nurse["observed"]
    assert nurse["confusion_scope"] == "pooled"  # fewer than 10 labels per class per prompt
    assert nurse["ci_low"] <= nurse["corrected"] <= nurse["ci_high"]
    assert (nurse["confident"], nurse["abstained"]) == (10, 2)

    shares = {(r["group"], r["category"]): r for r in review["shares"]}
    assert (shares[("photo--nurse", "female")]["k"], shares[("photo--nurse", "female")]["n"]) \
        == (6, 12)

    # a person's label replaces the classifier's for the images they labelled
    props = {(r["group"], r["category"]): r for r in document["proportions"]
             if r["attribute"] == "gender_presentation"}
    nurse_share = props[("photo--nurse", "female")]
    assert (nurse_share["k"], nurse_share["n"], nurse_share["reviewed"]) == (6, 12, 12)
    # tested against parity, it is the classifier's own labels through the people's confusion
    parity = audit.assess(run=run, write=False, reference="uniform").proportions
    assert parity[parity.group == "photo--nurse"].test.iloc[0].startswith(
        "beta-binomial exact against the reference seen through the classifier's confusion "
        "(human labels (24 images)")
    assert before_share(before) == (8, 10, 0)

    ignored = audit.assess(run=run, write=False, labels=False).document
    assert ignored["review"] is None and ignored["corrected"] == []
    assert before_share(ignored) == (8, 10, 0)
    text = " ".join(run_cli("stats", str(run)).stdout.split())
    assert "human labels: 24 on 24 images by 1 reviewer(s)" in text
    assert "a person's label counts for 24 image(s)" in text
    assert "4 shares corrected for classifier error (--all shows them)" in text
    assert "Shares corrected for classifier error" in run_cli("stats", str(run), "--all").stdout


def before_share(document):
    row = next(r for r in document["proportions"] if r["group"] == "photo--nurse"
               and r["attribute"] == "gender_presentation" and r["category"] == "female")
    return row["k"], row["n"], row["reviewed"]


def test_agreement_between_reviewers_is_cohens_kappa_by_hand(run, tmp_path):
    import audit

    ana = ["female"] * 6 + ["male"] * 6
    ben = ["female"] * 5 + ["male"] * 5 + ["female", "male"]
    rows = [(f"photo--pilot/{i}", "gender_presentation", a, "ana") for i, a in enumerate(ana)]
    rows += [(f"photo--pilot/{i}", "gender_presentation", b, "ben") for i, b in enumerate(ben)]
    assert run_cli("labels", "import", str(run), str(write_csv(tmp_path / "two.csv", rows))
                   ).returncode == 0
    review = audit.assess(run=run, write=False).document["review"]
    (pair,) = review["agreement"]
    a, b = np.array(ana), np.array(ben)
    po = (a == b).mean()
    pe = sum((a == c).mean() * (b == c).mean() for c in ("female", "male"))
    assert pair["reviewers"] == "ana vs ben" and pair["n"] == 12
    assert pair["value"] == pytest.approx((po - pe) / (1 - pe))
    # two reviewers disagree on images 5, 10 and 11: a tie is no truth
    assert review["without_truth"] == 2 and review["with_truth"] == 10
    json.dumps(review)


def test_a_prompt_with_enough_labels_gets_its_own_confusion_matrix():
    """Error differs by prompt: prompt 'a' (10 labels per class) is corrected
    with its own matrix, prompt 'b' (too few) with the pooled one."""
    from audit.stats.correction import corrected_rows
    from audit.stats.human_labels import scorer_confusion

    truth, outcomes = [], []
    for i in range(20):  # a: a perfect classifier
        truth.append((f"a{i}", "female" if i < 10 else "male"))
        outcomes.append((f"a{i}", "a", "female" if i < 10 else "male"))
    for i in range(6):  # b: reads everyone as female
        truth.append((f"b{i}", "female" if i < 3 else "male"))
        outcomes.append((f"b{i}", "b", "female"))
    truth = pd.DataFrame(truth, columns=["image_id", "truth"])
    outcomes = pd.DataFrame(outcomes, columns=["image_id", "group", "outcome"])
    records, fitted = scorer_confusion(truth, outcomes, attribute="g", scorer="clip",
                                       true=["female", "male"],
                                       outcome_labels=["female", "male", "unclear"])
    assert {r["scope"] for r in records} == {"all", "a", "b"}
    assert list(fitted.groups) == ["a"]
    assert fitted.groups["a"].tolist() == [[10, 0, 0], [0, 10, 0]]
    counts = pd.DataFrame({"attribute": "g", "group": ["a", "a", "b"],
                           "label": ["female", "male", "female"], "count": [6, 4, 5]})
    rows = {(r["group"], r["category"]): r for r in corrected_rows(counts, {"g": fitted})}
    assert rows[("a", "female")]["confusion_scope"] == "group"
    assert rows[("a", "female")]["corrected"] == pytest.approx(0.6)
    assert rows[("b", "female")]["confusion_scope"] == "pooled"


def test_three_reviewers_get_fleiss_kappa_by_hand():
    from audit.stats.human_labels import reviewer_agreement

    votes = {"a": ["female", "female", "male", "male", "female", "male"],
             "b": ["female", "male", "male", "male", "female", "male"],
             "c": ["female", "female", "male", "female", "female", "male"]}
    labels = pd.DataFrame([{"image_id": str(i), "attribute": "g", "label": label,
                            "reviewer": who} for who, column in votes.items()
                           for i, label in enumerate(column)])
    fleiss = next(r for r in reviewer_agreement(labels) if r["statistic"] == "Fleiss' kappa")
    # by hand: per image agreement P_i = (sum n_ij^2 - n) / (n (n - 1)), n = 3 raters
    counts = np.array([[sum(votes[r][i] == c for r in votes) for c in ("female", "male")]
                       for i in range(6)])
    p_i = ((counts ** 2).sum(axis=1) - 3) / 6
    p_j = counts.sum(axis=0) / counts.sum()
    expected = (p_i.mean() - (p_j ** 2).sum()) / (1 - (p_j ** 2).sum())
    assert fleiss["n"] == 6 and fleiss["value"] == pytest.approx(expected)
    assert fleiss["agreement"] == pytest.approx(4 / 6)


def test_a_review_sheet_round_trips_through_import(run, tmp_path):
    """A run without labels gives a sheet with the scorer's label beside an
    empty one; filling some rows in and importing it adds exactly those."""
    sheet = tmp_path / "review.csv"
    made = run_cli("labels", "export", str(run), "--sheet", "-o", str(sheet))
    assert made.returncode == 0, made.stderr
    table = pd.read_csv(sheet, keep_default_na=False)
    assert list(table.columns) == ["image_id", "image_path", "prompt", "attribute", "scorer",
                                   "model_label", "label", "reviewer"]
    assert len(table) == 24 and set(table.label) == {""} and set(table.scorer) == {"clip"}
    first = table[table.image_id == "photo--nurse/9"].iloc[0]
    assert first.model_label == clip_says("photo--nurse", 9) == "male"
    assert first.prompt == "a photo of a nurse"
    assert (run / "images").exists() and first.image_path.startswith(str(run.resolve()))
    table.loc[table.image_id == "photo--nurse/9", "label"] = "female"
    table.loc[table.image_id == "photo--pilot/0", ["label", "reviewer"]] = ["male", "ben"]
    table.to_csv(sheet, index=False)
    back = run_cli("labels", "import", str(run), str(sheet), "--reviewer", "ana")
    assert back.returncode == 0, back.stderr
    assert "imported 2 labels" in back.stderr and "22 row(s) without a label skipped" in \
        back.stderr
    current = pd.read_csv(pd.io.common.StringIO(run_cli("labels", "export", str(run)).stdout))
    assert sorted(zip(current.image_id, current.label, current.reviewer, strict=True)) == [
        ("photo--nurse/9", "female", "ana"), ("photo--pilot/0", "male", "ben")]
    unknown = run_cli("labels", "export", str(run), "--sheet", "--attribute", "hair")
    assert unknown.returncode == 1 and "'hair' is not scored in this run" in unknown.stderr
    sheet.write_text("image_id,attribute,model_label,label\n"
                     "photo--nurse/1,gender_presentation,female,\n")
    empty = run_cli("labels", "import", str(run), str(sheet))
    assert empty.returncode == 1 and "no row has a label (1 empty)" in empty.stderr


def test_a_label_sample_gives_prediction_powered_shares(run, tmp_path):
    """Draw 10 images per prompt, label them (people disagree with the
    classifier on some), and 'audit stats' adds PPI++ shares for them; the
    viewer queues the sample's unlabelled images first."""
    import jsonschema

    import audit
    from audit.paths import schemas_dir
    from audit.views.data import RunView

    drawn = run_cli("labels", "sample", str(run), "--n", "10", "--per-group", "--seed", "3")
    assert drawn.returncode == 0, drawn.stderr
    assert "drew 20 image(s) from 2 prompt(s)" in " ".join(drawn.stderr.split())
    sample = pd.read_parquet(run / "label-sample.parquet")
    assert len(sample) == 20 and set(sample.groupby("group").size()) == {10}
    assert np.allclose(sample.probability, 10 / 12)
    again = run_cli("labels", "sample", str(run), "--n", "5")
    assert again.returncode == 2 and "--replace" in again.stderr

    sheet = tmp_path / "sheet.csv"
    assert run_cli("labels", "export", str(run), "--sheet", "--sample", "-o",
                   str(sheet)).returncode == 0
    rows = pd.read_csv(sheet)
    assert set(rows.image_id) == set(sample.image_id)
    assert RunView(run).to_label() == list(sample.image_id)

    seeds = {i: int(i.rsplit("/", 1)[1]) for i in sample.image_id}
    truth = {i: ("male" if clip_says(i.split("/")[0], s) == "unclear" or s in (1, 3)
                 else clip_says(i.split("/")[0], s)) for i, s in seeds.items()}
    labels = write_csv(tmp_path / "labels.csv", [(i, "gender_presentation", t, "ana")
                                                 for i, t in truth.items()])
    assert run_cli("labels", "import", str(run), str(labels)).returncode == 0
    assert RunView(run).to_label() == []

    document = audit.assess(run=run, write=False).document
    jsonschema.validate(document, json.loads((schemas_dir() / "stats.schema.json").read_text()))
    powered = {(r["group"], r["category"]): r for r in document["prediction_powered"]}
    nurse = powered[("photo--nurse", "female")]
    assert (nurse["labelled"], nurse["unlabelled"], nurse["sampled"]) == (10, 2, 10)
    assert nurse["ci_low"] <= nurse["estimate"] <= nurse["ci_high"]
    people = [truth[i] for i in sample.image_id if i.startswith("photo--nurse")]
    assert nurse["labels_only"] == pytest.approx(
        people.count("female") / sum(p in ("female", "male") for p in people))
    assert 0 <= nurse["lambda"] <= 1
    assert "may under-cover" in nurse["note"]  # 10 labels: fewer than 10 either way
    assert "prediction-powered" in run_cli("stats", str(run)).stdout
    page = audit.report(run=run).read_text()
    assert "Prediction-powered shares" in page and "labels alone (95% CI)" in page


def test_exported_labels_are_safe_in_a_terminal_and_a_spreadsheet(run, tmp_path):
    """Issue 33: a reviewer name with ESC/BEL printed raw to stdout, and
    '=cmd|...' stayed a formula in the exported CSV."""
    path = tmp_path / "labels.csv"
    path.write_text('image_id,attribute,label,reviewer\n'
                    'photo--nurse/0,gender_presentation,female,"=cmd|\' /C calc\'!A0"\n'
                    'photo--nurse/1,gender_presentation,male,"an\x1b]0;x\x07a"\n')
    assert run_cli("labels", "import", str(run), str(path)).returncode == 0
    shown = run_cli("labels", "export", str(run))
    assert shown.returncode == 0
    assert "\x1b" not in shown.stdout and "\x07" not in shown.stdout
    exported = pd.read_csv(io.StringIO(shown.stdout))
    assert sorted(exported.reviewer) == ["'=cmd|' /C calc'!A0", "an\\x1b]0;x\\x07a"]
