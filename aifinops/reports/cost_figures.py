"""The estimate's headline figures, as SARIF and JUnit carry them beside their findings."""
from __future__ import annotations

from typing import Any, Mapping

from aifinops.cost_rendering import change_sentence

HEADLINE_FIELDS = ("currency", "totalMonthlyCost", "maxTotalMonthlyCost", "pastTotalMonthlyCost",
                   "diffTotalMonthlyCost")


def cost_figures(document: Mapping[str, Any]) -> dict[str, str]:
    """Infracost's names for the totals (and ours for the maximum), plus the sentence the comment leads with."""
    figures = {key: str(document[key]) for key in HEADLINE_FIELDS if document.get(key) is not None}
    if document.get("pastTotalMonthlyCost") is not None:
        figures["change"] = change_sentence(dict(document))
    return figures
