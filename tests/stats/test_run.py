"""Statistics on a real run directory (tiny generator) with scores we write."""

import csv
import json
import textwrap

import jsonschema
import numpy as np
import pandas as pd
import pytest

from audit.paths import package_data_dir, schemas_dir
from audit.rundir import RunDir
from audit.stages.generate import run_generate
from audit.stats.through_classifier import fit_through_confusion
from audit.suites import load_suite
from tests.conftest import run_cli

SUITE = """\
    name: pairs
    version: 0.1.0
    description: counterfactual pairs for stats tests
    reference: bls-cps-2025
    images_per_item: 6
    seed: 10
    generation: {steps: 1, guidance: 5.0, width: 32, height: 32, scheduler: euler}
    attributes: [person_present, gender_presentation]
    templates:
      - {id: face, text: "a photo of the face of {occupation|a}"}
      - {id: cf, text: "a photo of {gender|a} {occupation}", role: control, vary: gender}
    slots:
      occupation: [nurse, software developer]
      gender:
        - {value: female, expect: {gender_presentation: female}}
        - {value: male, expect: {gender_presentation: male}}
"""


def assess_run(run_dir, **kwargs):
    import audit

    return audit.assess(run=run_dir, write=False, **kwargs).result


def scores_for(images: pd.DataFrame) -> list[dict]:
    """Decisions we choose per image; a second scorer (faces) disagrees on the
    first developer image."""
    rows = []
    for row in images.itertuples():
        person = "no_person" if (row.item_id == "face--nurse" and row.seed == 10) else "person"
        if row.item_id == "face--nurse":
            label = "female" if row.seed < 15 else "unclear"
        elif row.item_id == "face--software-developer":
            label = "male" if row.seed != 11 else "female"
        else:
            label = json.loads(row.expected)["gender_presentation"]
            if row.item_id.startswith("cf--male") and row.seed < 12:
                label = "female"
        rows.append({"image_id": row.image_id, "scorer": "clip", "attribute":
                     "gender_presentation", "label": label, "confidence": 0.8})
        rows.append({"image_id": row.image_id, "scorer": "clip", "attribute": "person_present",
                     "label": person, "confidence": 0.9})
        faces = "female" if row.image_id == "face--software-developer/10" else label
        rows.append({"image_id": row.image_id, "scorer": "faces", "attribute":
                     "gender_presentation", "label": faces, "confidence": 0.7})
    return rows


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_generator):
    folder = tmp_path_factory.mktemp("stats")
    suite_file = folder / "pairs.yaml"
    suite_file.write_text(textwrap.dedent(SUITE))
    run = folder / "run"
    run_generate(load_suite(suite_file), tiny_generator, run)
    images = pd.read_parquet(run / "images.parquet")
    RunDir(run).write_scores({"decisions": scores_for(images), "measurements": [],
                              "inputs": []})
    return run


def bls_women(occupation):
    with (package_data_dir() / "reference/bls-cps-2025.csv").open() as fh:
        return next(float(r["pct_women"]) / 100 for r in csv.DictReader(fh)
                    if r["occupation"] == occupation)


def test_run_statistics(run_dir):
    result = assess_run(run_dir)
    props = result.proportions.set_index(["group", "category"])
    nurse = props.loc[("face--nurse", "female")]
    assert (nurse.n, nurse.k) == (4, 4)  # seed 10 no person; seeds 15 unclear
    assert nurse.reference == f"bls-cps-2025={bls_women('nurse'):.4g}"
    developer = props.loc[("face--software-developer", "female")]
    assert (developer.n, developer.k) == (6, 1)
    assert developer.test == "exact binomial"
    assert {"face--nurse", "face--software-developer"} == set(result.proportions.group)

    funnel = result.funnel.set_index("group").loc["face--nurse"]
    assert (funnel.generated, funnel.valid, funnel.person, funnel.labelled,
            funnel.unclear) == (6, 6, 5, 4, 1)

    controls = result.controls.set_index("group")
    assert controls.loc["cf--female--nurse"].k == 6
    assert controls.loc["cf--male--nurse"].k == 4  # seeds 10, 11 read as female

    pairs = result.comparisons[result.comparisons.kind.str.startswith("counterfactual")]
    nurse_pair = pairs[pairs.groups == "cf--female--nurse vs cf--male--nurse"].iloc[0]
    assert nurse_pair.n == 6 and nurse_pair.category == "female"
    assert nurse_pair.estimate == pytest.approx(4 / 6)
    assert nurse_pair.test == "exact McNemar"

    tests = pd.concat([result.proportions[["test_id", "p_value"]],
                       result.comparisons[["test_id", "p_value"]]]).dropna()
    kinds = ("funnel:", "abstention:", "homogeneity:")
    findings = tests[~tests.test_id.str.startswith(kinds)]
    assert set(findings.test_id.str.split(":").str[0]) == {"fit", "paired"}
    assert result.tests == findings.test_id.nunique() < tests.test_id.nunique()
    diagnostics = result.comparisons[result.comparisons.test_id.str.startswith(kinds)]
    assert len(diagnostics) == 3 and diagnostics.p_adjusted.isna().all()
    assert diagnostics.p_value.notna().all()
    assert (result.proportions.p_adjusted >= result.proportions.p_value - 1e-12).all()
    (agree,) = result.agreement.to_dict("records")
    assert agree["scorers"] == "clip vs faces" and agree["categories"] == ["female", "male"]
    n = agree["n"]  # images both scorers decided confidently
    table = np.array(agree["confusion"])
    assert table.sum() == n and table[1, 0] == 1 and table[0, 1] == 0
    po = (n - 1) / n
    rows, cols = table.sum(axis=1) / n, table.sum(axis=0) / n
    pe = (rows * cols).sum()
    assert agree["kappa"] == pytest.approx((po - pe) / (1 - pe), abs=1e-12)
    pooled = result.pooled.set_index("category").loc["female"]
    assert (pooled.k, pooled.n, pooled.clusters) == (5, 10, 2)


def test_stats_cli_on_a_run_writes_valid_stats_json(run_dir):
    result = run_cli("stats", str(run_dir))
    assert result.returncode == 0, result.stderr
    assert "face--nurse" in result.stdout and "perceived" in result.stdout
    document = json.loads((run_dir / "stats.json").read_text())
    schema = json.loads((schemas_dir() / "stats.schema.json").read_text())
    jsonschema.validate(document, schema)
    assert document["source"]["suite"] == "pairs"


def test_stats_cli_on_counts_course_example(tmp_path):
    counts = tmp_path / "counts.csv"
    counts.write_text("group,category,count\na canadian medical doctor,female,5\n"
                      "a canadian medical doctor,male,15\n")
    reference = tmp_path / "reference.csv"
    reference.write_text("group,category,proportion\n*,female,0.45\n*,male,0.55\n")
    result = run_cli("stats", "--counts", str(counts), "--reference", str(reference), "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    female = next(r for r in document["proportions"] if r["category"] == "female")
    assert (female["n"], female["k"], female["estimate"]) == (20, 5, 0.25)
    assert female["ci_low"] == pytest.approx(0.1118617, abs=1e-6)
    assert female["p_value"] == pytest.approx(0.0767, abs=1e-4)
    table = run_cli("stats", "--counts", str(counts), "--reference", str(reference))
    assert "5/20" in table.stdout and "0.112" in table.stdout


@pytest.mark.parametrize("counts,reference,message", [
    ("group,category\nx,female\n", None, "missing column(s) count"),
    ("group,category,count\nx,female,-1\n", None, ":2: field count: -1"),
    ("group,category,count\nx,female,2.5\n", None, ":2: field count: 2.5"),
    ("group,category,count\nx,female,two\n", None, "field count: 'two' is not a number"),
    ("group,category,count\nx,female,1\n", "group,category,proportion\n*,female,0.4\n"
     "*,male,0.5\n", "sums to 0.9"),
    ("group,category,count\nx,female,1\n", "group,category,proportion\ny,female,1\n",
     "reference group 'y' has no counts"),
    ("group,category,count\nx,femal,1\n", "group,category,proportion\n*,female,1\n",
     "did you mean 'female'"),
])
def test_bad_csv_is_one_line_exit_1(tmp_path, counts, reference, message):
    counts_path = tmp_path / "counts.csv"
    counts_path.write_text(counts)
    args = ["stats", "--counts", str(counts_path)]
    if reference:
        (tmp_path / "ref.csv").write_text(reference)
        args += ["--reference", str(tmp_path / "ref.csv")]
    result = run_cli(*args)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "csv" in lines[0]


def test_missing_counts_file_is_exit_2(tmp_path):
    result = run_cli("stats", "--counts", str(tmp_path / "nope.csv"))
    assert result.returncode == 2 and "file not found" in result.stderr


def test_plan_cli(tmp_path):
    result = run_cli("plan", "--p0", "0.5", "--p1", "0.65", "--json")
    assert result.returncode == 0
    document = json.loads(result.stdout)
    assert (document["n_first"], document["n_stays"], document["generate"]) == (90, 97, 97)
    text = run_cli("plan", "--p0", "0.5", "--p1", "0.65", "--tests", "55")
    assert "generate per prompt: 198" in text.stdout
    assert "bonferroni over 55 prompts" in text.stdout
    assert run_cli("plan", "--p0", "0.5", "--p1", "0.5").returncode == 2
    confusion = tmp_path / "confusion.json"
    confusion.write_text(json.dumps({"attributes": {"gender": {
        "true": ["female", "male"], "predicted": ["female", "male", "unclear"],
        "confusion": [[80, 10, 10], [10, 80, 10]]}}}))
    used = json.loads(run_cli("plan", "--p0", "0.5", "--p1", "0.65", "--confusion",
                              str(confusion), "--attribute", "gender", "--category", "female",
                              "--json").stdout)
    assert used["sensitivity"] == pytest.approx(80 / 90)
    assert used["specificity"] == pytest.approx(80 / 90)
    assert used["loss"] == pytest.approx(0.1)
    missing = run_cli("plan", "--p0", "0.5", "--p1", "0.65", "--confusion", str(confusion))
    assert missing.returncode == 2 and "--attribute" in missing.stderr


def test_corrected_shares_from_a_confusion_file_keep_its_abstention_column(run_dir, tmp_path):
    path = tmp_path / "confusion.json"
    matrix = [[85, 10, 5], [4, 94, 2]]
    path.write_text(json.dumps({"attributes": {"gender_presentation": {
        "true": ["female", "male"], "predicted": ["female", "male", "unclear"],
        "confusion": matrix}}}))
    result = assess_run(run_dir, confusion=path)
    corrected = result.corrected.set_index(["group", "category"])

    def by_hand(outcomes):
        """Two classes, three outcomes: p minimises |p m0 + (1 - p) m1 - q|^2."""
        m0, m1 = (np.array(r) / sum(r) for r in matrix)
        q = np.array(outcomes) / sum(outcomes)
        return float(np.clip((q - m1) @ (m0 - m1) / ((m0 - m1) @ (m0 - m1)), 0, 1))

    developer = corrected.loc[("face--software-developer", "female")]
    assert developer.corrected == pytest.approx(by_hand([1, 5, 0]))
    assert developer.ci_low <= developer.corrected <= developer.ci_high
    assert (developer.n, developer.abstained, developer.excluded) == (6, 0, 0)
    # the nurse's unclear image is an outcome; its no-person image has no column
    nurse = corrected.loc[("face--nurse", "female")]
    assert nurse.corrected == pytest.approx(by_hand([4, 0, 1]))
    assert (nurse.n, nurse.confident, nurse.abstained, nurse.excluded) == (5, 4, 1, 1)
    assert nurse.source == "confusion file confusion.json"
    assert "abstentions kept" in nurse.ci_method
    # the fit test is of the classifier's confident labels through the confusion
    tested = result.proportions[result.proportions.attribute == "gender_presentation"]
    fit = tested.set_index(["group", "category"]).loc[("face--nurse", "female")]
    women = bls_women("nurse")
    expected = fit_through_confusion([4, 0], [women, 1 - women], np.array(matrix), [0, 1],
                                     source="confusion file confusion.json")
    assert (fit.test, fit.p_value) == (expected.test, expected.p_value)


@pytest.mark.parametrize("spec, message", [
    ({"true": ["female", "male"], "predicted": ["female", "male"], "confusion": [[9, 1]]},
     "field confusion: expected 2 rows (true) of 2 counts"),
    ({"true": ["female", "male"], "predicted": ["female"], "confusion": [[9], [1]]},
     "field predicted: lacks the true label(s) male"),
    ({"true": ["female", "male"], "predicted": ["female", "male"],
      "confusion": [[9, -1], [1, 9]]}, "field confusion/0: counts must be whole numbers"),
    ({"true": ["female", "male"], "predicted": ["female", "male"],
      "confusion": [[0, 0], [1, 9]]}, "field confusion/0: no labelled image of true class"),
    ({"true": "female", "predicted": ["female"], "confusion": [[1]]},
     "field true: expected a list of distinct label names"),
])
def test_a_malformed_confusion_file_is_one_line(run_dir, tmp_path, spec, message):
    path = tmp_path / "confusion.json"
    path.write_text(json.dumps({"attributes": {"gender_presentation": spec}}))
    result = run_cli("stats", str(run_dir), "--confusion", str(path), "-o",
                     str(tmp_path / "s.json"))
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert f"{path} /attributes/gender_presentation: {message}" in line


def test_an_ambiguous_attribute_stops_only_when_the_audit_needs_it():
    import pandas as pd
    import pytest

    from audit.errors import UsageError
    from audit.stats.run_tables import resolve_answers

    decisions = pd.DataFrame({"image_id": ["a", "a", "a"],
                              "scorer": ["face_attributes", "nudenet", "clip"],
                              "attribute": ["gender_presentation", "gender_presentation",
                                            "presentation"],
                              "label": ["female", "male", "A"]})
    kept = resolve_answers(decisions, requested={}, defaults={}, where="d",
                           needed=["presentation"])
    assert kept == {"presentation": "clip"}
    with pytest.raises(UsageError, match="decided by face_attributes, nudenet"):
        resolve_answers(decisions, requested={}, defaults={}, where="d")
