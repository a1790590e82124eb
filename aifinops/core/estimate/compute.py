"""EC2 capacity: instances, spot requests, auto scaling groups and fleets at their on-demand/spot mix,
capacity reservations, EKS node groups, and the EBS volumes and monitoring that come with them."""
from __future__ import annotations

from dataclasses import dataclass, field
from statistics import mean
from typing import Any, Optional, Sequence

from aifinops.core import catalog
from aifinops.core.service_prices import HOURS_PER_MONTH, has_price, service_price, service_quantity

from ..values import as_list, is_unknown
from .context import PricingContext
from .model import CLOUDWATCH, EC2_COMPUTE, EC2_OTHER, VPC, Priced, PriceLine, free, unpriced
from .view import CostResource

INSTANCE = "aws:ec2/instance:Instance"
SPOT_REQUEST = "aws:ec2/spotInstanceRequest:SpotInstanceRequest"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
ASG = "aws:autoscaling/group:Group"
FLEET = "aws:ec2/fleet:Fleet"
SPOT_FLEET = "aws:ec2/spotFleetRequest:SpotFleetRequest"
CAPACITY_RESERVATION = "aws:ec2/capacityReservation:CapacityReservation"
EKS_NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
EBS_VOLUME = "aws:ebs/volume:Volume"
GP3_FREE_IOPS, GP3_FREE_THROUGHPUT = 3000, 125
EKS_DEFAULT_INSTANCE_TYPE, EKS_DEFAULT_DISK_GB = "t3.medium", 20


def _number(value: Any) -> Optional[float]:
    if isinstance(value, bool) or is_unknown(value):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _known_str(value: Any) -> Optional[str]:
    return value if isinstance(value, str) and value and not is_unknown(value) else None


def hours_of(usage: dict[str, Any], what: str) -> tuple[float, str]:
    """Hours a month and where that figure came from."""
    if "monthlyHours" in usage:
        return float(usage["monthlyHours"]), "hours from the usage file"
    return float(HOURS_PER_MONTH), f"{what} runs all month unless monthlyHours is set in the usage file"


# -- instance-hours ---------------------------------------------------------------------------------
def _ec2_line(description: str, quantity: float, unit_usd: float, assumption: str) -> PriceLine:
    table = catalog.price_table()
    return PriceLine(description, quantity, "instance-hours", unit_usd, EC2_COMPUTE, table.source, table.as_of,
                     assumption)


def on_demand_line(instance_type: str, instance_hours: float, assumption: str, label: str = "on-demand") -> PriceLine:
    price = catalog.on_demand_price(instance_type)
    assert price is not None
    return _ec2_line(f"{instance_type} {label}", instance_hours, price, assumption)


def spot_line(instance_types: list[str], instance_hours: float, ctx: PricingContext, max_price: Optional[float],
              assumption: str) -> PriceLine:
    """Spot at the typical discount per type (averaged over the types the group may launch), capped by max price."""
    prices = []
    for instance_type in instance_types:
        on_demand = catalog.on_demand_price(instance_type)
        typical = on_demand * (1 - ctx.spot_discount(instance_type))
        prices.append(min(typical, max_price) if max_price else typical)
    discounts = ", ".join(f"{t} {ctx.spot_discount(t):.0%} off" for t in instance_types)
    cap = f"; capped at max price ${max_price:g}/h" if max_price else ""
    label = instance_types[0] if len(instance_types) == 1 else "mean of " + ", ".join(instance_types)
    return _ec2_line(f"{label} spot", instance_hours, round(mean(prices), 6),
                     f"{assumption}; typical spot discount {discounts}{cap}")


def unpriced_types(instance_types: list[Optional[str]]) -> Optional[str]:
    """Why these instance types cannot be priced, or None when they all can."""
    if not instance_types or any(t is None for t in instance_types):
        return "instance type not set or unknown during preview"
    missing = [t for t in instance_types if catalog.on_demand_price(t) is None]
    if missing:
        return (f"no on-demand price for {', '.join(missing)} in aifinops/core/data/ec2_prices.json "
                f"(add it with `aifinops catalog refresh`)")
    return None


# -- EBS and monitoring ---------------------------------------------------------------------------
def ebs_lines(device: dict[str, Any], volume_months: float, label: str, default_type: str,
              assumption: str) -> tuple[list[PriceLine], Optional[str]]:
    """Lines for one EBS volume spec (size, type, iops, throughput) held for `volume_months`."""
    volume_type = _known_str(device.get("volumeType") or device.get("type")) or default_type
    size = _number(device.get("volumeSize") if "volumeSize" in device else device.get("size"))
    if size is None:
        return [], f"{label}: size not set or unknown"
    if not has_price("ebs", f"storage.{volume_type}"):
        return [], f"{label}: no price for EBS volume type {volume_type!r}"
    note = assumption + ("" if device.get("volumeType") or device.get("type") else f"; type not set, AWS default {default_type} assumed")
    price = service_price("ebs", f"storage.{volume_type}")
    lines = [PriceLine(f"{label} {volume_type} {size:g} GB", size * volume_months, "GB-months", price.usd, EC2_OTHER,
                       price.source, price.as_of, note)]
    iops, throughput = _number(device.get("iops")), _number(device.get("throughput"))
    if volume_type == "gp3" and iops and iops > GP3_FREE_IOPS:
        extra = service_price("ebs", "iops.gp3")
        lines.append(PriceLine(f"{label} gp3 IOPS above {GP3_FREE_IOPS}", (iops - GP3_FREE_IOPS) * volume_months,
                               "IOPS-months", extra.usd, EC2_OTHER, extra.source, extra.as_of, note))
    if volume_type == "gp3" and throughput and throughput > GP3_FREE_THROUGHPUT:
        extra = service_price("ebs", "throughput.gp3")
        lines.append(PriceLine(f"{label} gp3 throughput above {GP3_FREE_THROUGHPUT} MiB/s",
                               (throughput - GP3_FREE_THROUGHPUT) * volume_months, "MiB/s-months", extra.usd,
                               EC2_OTHER, extra.source, extra.as_of, note))
    if volume_type == "io1" and iops:
        extra = service_price("ebs", "iops.io1")
        lines.append(PriceLine(f"{label} io1 provisioned IOPS", iops * volume_months, "IOPS-months", extra.usd,
                               EC2_OTHER, extra.source, extra.as_of, note))
    return lines, None


def detailed_monitoring_line(instance_months: float, assumption: str) -> PriceLine:
    price = service_price("cloudwatch", "metric")
    metrics = service_quantity("cloudwatch", "ec2DetailedMonitoringMetrics")
    return PriceLine(f"detailed monitoring ({metrics:g} metrics per instance)", metrics * instance_months,
                     "metric-months", price.usd, CLOUDWATCH, price.source, price.as_of, assumption)


def public_ip_line(instance_hours: float, assumption: str) -> PriceLine:
    price = service_price("vpc", "publicIpv4")
    return PriceLine("public IPv4 address", instance_hours, "IP-hours", price.usd, VPC, price.source, price.as_of,
                     assumption)


def launch_template_extras(template: Optional[CostResource], instance_months: float, instance_hours: float,
                           assumption: str) -> tuple[list[PriceLine], list[str]]:
    """Volumes, monitoring and public IPs of instances launched from a template."""
    if template is None:
        return [], []
    lines: list[PriceLine] = []
    problems: list[str] = []
    for index, mapping in enumerate(as_list(template.get("blockDeviceMappings"))):
        ebs = mapping.get("ebs") if isinstance(mapping, dict) else None
        if isinstance(ebs, dict):
            device_lines, problem = ebs_lines(ebs, instance_months, _known_str(mapping.get("deviceName")) or
                                              f"volume {index}", "gp2", assumption)
            lines += device_lines
            problems += [problem] if problem else []
    if template.get("monitoring", "enabled") is True:
        lines.append(detailed_monitoring_line(instance_months, assumption))
    if any(isinstance(n, dict) and n.get("associatePublicIpAddress") in (True, "true")
           for n in as_list(template.get("networkInterfaces"))):
        lines.append(public_ip_line(instance_hours, assumption))
    return lines, problems


# -- capacity reservations ------------------------------------------------------------------------
def reservation_target(ctx: PricingContext, holder: Optional[CostResource]) -> Optional[CostResource]:
    """The capacity reservation in this stack that an instance, launch template or group targets."""
    if holder is None:
        return None
    target = holder.get("capacityReservationSpecification", "capacityReservationTarget")
    if not isinstance(target, dict):
        return None
    references = [target.get("capacityReservationId")] + as_list(target.get("capacityReservationIds"))
    for reference in [r for r in references if r is not None] or [None]:
        found = ctx.linked(holder, "capacityReservationSpecification", reference, CAPACITY_RESERVATION)
        if found is not None:
            return found
    return None


def price_capacity_reservation(r: CostResource, ctx: PricingContext) -> Priced:
    instance_type = _known_str(r.get("instanceType"))
    count = _number(r.get("instanceCount"))
    problem = unpriced_types([instance_type]) or (None if count is not None else "instanceCount unknown")
    if problem:
        return unpriced(problem)
    hours, assumption = hours_of(ctx.usage_for(r), "the reservation")
    line = on_demand_line(instance_type, count * hours, f"{count:g} reserved x {hours:g} h ({assumption}); billed at "
                          f"the on-demand rate whether or not instances run in it", "capacity reservation")
    return Priced(lines=[line])


# -- a group of instances at an on-demand/spot mix --------------------------------------------------
@dataclass
class CapacityMix:
    instances: float
    hours: float
    on_demand: float
    on_demand_type: str
    spot_types: list[str]
    spot_max_price: Optional[float]
    assumption: str
    reservation: Optional[CostResource] = None
    extras: list[PriceLine] = field(default_factory=list)


def price_mix(mix: CapacityMix, ctx: PricingContext) -> Priced:
    spot = max(mix.instances - mix.on_demand, 0.0)
    lines: list[PriceLine] = []
    on_demand = mix.on_demand
    covered = 0.0
    if mix.reservation is not None and _known_str(mix.reservation.get("instanceType")) == mix.on_demand_type:
        covered = min(on_demand, _number(mix.reservation.get("instanceCount")) or 0.0)
    if covered:
        lines.append(_ec2_line(f"{mix.on_demand_type} on-demand in capacity reservation {mix.reservation.name}",
                               covered * mix.hours, 0.0, f"{covered:g} x {mix.hours:g} h; billed on the reservation"))
    if on_demand - covered > 0:
        lines.append(on_demand_line(mix.on_demand_type, (on_demand - covered) * mix.hours,
                                    f"{on_demand - covered:g} x {mix.hours:g} h; {mix.assumption}"))
    if spot > 0:
        lines.append(spot_line(mix.spot_types, spot * mix.hours, ctx, mix.spot_max_price,
                               f"{spot:g} x {mix.hours:g} h; {mix.assumption}"))
    naive = [line for line in lines if line.unit_usd == 0.0]
    if mix.instances - covered > 0:
        naive.append(on_demand_line(mix.on_demand_type, (mix.instances - covered) * mix.hours,
                                    f"naive: all {mix.instances - covered:g} on demand x {mix.hours:g} h"))
    return Priced(lines=lines + mix.extras, naive_lines=naive + mix.extras if spot > 0 else None)


# -- resources ------------------------------------------------------------------------------------
def price_instance(r: CostResource, ctx: PricingContext, spot_request: bool = False) -> Priced:
    instance_type = _known_str(r.get("instanceType"))
    problem = unpriced_types([instance_type])
    if problem:
        return unpriced(problem)
    hours, assumption = hours_of(ctx.usage_for(r), "the instance")
    is_spot = spot_request or r.get("instanceMarketOptions", "marketType") == "spot"
    max_price = _number(r.get("spotPrice") if spot_request else r.get("instanceMarketOptions", "spotOptions", "maxPrice"))
    mix = CapacityMix(1, hours, 0 if is_spot else 1, instance_type, [instance_type], max_price, assumption,
                      reservation=reservation_target(ctx, r))
    # Volumes are kept while the instance is stopped: a whole month each.
    extras: list[PriceLine] = []
    problems: list[str] = []
    root = r.get("rootBlockDevice")
    root = root if isinstance(root, dict) else {}
    if "volumeSize" not in root:
        root = {**root, "volumeSize": 8}
        volume_note = "volume kept all month; size not set, 8 GB AMI default assumed"
    else:
        volume_note = "volume kept all month, also while the instance is stopped"
    for label, device in [("root volume", root)] + [
            (_known_str(d.get("deviceName")) or "data volume", d) for d in as_list(r.get("ebsBlockDevices"))
            if isinstance(d, dict)]:
        device_lines, device_problem = ebs_lines(device, 1.0, label, "gp2", volume_note)
        extras += device_lines
        problems += [device_problem] if device_problem else []
    if r.get("monitoring") is True:
        extras.append(detailed_monitoring_line(hours / HOURS_PER_MONTH, f"while running, {hours:g} h"))
    if r.get("associatePublicIpAddress") is True:
        extras.append(public_ip_line(hours, f"while running, {hours:g} h"))
    mix.extras = extras
    priced = price_mix(mix, ctx)
    priced.note = "; ".join(problems)
    return priced


def price_spot_request(r: CostResource, ctx: PricingContext) -> Priced:
    return price_instance(r, ctx, spot_request=True)


def _template_of(ctx: PricingContext, holder: CostResource, prop: str, spec: Any) -> Optional[CostResource]:
    if not isinstance(spec, dict):
        return None
    reference = spec.get("id") or spec.get("launchTemplateId") or spec.get("name") or spec.get("launchTemplateName")
    return ctx.linked(holder, prop, reference, LAUNCH_TEMPLATE)


def _group_size(r: CostResource, usage: dict[str, Any], counted: Any, what: str) -> tuple[Optional[float], str]:
    if "instances" in usage:
        return float(usage["instances"]), f"{usage['instances']:g} instances (usage file)"
    value = _number(counted)
    if value is None:
        return None, ""
    return value, f"{value:g} instances ({what}; set instances in the usage file)"


def price_group(ctx: PricingContext, template: Optional[CostResource], instances: float, hours: float,
                on_demand: float, types: list[str], max_price: Optional[float], assumption: str,
                reservation: Optional[CostResource] = None, what: str = "instances",
                extra_lines: Sequence[PriceLine] = ()) -> Priced:
    """A group of `instances` at an on-demand/spot mix, with what its launch template adds to each."""
    extras, problems = launch_template_extras(template, instances * hours / HOURS_PER_MONTH, instances * hours,
                                              f"{instances:g} {what} x {hours:g} h; volumes deleted on scale-in")
    mix = CapacityMix(instances, hours, on_demand, types[0], types, max_price, assumption, reservation=reservation,
                      extras=extras + list(extra_lines))
    priced = price_mix(mix, ctx)
    priced.note = "; ".join(problems)
    return priced


def price_auto_scaling_group(r: CostResource, ctx: PricingContext) -> Priced:
    usage = ctx.usage_for(r)
    counted = r.get("desiredCapacity")
    what = "desiredCapacity"
    if _number(counted) is None:
        counted, what = r.get("minSize"), "minSize: what it runs when idle"
    instances, size_note = _group_size(r, usage, counted, what)
    if instances is None:
        return unpriced("group size unknown: set instances in the usage file")
    hours, hours_note = hours_of(usage, "each instance")
    policy = r.get("mixedInstancesPolicy")
    if isinstance(policy, dict):
        template = ctx.launch_template_of(r)
        overrides = [o for o in as_list((policy.get("launchTemplate") or {}).get("overrides")) if isinstance(o, dict)]
        types = [_known_str(o.get("instanceType")) for o in overrides]
        distribution = policy.get("instancesDistribution") or {}
        base = _number(distribution.get("onDemandBaseCapacity")) or 0.0
        percent = _number(distribution.get("onDemandPercentageAboveBaseCapacity"))
        percent = 100.0 if percent is None else percent
        max_price = _number(distribution.get("spotMaxPrice")) or None
    else:
        template = ctx.launch_template_of(r)
        types, base, percent, max_price = [], instances, 100.0, None
    if not types and template is not None:
        types = [_known_str(template.get("instanceType"))]
    problem = unpriced_types(types) or (None if template is not None or types else "launch template not found")
    if problem:
        return unpriced(problem)
    on_demand = min(instances, base) + max(instances - base, 0.0) * percent / 100.0
    assumption = (f"{size_note}, {hours_note}; on-demand base {base:g}, then {percent:g}% on demand and "
                  f"{100 - percent:g}% spot")
    return price_group(ctx, template, instances, hours, on_demand, types, max_price, assumption,
                       reservation=reservation_target(ctx, r) or reservation_target(ctx, template))


def _overrides_and_template(ctx: PricingContext, r: CostResource) -> tuple[list[Optional[str]], Optional[CostResource]]:
    types: list[Optional[str]] = []
    template = None
    for config in as_list(r.get("launchTemplateConfigs")):
        if not isinstance(config, dict):
            continue
        template = template or _template_of(ctx, r, "launchTemplateConfigs", config.get("launchTemplateSpecification"))
        types += [_known_str(o.get("instanceType")) for o in as_list(config.get("overrides")) if isinstance(o, dict)]
    types += [_known_str(s.get("instanceType")) for s in as_list(r.get("launchSpecifications")) if isinstance(s, dict)]
    if not types and template is not None:
        types = [_known_str(template.get("instanceType"))]
    return types, template


def _fleet_capacity(ctx: PricingContext, r: CostResource, instances: Optional[float]) -> tuple[list, Any, str]:
    """A fleet's instance types and template, and why it cannot be priced ('' when it can)."""
    if instances is None:
        return [], None, "target capacity unknown: set instances in the usage file"
    types, template = _overrides_and_template(ctx, r)
    return types, template, unpriced_types(types)


def price_fleet(r: CostResource, ctx: PricingContext) -> Priced:
    usage = ctx.usage_for(r)
    spec = r.get("targetCapacitySpecification") or {}
    total = _number(spec.get("totalTargetCapacity"))
    instances, size_note = _group_size(r, usage, total, "totalTargetCapacity")
    types, template, problem = _fleet_capacity(ctx, r, instances)
    if problem:
        return unpriced(problem)
    on_demand = _number(spec.get("onDemandTargetCapacity"))
    spot = _number(spec.get("spotTargetCapacity"))
    default_spot = spec.get("defaultTargetCapacityType") == "spot"
    if on_demand is None:
        on_demand = max(instances - (spot or 0.0), 0.0) if not default_spot else 0.0
    on_demand = min(on_demand, instances)
    hours, hours_note = hours_of(usage, "each instance")
    # EC2 Fleet caps a whole fleet's spend (maxTotalPrice), not a per-instance price: typical spot applies.
    return price_group(ctx, template, instances, hours, on_demand, types, None,
                       f"{size_note}, {hours_note}; {on_demand:g} on demand, the rest spot")


def price_spot_fleet(r: CostResource, ctx: PricingContext) -> Priced:
    usage = ctx.usage_for(r)
    instances, size_note = _group_size(r, usage, r.get("targetCapacity"), "targetCapacity")
    types, template, problem = _fleet_capacity(ctx, r, instances)
    if problem:
        return unpriced(problem)
    on_demand = min(_number(r.get("onDemandTargetCapacity")) or 0.0, instances)
    hours, hours_note = hours_of(usage, "each instance")
    return price_group(ctx, template, instances, hours, on_demand, types, _number(r.get("spotPrice")),
                       f"{size_note}, {hours_note}; {on_demand:g} on demand, the rest spot")


def price_eks_node_group(r: CostResource, ctx: PricingContext) -> Priced:
    usage = ctx.usage_for(r)
    instances, size_note = _group_size(r, usage, r.get("scalingConfig", "desiredSize"), "scalingConfig.desiredSize")
    if instances is None:
        return unpriced("node group size unknown: set instances in the usage file")
    template = _template_of(ctx, r, "launchTemplate", r.get("launchTemplate"))
    types = [_known_str(t) for t in as_list(r.get("instanceTypes"))]
    if not types and template is not None:
        types = [_known_str(template.get("instanceType"))]
    types = types or [EKS_DEFAULT_INSTANCE_TYPE]
    problem = unpriced_types(types)
    if problem:
        return unpriced(problem)
    hours, hours_note = hours_of(usage, "each node")
    is_spot = r.get("capacityType") == "SPOT"
    disk_lines: list[PriceLine] = []
    if template is None:
        disk = _number(r.get("diskSize")) or EKS_DEFAULT_DISK_GB
        disk_lines, _ = ebs_lines({"volumeSize": disk, "volumeType": "gp3"}, instances * hours / HOURS_PER_MONTH,
                                  "node disk", "gp3", f"{instances:g} nodes x {hours:g} h")
    return price_group(ctx, template, instances, hours, 0 if is_spot else instances, types, None,
                       f"{size_note}, {hours_note}; capacityType {r.get('capacityType') or 'ON_DEMAND'}",
                       what="nodes", extra_lines=disk_lines)


def price_ebs_volume(r: CostResource, ctx: PricingContext) -> Priced:
    lines, problem = ebs_lines(dict(r.props), 1.0, "volume", "gp2", "kept all month")
    return unpriced(problem) if problem else Priced(lines=lines)


def price_launch_template(r: CostResource, ctx: PricingContext) -> Priced:
    return free("no charge for the template: priced on the instances, groups and fleets that launch from it")


PRICERS = {
    INSTANCE: price_instance,
    SPOT_REQUEST: price_spot_request,
    LAUNCH_TEMPLATE: price_launch_template,
    ASG: price_auto_scaling_group,
    FLEET: price_fleet,
    SPOT_FLEET: price_spot_fleet,
    CAPACITY_RESERVATION: price_capacity_reservation,
    EKS_NODE_GROUP: price_eks_node_group,
    EBS_VOLUME: price_ebs_volume,
}
