"""Slot values reach reference rows by name, alias or plural; what does not
match gets close row names, never a guess."""

import pandas as pd
import pytest
import yaml

from audit.data_files import occupation_aliases
from audit.errors import InvalidInput
from audit.paths import package_data_dir
from audit.reference_names import match_name, normalise

BLS = list(pd.read_csv(package_data_dir() / "reference" / "bls-cps-2025.csv").occupation)
# occupations the course's examples and common prompts use, with their BLS row
COURSE = {"CEO": "chief executive", "doctor": "physician", "Doctors": "physician",
          "software engineer": "software developer", "programmer": "computer programmer",
          "nurses": "nurse", "police-officer": "police officer", "policeman": "police officer",
          "fireman": "firefighter", "flight attendants": "flight attendant",
          "stewardess": "flight attendant", "cleaner": "janitor", "maid": "housekeeper",
          "attorney": "lawyer", "waitress": "waiter", "the chief executives": "chief executive",
          "kindergarten teacher": "preschool teacher", "Nurse Practitioner": "nurse practitioner",
          "hair stylist": "hairdresser", "truck drivers": "truck driver",
          "construction workers": "construction worker", "housekeepers": "housekeeper"}


@pytest.mark.parametrize("name,row", sorted(COURSE.items()))
def test_course_names_reach_their_bls_row(name, row):
    assert match_name(name, BLS).row == row


def test_every_bundled_occupation_matches_bls_and_the_toy_world():
    from audit.toyworld.world import card

    suite = yaml.safe_load((package_data_dir().parent.parent / "probes" /
                            "occupations.yaml").read_text())
    for value in suite["slots"]["occupation"]:
        assert match_name(value, BLS).how == "exact", value
    toyworld = list(card()["occupations"])
    for occupation in toyworld:  # every toy occupation has a BLS row too
        assert match_name(occupation, BLS).row is not None, occupation
    assert match_name("chief executive", toyworld).row == "ceo"
    assert match_name("physicians", toyworld).row == "doctor"


def test_names_that_could_mean_several_rows_get_suggestions_not_a_guess():
    engineer = match_name("engineer", BLS)
    assert engineer.row is None and engineer.how == "unmatched"
    assert engineer.suggestions == ("civil engineer", "electrical engineer",
                                    "mechanical engineer")
    assert match_name("nurse practioner", BLS).suggestions == ("nurse practitioner",)
    astronaut = match_name("astronaut", BLS)
    assert astronaut.row is None and astronaut.suggestions == ()


def test_normalisation():
    assert normalise("  The Police-Officers ") == "police officers"
    assert normalise("an ＣＥＯ") == "ceo"  # full-width letters (NFKC)
    assert normalise("chef's") == "chefs"


def test_an_alias_listed_twice_is_refused_at_load(tmp_path, monkeypatch):
    from audit import data_files

    folder = tmp_path / "reference"
    folder.mkdir()
    (folder / "occupation-aliases.yaml").write_text(
        "version: 1.0.0\noccupations:\n  nurse: [carer]\n  home health aide: [carer]\n")
    monkeypatch.setattr("audit.paths.package_data_dir", lambda: tmp_path)
    with pytest.raises(InvalidInput, match="'carer' is listed under two occupations"):
        data_files.occupation_aliases()
    monkeypatch.undo()
    assert "ceo" in occupation_aliases()["chief executive"]
