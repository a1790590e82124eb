"""Budget headroom: for every AWS Budget in the stack, its limit against the estimate it covers, at the
desired size and with every scalable group at its maximum."""
from __future__ import annotations

from typing import Any, Iterable

from .budgets import covered_resources, read_budgets, uncounted_resources
from .infracost_json import amount
from .model import Estimate
from .view import CostResource


def budget_headroom(views: Iterable[CostResource], estimate: Estimate) -> list[dict[str, Any]]:
    """One row per budget: `monthlyLimit` (null when it is not a USD cost budget), the covered
    `monthlyCost` and `maxMonthlyCost`, the headroom left at each, and the covered resources not priced."""
    maximum = estimate.at_maximum()
    rows = []
    for scope in read_budgets(views):
        covered = sum(usd for _, usd in covered_resources(scope, estimate))
        covered_max = sum(usd for _, usd in covered_resources(scope, maximum))
        limit = scope.monthly_usd
        rows.append({
            "name": scope.name, "urn": scope.urn, "covers": scope.describe(),
            "monthlyLimit": None if limit is None else amount(limit),
            "monthlyCost": amount(covered), "maxMonthlyCost": amount(covered_max),
            "headroom": None if limit is None else amount(limit - covered),
            "maxHeadroom": None if limit is None else amount(limit - covered_max),
            "notPriced": [r.name for r in uncounted_resources(scope, estimate)],
        })
    return rows
