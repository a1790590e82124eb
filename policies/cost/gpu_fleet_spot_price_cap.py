"""gpu-fleet-spot-price-cap: no spot max price above the on-demand price.

A spot max price above on-demand buys nothing: when spot is dearer than on-demand the workload should
run on demand (or wait), not pay more for capacity that can still be taken back. Checked wherever a
spot max price meets the instance types it applies to:
- an auto scaling group's `mixedInstancesPolicy.instancesDistribution.spotMaxPrice`, one price for every
  type in `mixedInstancesPolicy.launchTemplate.overrides[]`, so it must not exceed the cheapest of them;
- `instanceMarketOptions.spotOptions.maxPrice` of instances and launch templates, and `spotPrice` of spot
  instance requests, against their `instanceType`;
- spot fleet requests (`spotPrice`, and each launch specification's own) and EC2 fleets (each
  override's `maxPrice`).
Prices come from the shared catalog (`aifinops.core.catalog`); types it has no price for, unknown values and
unset prices (AWS then caps at on-demand) pass. `maxFractionOfOnDemand` lowers the cap.
"""
from __future__ import annotations

from typing import Any, Iterator, NamedTuple

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, Severity

from aifinops.core import catalog

from ..config_schema import config_schema, setting
from ..preview_values import as_list, dig, is_unknown, plain

NAME = "gpu-fleet-spot-price-cap"
ASG_TYPE = "aws:autoscaling/group:Group"
PRICED_BY_MARKET_OPTIONS = ("aws:ec2/instance:Instance", "aws:ec2/launchTemplate:LaunchTemplate")
SPOT_REQUEST_TYPE = "aws:ec2/spotInstanceRequest:SpotInstanceRequest"
SPOT_FLEET_TYPE = "aws:ec2/spotFleetRequest:SpotFleetRequest"
EC2_FLEET_TYPE = "aws:ec2/fleet:Fleet"
SPOT_PRICED_TYPES = (ASG_TYPE, *PRICED_BY_MARKET_OPTIONS, SPOT_REQUEST_TYPE, SPOT_FLEET_TYPE, EC2_FLEET_TYPE)
SCHEMA = config_schema({
    "maxFractionOfOnDemand": {
        "type": "number", "exclusiveMinimum": 0, "maximum": 1, "default": 1.0,
        "description": "The highest spot max price allowed, as a fraction of the on-demand price.",
    },
})


class SpotCap(NamedTuple):
    path: str  # where the max price is set
    price: Any  # as written (AWS takes a string)
    instance_types: list[Any]  # the types it applies to


def spot_caps(resource_type: str, props: Any) -> Iterator[SpotCap]:
    """Every spot max price the resource sets, with the instance types it applies to."""
    if resource_type == ASG_TYPE:
        policy = dig(props, "mixedInstancesPolicy")
        overrides = as_list(dig(policy, "launchTemplate", "overrides"))
        yield SpotCap("mixedInstancesPolicy.instancesDistribution.spotMaxPrice",
                      dig(policy, "instancesDistribution", "spotMaxPrice"),
                      [dig(o, "instanceType") for o in overrides])
    elif resource_type in PRICED_BY_MARKET_OPTIONS:
        yield SpotCap("instanceMarketOptions.spotOptions.maxPrice",
                      dig(props, "instanceMarketOptions", "spotOptions", "maxPrice"), [dig(props, "instanceType")])
    elif resource_type == SPOT_REQUEST_TYPE:
        yield SpotCap("spotPrice", dig(props, "spotPrice"), [dig(props, "instanceType")])
    elif resource_type == SPOT_FLEET_TYPE:
        specs = as_list(dig(props, "launchSpecifications"))
        overrides = [o for config in as_list(dig(props, "launchTemplateConfigs"))
                     for o in as_list(dig(config, "overrides"))]
        yield SpotCap("spotPrice", dig(props, "spotPrice"), [dig(s, "instanceType") for s in specs + overrides])
        for i, spec in enumerate(specs):
            yield SpotCap(f"launchSpecifications[{i}].spotPrice", dig(spec, "spotPrice"), [dig(spec, "instanceType")])
        for i, override in enumerate(overrides):
            yield SpotCap(f"launchTemplateConfigs[].overrides[{i}].spotPrice", dig(override, "spotPrice"),
                          [dig(override, "instanceType")])
    elif resource_type == EC2_FLEET_TYPE:
        for i, config in enumerate(as_list(dig(props, "launchTemplateConfigs"))):
            for j, override in enumerate(as_list(dig(config, "overrides"))):
                yield SpotCap(f"launchTemplateConfigs[{i}].overrides[{j}].maxPrice", dig(override, "maxPrice"),
                              [dig(override, "instanceType")])


def _price(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in SPOT_PRICED_TYPES:
        return  # before reading config and converting the properties: the pack sees every resource
    fraction = float(setting(args, SCHEMA, "maxFractionOfOnDemand"))
    for cap in spot_caps(args.resource_type, plain(args.props)):
        price = _price(cap.price) if not is_unknown(cap.price) else None
        priced = {t: catalog.on_demand_price(t) for t in cap.instance_types if isinstance(t, str) and not is_unknown(t)}
        priced = {t: p for t, p in priced.items() if p is not None}
        if price is None or not priced:
            continue
        cheapest = min(priced, key=lambda t: priced[t])
        limit = round(priced[cheapest] * fraction, 4)
        if price > limit:
            share = "" if fraction == 1 else f" x {fraction:g} = {limit}"
            report_violation(
                f"{args.resource_type} '{args.name}': spot max price {cap.price} USD/h at {cap.path} is above the "
                f"on-demand price of {cheapest} ({priced[cheapest]} USD/h{share}); lower it or leave it unset "
                f"(AWS then caps each type at its on-demand price).", None)


POLICY = ResourceValidationPolicy(
    name=NAME,
    description="Spot max prices are not above the on-demand price of the instance types they apply to.",
    validate=_validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=SCHEMA,
    severity=Severity.MEDIUM,
    remediation_steps="Remove the spot max price (AWS defaults it to the on-demand price) or set it at or below "
                      "the on-demand price of the cheapest instance type it covers.",
)
