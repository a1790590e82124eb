"""The offline monthly cost estimate: pure Python, no network, the same in `aifinops cost` and in the packs.

    from aifinops.core.estimate import CostResource, estimate, parse_usage
    result = estimate([CostResource(...), ...], parse_usage(raw, "costUsage"))
    result.monthly_usd, result.max_monthly_usd, result.by_tag("CostCenter"), infracost_json.estimate_document(result)

Prices: `aifinops.core.catalog` (EC2 per region, with spot discounts, Dedicated and reserved rates),
`aifinops.core.lifecycle` (S3 classes) and `aifinops.core.service_prices` (the rest, us-east-1), each line
with its source and as-of date. A region without its own EC2 table is priced at us-east-1 and the estimate
says so (`warnings`, `regionPricing`). The usage file's `discounts` (discounts.py) add negative lines.
"""
from __future__ import annotations

from typing import Callable, Iterable, Optional, Sequence

from aifinops.core import catalog
from aifinops.core.service_prices import HOURS_PER_MONTH, table_region
from aifinops.core.tags import DEFAULT_REQUIRED_TAGS

from . import compute, data_stores, karpenter, network, sagemaker, services, storage
from .context import PricingContext
from .discounts import apply_discounts
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
PRICERS: dict[str, Pricer] = {**compute.PRICERS, **storage.PRICERS, **services.PRICERS, **sagemaker.PRICERS,
                               **network.PRICERS, **data_stores.PRICERS, **karpenter.PRICERS}
FREE_TYPES: dict[str, str] = {**services.FREE_TYPES, **storage.FREE_TYPES, **sagemaker.FREE_TYPES,
                              **network.FREE_TYPES, **data_stores.FREE_TYPES}
SKIPPED_PREFIXES = ("pulumi:pulumi:Stack", "pulumi:providers:")


def price_resource(resource: CostResource, ctx: PricingContext) -> Priced:
    priced = _price_own(resource, ctx)
    transfer = network.data_transfer_lines(ctx.usage_for(resource)) if resource.package == "aws" else []
    if transfer:
        priced.lines = priced.lines + transfer
        if priced.naive_lines is not None:
            priced.naive_lines = priced.naive_lines + transfer
        if priced.max_lines is not None:
            priced.max_lines = priced.max_lines + transfer
        if priced.status == FREE:  # free by itself, but it moves data
            priced = Priced(lines=priced.lines, note=priced.note)
    return priced


def _price_own(resource: CostResource, ctx: PricingContext) -> Priced:
    pricer = PRICERS.get(resource.type)
    if pricer is not None:
        return pricer(resource, ctx)
    if resource.package == "kubernetes":
        return services.price_kubernetes(resource, ctx)
    reason = FREE_TYPES.get(resource.type) or services.FREE_PACKAGES.get(resource.package)
    if reason:
        return free(reason)
    return unpriced(f"no price model for {resource.type}")


def usage_only_costs(usage: Usage, ctx: PricingContext) -> list[ResourceCost]:
    """What the usage file bills that is no stack resource: SageMaker training, processing and Studio jobs."""
    costs = []
    for name, job in sorted(usage.sagemaker_jobs.items()):
        priced = sagemaker.price_job(name, job, ctx)
        costs.append(ResourceCost(urn=f"usage:sagemakerJobs:{name}", type=sagemaker.JOB_TYPE, name=name,
                                  status=priced.status, lines=priced.lines, naive_lines=priced.naive_lines,
                                  note=priced.note, component=NO_COMPONENT, component_type="", tags={}))
    return costs


def estimate(resources: Iterable[CostResource], usage: Optional[Usage] = None, *, stack: str = "",
             cost_tag_keys: Sequence[str] = DEFAULT_REQUIRED_TAGS, region: Optional[str] = None) -> Estimate:
    """Price every cloud resource; components and providers only group them.

    `region` is the stack's default region (`aws:region`); a resource's own provider region wins.
    """
    views = list(resources)
    usage = usage or Usage()
    ctx = PricingContext(views, usage, default_region=region or table_region())
    costs: list[ResourceCost] = []
    regions: dict[str, str] = {}  # URN -> region priced in
    for resource in views:
        if resource.remote:  # never a cheap success: what it creates is unknown offline
            costs.append(ResourceCost(
                urn=resource.urn, type=resource.type, name=resource.name, status=UNPRICED, lines=[], naive_lines=[],
                note="a remote (multi-language) component: a provider plugin creates its children, which the "
                     "offline preview cannot run, so they are not priced",
                component=NO_COMPONENT, component_type="", tags={}))
            continue
        if not resource.custom or resource.type.startswith(SKIPPED_PREFIXES):
            continue
        ctx.enter(resource)
        if resource.package == "aws":
            regions[resource.urn] = ctx.region
        priced = price_resource(resource, ctx)
        component = ctx.component_of(resource)
        costs.append(ResourceCost(
            urn=resource.urn, type=resource.type, name=resource.name, status=priced.status, lines=priced.lines,
            naive_lines=priced.naive_lines, note=priced.note,
            component=component.name if component else NO_COMPONENT,
            component_type=component.type if component else "", tags=ctx.tags_of(resource),
            region=regions.get(resource.urn, ""), account=ctx.account_of(resource),
            max_lines=priced.max_lines, unbounded=priced.unbounded))
    ctx.region = ctx.default_region
    for cost in usage_only_costs(usage, ctx):
        regions[cost.urn] = cost.region = ctx.region
        costs.append(cost)
    pricing = region_pricing(set(regions.values()))
    warnings = [row["note"] for row in pricing if row["note"]]
    warnings += apply_discounts(costs, usage.discounts, regions, HOURS_PER_MONTH)
    known = {r.name for r in views if r.custom} | {r.urn for r in views if r.custom}
    for key in usage.unmatched(known):
        warnings.append(f"usage for '{key}' matches no resource in the stack")
    return Estimate(stack=stack, region=", ".join(sorted(set(regions.values()))) or ctx.default_region,
                    resources=costs, cost_tag_keys=list(cost_tag_keys), warnings=warnings, usage_source=usage.source,
                    region_pricing=pricing)


def region_pricing(regions: set[str]) -> list[dict[str, str]]:
    """Which tables priced each region, with a line to show for every region priced at another's prices."""
    rows = []
    for region in sorted(regions):
        has_ec2 = catalog.regional_price_table(region) is not None
        services = table_region()
        if region == services:
            note = ""
        elif not has_ec2:
            note = (f"no price tables for {region}: its resources are priced at {catalog.DEFAULT_REGION} list prices "
                    f"(fill the EC2 table with `aifinops catalog refresh --region {region}`)")
        else:
            note = (f"{region}: EC2 instance prices from its own table; every other price is a {services} list price")
        rows.append({"region": region, "ec2PricesFrom": region if has_ec2 else catalog.DEFAULT_REGION,
                     "servicePricesFrom": services, "note": note})
    return rows


__all__ = [
    "CostResource", "Estimate", "FREE", "NEEDS_USAGE", "PRICED", "PriceLine", "ResourceCost", "UNPRICED", "Usage",
    "UsageError", "estimate", "load_usage_file", "parse_usage", "top_drivers",
    "usage_from_stack_config",
]
