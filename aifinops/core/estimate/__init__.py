"""The offline monthly cost estimate: pure Python, no network, the same in `aifinops cost` and in the packs.

    from aifinops.core.estimate import CostResource, estimate, parse_usage
    result = estimate([CostResource(...), ...], parse_usage(raw, "costUsage"))
    result.monthly_usd, result.naive_monthly_usd, result.by_tag("CostCenter"), result.to_json()

Prices: `aifinops.core.catalog` (EC2, with spot discounts), `aifinops.core.lifecycle` (S3 classes) and
`aifinops.core.service_prices` (the rest), each line with its source and as-of date.
"""
from __future__ import annotations

from typing import Callable, Iterable, Optional, Sequence

from aifinops.core.service_prices import table_region
from aifinops.core.tags import DEFAULT_REQUIRED_TAGS

from . import compute, services, storage
from .context import PricingContext
from .model import (
    FREE,
    NEEDS_USAGE,
    NO_COMPONENT,
    PRICED,
    UNPRICED,
    Estimate,
    Priced,
    PriceLine,
    ResourceCost,
    free,
    top_drivers,
    unpriced,
)
from .usage import Usage, UsageError, load_usage_file, parse_usage, usage_from_stack_config
from .view import CostResource

Pricer = Callable[[CostResource, PricingContext], Priced]
PRICERS: dict[str, Pricer] = {**compute.PRICERS, **storage.PRICERS, **services.PRICERS}
SKIPPED_PREFIXES = ("pulumi:pulumi:Stack", "pulumi:providers:")


def price_resource(resource: CostResource, ctx: PricingContext) -> Priced:
    pricer = PRICERS.get(resource.type)
    if pricer is not None:
        return pricer(resource, ctx)
    if resource.package == "kubernetes":
        return services.price_kubernetes(resource, ctx)
    reason = services.free_reason(resource)
    if reason:
        return free(reason)
    return unpriced(f"no price model for {resource.type}")


def estimate(resources: Iterable[CostResource], usage: Optional[Usage] = None, *, stack: str = "",
             cost_tag_keys: Sequence[str] = DEFAULT_REQUIRED_TAGS) -> Estimate:
    """Price every cloud resource; components and providers only group them."""
    views = list(resources)
    usage = usage or Usage()
    ctx = PricingContext(views, usage)
    costs: list[ResourceCost] = []
    regions: set[str] = set()
    for resource in views:
        if not resource.custom or resource.type.startswith(SKIPPED_PREFIXES):
            continue
        if resource.package == "aws" and isinstance(resource.provider_props.get("region"), str):
            regions.add(resource.provider_props["region"])
        priced = price_resource(resource, ctx)
        component = ctx.component_of(resource)
        costs.append(ResourceCost(
            urn=resource.urn, type=resource.type, name=resource.name, status=priced.status, lines=priced.lines,
            naive_lines=priced.naive_lines, note=priced.note,
            component=component.name if component else NO_COMPONENT,
            component_type=component.type if component else "", tags=ctx.tags_of(resource)))
    warnings = []
    other_regions = sorted(regions - {table_region()})
    if other_regions:
        warnings.append(f"prices are {table_region()} list prices; the stack deploys to {', '.join(other_regions)}, "
                        f"where they differ")
    known = {r.name for r in views if r.custom} | {r.urn for r in views if r.custom}
    for key in usage.unmatched(known):
        warnings.append(f"usage for '{key}' matches no resource in the stack")
    return Estimate(stack=stack, region=", ".join(sorted(regions)) or table_region(), resources=costs,
                    cost_tag_keys=list(cost_tag_keys), warnings=warnings, usage_source=usage.source)


__all__ = [
    "CostResource", "Estimate", "FREE", "NEEDS_USAGE", "PRICED", "PriceLine", "ResourceCost", "UNPRICED", "Usage",
    "UsageError", "estimate", "load_usage_file", "parse_usage", "top_drivers",
    "usage_from_stack_config",
]
