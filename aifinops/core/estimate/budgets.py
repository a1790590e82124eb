"""Which spend an AWS Budget in the stack covers, and how much the estimate puts under it.

A budget covers a resource's cost when the resource carries one of the `user:<Key>$<value>` pairs of its
TagKeyValue filter (values are ORed; no tag filter covers everything) and, with a Service filter, only
the lines billed under one of those services. Budgets by usage, or filtered by other dimensions, are
not compared.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

from aifinops.core.service_prices import DAYS_PER_MONTH

from ..values import as_list
from .model import PRICED, Estimate, ResourceCost
from .view import CostResource

BUDGET_TYPE = "aws:budgets/budget:Budget"
TAG_PREFIX = "user:"
_PER_MONTH = {"MONTHLY": 1.0, "QUARTERLY": 1 / 3, "ANNUALLY": 1 / 12, "DAILY": DAYS_PER_MONTH}
_COMPARED_FILTERS = ("TagKeyValue", "Service")


@dataclass
class BudgetScope:
    urn: str
    name: str
    monthly_usd: Optional[float]  # None: not a USD cost budget we can compare
    tag_values: dict[str, set[str]]  # tag key -> values (any matches)
    services: Optional[set[str]]  # None: every service
    ignored_filters: list[str]

    def covers_resource(self, tags: dict[str, str]) -> bool:
        if not self.tag_values:
            return True
        return any(tags.get(key) in values for key, values in self.tag_values.items())

    def covered_usd(self, resource: ResourceCost) -> float:
        if resource.status != PRICED or not self.covers_resource(resource.tags):
            return 0.0
        return sum(line.monthly_usd for line in resource.lines if self.services is None or line.service in self.services)

    def describe(self) -> str:
        parts = [f"{key} = {' or '.join(sorted(values))}" for key, values in sorted(self.tag_values.items())]
        if self.services is not None:
            parts.append(f"service {' or '.join(sorted(self.services))}")
        return ", ".join(parts) or "all spend"


def read_budgets(resources: Iterable[CostResource]) -> list[BudgetScope]:
    scopes = []
    for resource in resources:
        if resource.type != BUDGET_TYPE:
            continue
        tag_values: dict[str, set[str]] = {}
        services: Optional[set[str]] = None
        ignored = []
        for entry in as_list(resource.get("costFilters")):
            name = entry.get("name") if isinstance(entry, dict) else None
            values = [v for v in as_list(entry.get("values")) if isinstance(v, str)] if isinstance(entry, dict) else []
            if name == "TagKeyValue":
                for value in values:
                    key, _, tag_value = value[len(TAG_PREFIX):].partition("$") if value.startswith(TAG_PREFIX) \
                        else value.partition("$")
                    tag_values.setdefault(key, set()).add(tag_value)
            elif name == "Service":
                services = set(values)
            elif isinstance(name, str):
                ignored.append(name)
        if resource.get("filterExpression") is not None:
            ignored.append("filterExpression")
        scopes.append(BudgetScope(resource.urn, resource.name,
                                  _monthly_amount(resource), tag_values, services, ignored))
    return scopes


def _monthly_amount(budget: CostResource) -> Optional[float]:
    if budget.get("budgetType") not in (None, "COST") or budget.get("limitUnit") not in (None, "USD"):
        return None
    per_month = _PER_MONTH.get(budget.get("timeUnit") or "MONTHLY")
    try:
        amount = float(budget.get("limitAmount"))
    except (TypeError, ValueError):
        return None
    return amount * per_month if per_month is not None else None


def covered_resources(scope: BudgetScope, estimate: Estimate) -> list[tuple[ResourceCost, float]]:
    """(resource, USD under this budget) for each priced resource the budget covers, most expensive first."""
    rows = [(resource, scope.covered_usd(resource)) for resource in estimate.resources]
    return sorted([row for row in rows if row[1] > 0], key=lambda row: -row[1])


def uncounted_resources(scope: BudgetScope, estimate: Estimate) -> list[ResourceCost]:
    """Covered resources the estimate could not price (unpriced or missing usage)."""
    return [r for r in estimate.resources if r.status not in (PRICED, "free") and scope.covers_resource(r.tags)]
