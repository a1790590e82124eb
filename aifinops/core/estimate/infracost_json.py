"""The estimate as JSON, with Infracost's field names (its output format 0.2) wherever Infracost has one.

Tools that read Infracost JSON read ours: `totalMonthlyCost`, `projects[].breakdown.resources[]` with
`name`, `monthlyCost` and `costComponents[]` (`name`, `unit`, `monthlyQuantity`, `price`, `monthlyCost`),
and after `--compare-to`, `pastTotalMonthlyCost`, `diffTotalMonthlyCost`, `pastBreakdown` and `diff`
(see compare.py). As Infracost does, amounts are decimal strings, and a resource that is not priced has
a null `monthlyCost` (never "0": it is listed, not counted).

What Infracost has no name for is ours, in camelCase beside it: each resource's `urn`, `status`,
`component`, `note`, its `naiveMonthlyCost` (all on demand, no lifecycle) and, for a group that scales,
`maxMonthlyCost` with `maxCostComponents` (at its maximum size; null with `unbounded` when nothing caps
it); at the top `maxTotalMonthlyCost` (a lower bound when `unboundedResources` lists any), savings, per
component and per tag totals, sources, warnings.
"""
from __future__ import annotations

from typing import Any, Optional

from aifinops.core.service_prices import HOURS_PER_MONTH

from .model import FREE, NEEDS_USAGE, PRICED, UNPRICED, Estimate, PriceLine, ResourceCost

FORMAT_VERSION = "0.2"
CURRENCY = "USD"


def amount(value: float) -> str:
    """A decimal string, as Infracost writes amounts: '734.38', '0.00099', '0'."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def parse_amount(value: Any) -> Optional[float]:
    """An amount as either side writes it (a decimal string, or a number); None for null."""
    if value is None:
        return None
    return float(value)


def cost_component(line: PriceLine) -> dict[str, Any]:
    return {"name": line.description, "unit": line.unit, "monthlyQuantity": amount(line.quantity),
            "price": amount(line.unit_usd), "monthlyCost": amount(line.monthly_usd),
            "service": line.service, "source": line.source, "asOf": line.as_of, "assumption": line.assumption}


def resource_document(resource: ResourceCost) -> dict[str, Any]:
    counted = resource.status in (PRICED, FREE)
    document: dict[str, Any] = {
        "name": resource.name, "resourceType": resource.type, "urn": resource.urn, "status": resource.status,
        "component": resource.component, "componentType": resource.component_type, "tags": resource.tags,
        "hourlyCost": amount(resource.monthly_usd / HOURS_PER_MONTH) if counted else None,
        "monthlyCost": amount(resource.monthly_usd) if counted else None,
        "costComponents": [cost_component(line) for line in resource.lines],
        "naiveMonthlyCost": amount(resource.naive_monthly_usd) if counted else None,
        "note": resource.note,
    }
    if resource.naive_lines is not None:
        document["naiveCostComponents"] = [cost_component(line) for line in resource.naive_lines]
    if resource.has_range:
        document["maxMonthlyCost"] = amount(resource.max_monthly_usd)
        document["maxCostComponents"] = [cost_component(line) for line in resource.lines_at_maximum]
    if resource.unbounded:
        document["maxMonthlyCost"] = None  # no maximum: never a figure that looks like a bound
        document["unbounded"] = True
    return document


def _summary(estimate: Estimate) -> dict[str, int]:
    counts = {status: len(estimate.with_status(status)) for status in (PRICED, FREE, NEEDS_USAGE, UNPRICED)}
    return {"totalDetectedResources": len(estimate.resources),
            "totalSupportedResources": counts[PRICED] + counts[NEEDS_USAGE],
            "totalUnsupportedResources": counts[UNPRICED],
            "totalUsageBasedResources": counts[NEEDS_USAGE],
            "totalNoPriceResources": counts[FREE]}


def _listed(resource: ResourceCost) -> dict[str, str]:
    return {"urn": resource.urn, "type": resource.type, "name": resource.name, "reason": resource.note}


def estimate_document(estimate: Estimate, project: str = "") -> dict[str, Any]:
    """The whole estimate; `project` names the Infracost project (default: the stack)."""
    total = amount(estimate.monthly_usd)
    hourly = amount(estimate.monthly_usd / HOURS_PER_MONTH)
    summary = _summary(estimate)
    return {
        "version": FORMAT_VERSION, "currency": CURRENCY,
        "projects": [{
            "name": project or estimate.stack,
            "metadata": {"stack": estimate.stack, "region": estimate.region},
            "pastBreakdown": None,
            "breakdown": {"resources": [resource_document(r) for r in estimate.resources],
                          "totalHourlyCost": hourly, "totalMonthlyCost": total},
            "diff": None,
            "summary": summary,
        }],
        "totalHourlyCost": hourly, "totalMonthlyCost": total,
        "pastTotalHourlyCost": None, "pastTotalMonthlyCost": None,
        "diffTotalHourlyCost": None, "diffTotalMonthlyCost": None,
        "summary": summary,
        # ours
        "stack": estimate.stack, "region": estimate.region,
        "maxTotalMonthlyCost": amount(estimate.max_monthly_usd),
        "unboundedResources": [_listed(r) for r in estimate.unbounded],
        "naiveTotalMonthlyCost": amount(estimate.naive_monthly_usd),
        "savingsMonthlyCost": amount(estimate.savings_usd), "savingsPercent": round(estimate.savings_percent, 1),
        "usageSource": estimate.usage_source, "warnings": list(estimate.warnings),
        "regionPricing": estimate.region_pricing,
        "byComponent": [{"component": c.name, "type": c.type, "monthlyCost": amount(c.monthly_usd),
                         "naiveMonthlyCost": amount(c.naive_monthly_usd)} for c in estimate.by_component()],
        "byTag": {key: {value: amount(total) for value, total in estimate.by_tag(key).items()}
                  for key in estimate.cost_tag_keys},
        "sources": [{"source": source, "asOf": as_of} for source, as_of in estimate.sources()],
        "unpriced": [_listed(r) for r in estimate.with_status(UNPRICED)],
        "needsUsage": [_listed(r) for r in estimate.with_status(NEEDS_USAGE)],
    }
