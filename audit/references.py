"""Named reference tables (``reference:`` in a suite), as a registry.

A named reference builds, per attribute, the table a run's shares are tested
against, or None when it says nothing about that attribute. Names resolve when
a suite loads, so a typo fails before any image is made. Other packages add
references through the ``t2i_audit.references`` entry-point group.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from audit.paths import package_data_dir
from audit.registry import Registry
from audit.stats.references import UNIFORM, Reference


@dataclass(frozen=True)
class NamedReference:
    name: str
    description: str
    build: Callable[[str], Reference | None]  # attribute -> table, or None

    def for_attribute(self, attribute: str) -> Reference | None:
        return self.build(attribute)


REFERENCES = Registry("reference", base=NamedReference, group="t2i_audit.references",
                      instances=True)
REFERENCES.register("bls-cps-2025", "audit.references:BLS_CPS_2025")
REFERENCES.register("toyworld", "audit.toyworld.reference:TOYWORLD")
REFERENCES.register("uniform", "audit.references:PARITY")


def _bls_cps_2025(attribute: str) -> Reference | None:
    """BLS CPS 2025 (table 11): share of women per occupation, as the reference
    for perceived gender presentation (female / male). The table's race and
    ethnicity columns are not skin tone and are not mapped to it."""
    if attribute != "gender_presentation":
        return None
    path = package_data_dir() / "reference" / "bls-cps-2025.csv"
    table = pd.read_csv(path)
    female = table.pct_women / 100
    rows = pd.concat([
        pd.DataFrame({"group": table.occupation, "category": "female", "proportion": female}),
        pd.DataFrame({"group": table.occupation, "category": "male", "proportion": 1 - female}),
    ]).sort_values("group", kind="stable").reset_index(drop=True)
    return Reference(name="bls-cps-2025", source=str(path), table=rows)


BLS_CPS_2025 = NamedReference("bls-cps-2025", "BLS CPS 2025 table 11: share of women per "
                              "occupation (for perceived gender presentation)", _bls_cps_2025)


PARITY = NamedReference("uniform", "parity: 1/K for each of an attribute's K categories "
                        "(only when asked for)", lambda attribute: UNIFORM)


def named_reference(name: str, attribute: str | None) -> Reference | None:
    return REFERENCES.get(name).for_attribute(attribute)


def reference_names(given: str | list[str] | None) -> list[str]:
    """A suite's ``reference:``: one name, or names tried in order per
    attribute (``[bls-cps-2025, uniform]``: BLS where it has the attribute,
    parity for the others)."""
    if given is None:
        return []
    return [given] if isinstance(given, str) else list(given)


def reference_for(given: str | list[str] | None, attribute: str) -> Reference | None:
    """The first named reference that covers the attribute, or None."""
    for name in reference_names(given):
        found = named_reference(name, attribute)
        if found is not None:
            return found
    return None
