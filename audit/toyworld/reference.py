"""The world card's true shares per occupation, as the ``toyworld`` reference."""

from __future__ import annotations

import pandas as pd

from audit.references import NamedReference
from audit.stats.references import Reference


def toyworld_reference(attribute: str) -> Reference | None:
    from audit.toyworld.world import CARD, card, true_shares

    rows = []
    for occupation in card()["occupations"]:
        shares = true_shares(occupation).get(attribute)
        if shares is None:
            return None
        rows += [{"group": occupation, "category": c, "proportion": p}
                 for c, p in shares.items()]
    return Reference(name="toyworld", source=str(CARD), table=pd.DataFrame(rows))


TOYWORLD = NamedReference("toyworld", "the toy world card's true shares (presentation, tone "
                          "group, age group per occupation)", toyworld_reference)
