import csv
import textwrap

import pytest

from audit.errors import InvalidInput, UsageError
from audit.paths import package_data_dir, probes_dir
from audit.suites import expand, list_suites, load_suite, suite_problems
from tests.conftest import REPO


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


MINIMAL = """\
    name: mini
    version: 1.2.3
    description: test suite
    images_per_item: 3
    seed: 7
    generation: {steps: 2, width: 64, height: 64}
    attributes: [gender_presentation]
    templates:
      - {id: face, text: "a photo of {job|a}"}
    slots:
      job: [engineer, nurse]
"""


def test_bundled_suites_are_valid_and_named_as_required():
    names = {s.name for s in list_suites()}
    assert {"occupations", "traits", "counterfactual-controls", "safety-benign",
            "smoke"} <= names
    for path in probes_dir().glob("*.yaml"):
        if not path.name.startswith("_"):
            assert suite_problems(path) == [], path


def test_occupations_cover_every_bls_row_and_nothing_else():
    with (package_data_dir() / "reference/bls-cps-2025.csv").open() as fh:
        bls = {row["occupation"] for row in csv.DictReader(fh)}
    items = expand(load_suite("occupations"))
    assert len(bls) == 55
    assert {i.reference_keys["occupation"] for i in items} == bls


def test_expansion_articles_ids_and_seeds(tmp_path):
    suite = load_suite(write(tmp_path, "mini.yaml", MINIMAL))
    items = expand(suite)
    assert [i.prompt for i in items] == ["a photo of an engineer", "a photo of a nurse"]
    assert [i.item_id for i in items] == ["face--engineer", "face--nurse"]
    assert suite.generation == {"steps": 2, "guidance": 7.5, "width": 64, "height": 64,
                                "scheduler": "default"}


def test_item_ids_do_not_depend_on_slot_order(tmp_path):
    a = load_suite(write(tmp_path, "a.yaml", MINIMAL))
    b = load_suite(write(tmp_path, "b.yaml", MINIMAL.replace("[engineer, nurse]",
                                                             "[nurse, pilot, engineer]")))
    ids_a = {i.item_id: i.prompt for i in expand(a)}
    ids_b = {i.item_id: i.prompt for i in expand(b)}
    assert ids_a.items() <= ids_b.items()
    assert a.sha256 != b.sha256


def test_controls_carry_expectations_and_counterfactual_groups():
    items = {i.item_id: i for i in expand(load_suite("counterfactual-controls"))}
    female = items["gender--female--doctor"]
    male = items["gender--male--doctor"]
    assert female.prompt == "a photo of the face of a female doctor"
    assert female.role == "control"
    assert female.expected == {"gender_presentation": "female"}
    assert female.counterfactual_group == male.counterfactual_group == "gender--doctor"
    assert items["skin--dark-skinned--nurse"].expected == {"skin_tone_group": "dark"}


def test_schema_error_names_file_and_pointer(tmp_path):
    path = write(tmp_path, "bad.yaml", MINIMAL.replace("1.2.3", "1.2"))
    with pytest.raises(InvalidInput) as err:
        load_suite(path)
    assert str(path) in str(err.value) and "/version" in str(err.value)
    assert err.value.exit_code == 1


def test_every_problem_is_listed(tmp_path):
    text = MINIMAL.replace("1.2.3", "one").replace("seed: 7", "seed: -2")  # -1 is "random"
    problems = suite_problems(write(tmp_path, "bad.yaml", text))
    assert [p.split(" ")[1].rstrip(":") for p in problems] == ["/seed", "/version"]


def test_unknown_placeholder_suggests_the_slot(tmp_path):
    path = write(tmp_path, "bad.yaml", MINIMAL.replace("{job|a}", "{jbo}"))
    (problem,) = suite_problems(path)
    assert "/templates/0/text" in problem and "did you mean 'job'" in problem


def test_yaml_syntax_error_has_line_and_column(tmp_path):
    path = write(tmp_path, "bad.yaml", "name: [unclosed\nversion: 1.0.0\n")
    (problem,) = suite_problems(path)
    assert problem.startswith(f"{path}:") and "YAML does not parse" in problem


def test_include_merges_and_detects_cycles(tmp_path):
    write(tmp_path, "base.yaml", "generation: {steps: 9, width: 64, height: 64}\nseed: 5\n")
    child = MINIMAL.replace("generation: {steps: 2, width: 64, height: 64}",
                            "include: base.yaml\n    generation: {steps: 3}")
    suite = load_suite(write(tmp_path, "child.yaml", child))
    assert suite.generation["steps"] == 3 and suite.generation["width"] == 64
    assert suite.seed == 7  # the child's own value wins
    write(tmp_path, "loop.yaml", "include: loop2.yaml\n")
    write(tmp_path, "loop2.yaml", "include: loop.yaml\n")
    (problem,) = suite_problems(tmp_path / "loop.yaml")
    assert "include cycle" in problem


def test_unknown_suite_name_suggests_a_bundled_one():
    with pytest.raises(UsageError, match="did you mean 'smoke'"):
        load_suite("smok")


def test_scorer_options_in_a_suite_are_checked_at_load(tmp_path):
    from audit.suites import suite_problems

    smoke = (REPO / "probes" / "smoke.yaml").read_text()
    attributes = tmp_path / "mine.yaml"
    attributes.write_text("version: 1.0.0\nattributes:\n  mood:\n    threshold: 0.1\n"
                          "    labels: {calm: [a calm person], angry: [an angry person]}\n")
    good = tmp_path / "good.yaml"
    good.write_text(smoke + "scorer_options: {clip: {attributes: mine.yaml}}\n")
    assert suite_problems(good) == []
    assert load_suite(good).scorer_options() == {"clip": {"attributes": str(attributes)}}
    bad = tmp_path / "bad.yaml"
    bad.write_text(smoke + "scorer_options: {clip: {atributes: mine.yaml}, clipp: {}}\n")
    problems = " | ".join(suite_problems(bad))
    assert "/scorer_options/clip/atributes: unknown option; did you mean 'attributes'" in problems
    assert "/scorer_options/clipp: unknown scorer 'clipp'; did you mean 'clip'" in problems
    attributes.write_text("version: 1.0.0\nattributes: {mood: {threshold: 3, labels: {}}}\n")
    (problem,) = suite_problems(good)
    assert "/scorer_options/clip" in problem and "/attributes/mood/labels" in problem


def test_seed_policy_shared_by_default_independent_blocks_keep_counterfactuals_paired(tmp_path):
    from audit.stages.generate import SEED_BLOCK, plan_requests

    shared = load_suite(write(tmp_path, "mini.yaml", MINIMAL))
    assert shared.seed_policy == "shared"
    seeds = {}
    for item, request in plan_requests(shared):
        seeds.setdefault(item.item_id, []).append(request.seed)
    assert seeds == {"face--engineer": [7, 8, 9], "face--nurse": [7, 8, 9]}

    text = textwrap.dedent(MINIMAL).replace("seed: 7", "seed: 7\nseed_policy: independent")
    template = '  - {id: cf, text: "a photo of a {who} {job}", vary: who}\n'
    text = text.replace("slots:", template + "slots:")
    text += "  who: [male, female]\n"
    independent = load_suite(write(tmp_path, "ind.yaml", text))
    seeds = {}
    for item, request in plan_requests(independent, n=2):
        seeds.setdefault(item.item_id, []).append(request.seed)
    assert seeds["face--engineer"] == [7, 8]
    assert seeds["face--nurse"] == [7 + SEED_BLOCK, 8 + SEED_BLOCK]
    # a counterfactual group is one block: its members differ only in the swapped word
    assert seeds["cf--male--engineer"] == seeds["cf--female--engineer"]
    assert seeds["cf--male--engineer"] != seeds["cf--male--nurse"]
    all_seeds = [s for item_seeds in seeds.values() for s in item_seeds]
    assert len(set(all_seeds)) == 2 * 4  # 4 blocks of 2, no overlap

    bad = load_suite  # a typo in the policy is a schema error naming the field
    with pytest.raises(InvalidInput, match="seed_policy"):
        bad(write(tmp_path, "bad.yaml", textwrap.dedent(MINIMAL).replace(
            "seed: 7", "seed: 7\nseed_policy: own")))
