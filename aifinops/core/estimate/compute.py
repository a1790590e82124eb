"""EC2 capacity: instances, spot requests, auto scaling groups and fleets at their on-demand/spot mix,
capacity reservations, EKS node groups, and the EBS volumes and monitoring that come with them."""
from __future__ import annotations

from dataclasses import dataclass, field
from statistics import mean
from typing import Any, Callable, Optional, Sequence

from aifinops.core.service_prices import HOURS_PER_MONTH, has_price, service_price, service_quantity

from ..values import as_list, is_unknown
from .context import PricingContext
from .model import CLOUDWATCH, EC2_COMPUTE, EC2_OTHER, VPC, Priced, PriceLine, free, unpriced
from .view import CostResource

INSTANCE = "aws:ec2/instance:Instance"
SPOT_REQUEST = "aws:ec2/spotInstanceRequest:SpotInstanceRequest"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
LAUNCH_CONFIGURATION = "aws:ec2/launchConfiguration:LaunchConfiguration"
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
def _ec2_line(ctx: PricingContext, description: str, quantity: float, unit_usd: float, assumption: str,
              instance_type: str = "", unit: str = "instance-hours") -> PriceLine:
    table = ctx.ec2
    return PriceLine(description, quantity, unit, unit_usd, EC2_COMPUTE, table.source, table.as_of, assumption,
                     instance_type=instance_type)


def on_demand_line(ctx: PricingContext, instance_type: str, instance_hours: float, assumption: str,
                   label: str = "on-demand", tenancy: str = "default") -> PriceLine:
    price = ctx.ec2.on_demand_usd(instance_type, tenancy)
    assert price is not None
    label = label if tenancy == "default" else f"{label}, {tenancy} tenancy"
    return _ec2_line(ctx, f"{instance_type} {label}", instance_hours, price, assumption, instance_type=instance_type)


def spot_line(ctx: PricingContext, instance_types: list[str], unit_hours: float, max_price: Optional[float],
              assumption: str, weights: Optional[dict[str, float]] = None, tenancy: str = "default") -> PriceLine:
    """Spot at the typical discount per type (averaged over the types the group may launch), capped by max price.

    `unit_hours` counts capacity units: with weightedCapacity one instance of a type provides its weight in units.
    """
    weights = weights or {}
    per_unit = []
    for instance_type in instance_types:
        typical = ctx.ec2.on_demand_usd(instance_type, tenancy) * (1 - ctx.spot_discount(instance_type))
        per_unit.append((min(typical, max_price) if max_price else typical) / weights.get(instance_type, 1.0))
    discounts = ", ".join(f"{t} {ctx.spot_discount(t):.0%} off" for t in instance_types)
    cap = f"; capped at max price ${max_price:g}/h" if max_price else ""
    label = instance_types[0] if len(instance_types) == 1 else "mean of " + ", ".join(instance_types)
    label += "" if tenancy == "default" else f", {tenancy} tenancy"
    distinct = {weights.get(t, 1.0) for t in instance_types}
    if len(distinct) == 1:
        weight = distinct.pop()
        return _ec2_line(ctx, f"{label} spot", unit_hours / weight, round(mean(per_unit) * weight, 6),
                         f"{assumption}; typical spot discount {discounts}{cap}")
    return _ec2_line(ctx, f"{label} spot, per capacity unit", unit_hours, round(mean(per_unit), 6),
                     f"{assumption}; typical spot discount {discounts}{cap}; price per unit of weightedCapacity",
                     unit="capacity-unit-hours")


HOST_TENANCY_PROBLEM = ("host tenancy: the instances run on a Dedicated Host, billed per host-hour on the host "
                        "(aws:ec2/dedicatedHost:Host), not per instance; the tables have no Dedicated Host prices")


def unpriced_types(ctx: PricingContext, instance_types: Sequence[Optional[str]],
                   tenancy: str = "default") -> Optional[str]:
    """Why these instance types cannot be priced, or None when they all can."""
    if not instance_types or any(t is None for t in instance_types):
        return "instance type not set or unknown during preview"
    if tenancy == "host":
        return HOST_TENANCY_PROBLEM
    if tenancy not in ("default", "dedicated"):
        return f"tenancy {tenancy!r} unknown"
    missing = [t for t in instance_types if ctx.ec2.on_demand_usd(t, tenancy) is None]
    if missing and tenancy == "dedicated":
        return (f"dedicated tenancy: no Dedicated Instance price for {', '.join(missing)} in the {ctx.ec2.region} "
                f"EC2 table (add it with `aifinops catalog refresh --tenancy dedicated`); the shared rate would be "
                f"too low")
    if missing:
        return (f"no on-demand price for {', '.join(missing)} in the {ctx.ec2.region} EC2 table "
                f"(add it with `aifinops catalog refresh`)")
    return None


def dedicated_fee_lines(ctx: PricingContext, tenancy: str, hours: float) -> list[PriceLine]:
    """AWS's per-region Dedicated fee, on the first dedicated resource priced in a region (it is charged once)."""
    table = ctx.ec2
    if tenancy != "dedicated" or table.dedicated_region_fee is None or ctx.region in ctx.dedicated_fee_regions:
        return []
    ctx.dedicated_fee_regions.add(ctx.region)
    return [PriceLine("Dedicated per-region fee", hours, "hours", float(table.dedicated_region_fee), EC2_COMPUTE,
                      table.dedicated_region_fee_source or table.source, table.as_of,
                      f"{hours:g} h; charged once per account and region while any dedicated instance runs")]


# -- what an instance is launched with -------------------------------------------------------------
@dataclass
class LaunchSpec:
    """What instances get from their launch template, launch configuration or own arguments."""

    instance_type: Optional[str] = None
    volumes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    monitoring: bool = False
    public_ip: bool = False
    tenancy: str = "default"
    spot: bool = False
    max_price: Optional[float] = None


def template_spec(template: Optional[CostResource]) -> LaunchSpec:
    if template is None:
        return LaunchSpec()
    volumes = []
    for index, mapping in enumerate(as_list(template.get("blockDeviceMappings"))):
        ebs = mapping.get("ebs") if isinstance(mapping, dict) else None
        if isinstance(ebs, dict):
            volumes.append((_known_str(mapping.get("deviceName")) or f"volume {index}", ebs))
    market = template.get("instanceMarketOptions")
    market = market if isinstance(market, dict) else {}
    return LaunchSpec(
        instance_type=_known_str(template.get("instanceType")), volumes=volumes,
        monitoring=template.get("monitoring", "enabled") is True,
        public_ip=any(isinstance(n, dict) and n.get("associatePublicIpAddress") in (True, "true")
                      for n in as_list(template.get("networkInterfaces"))),
        tenancy=_known_str(template.get("placement", "tenancy")) or "default",
        spot=market.get("marketType") == "spot", max_price=_number(market.get("spotOptions", {}).get("maxPrice")
                                                                     if isinstance(market.get("spotOptions"), dict)
                                                                     else None))


def configuration_spec(configuration: CostResource) -> LaunchSpec:
    """A launch configuration (the older form of a template): detailed monitoring is on unless disabled."""
    volumes = [("root volume", configuration.get("rootBlockDevice"))] if isinstance(
        configuration.get("rootBlockDevice"), dict) else []
    volumes += [(_known_str(d.get("deviceName")) or "data volume", d)
                for d in as_list(configuration.get("ebsBlockDevices")) if isinstance(d, dict)]
    spot_price = _number(configuration.get("spotPrice"))
    return LaunchSpec(instance_type=_known_str(configuration.get("instanceType")), volumes=volumes,
                      monitoring=configuration.get("enableMonitoring") is not False,
                      public_ip=configuration.get("associatePublicIpAddress") is True,
                      tenancy=_known_str(configuration.get("placementTenancy")) or "default",
                      spot=spot_price is not None, max_price=spot_price)


# -- EBS and monitoring ---------------------------------------------------------------------------
def _ebs_price_line(label: str, quantity: float, unit: str, key: str, note: str) -> PriceLine:
    price = service_price("ebs", key)
    return PriceLine(label, quantity, unit, price.usd, EC2_OTHER, price.source, price.as_of, note)


def _io2_iops_lines(label: str, iops: float, volume_months: float, note: str) -> list[PriceLine]:
    """io2 provisioned IOPS in AWS's tiers: up to 32,000, 32,001-64,000, above 64,000."""
    lines = []
    for key, low, high in (("iops.io2.tier1", 0, 32000), ("iops.io2.tier2", 32000, 64000),
                           ("iops.io2.tier3", 64000, None)):
        in_tier = max(0.0, min(iops, high if high is not None else iops) - low)
        if in_tier > 0:
            span = f"{low + 1:,}-{high:,}" if high is not None else f"above {low:,}"
            lines.append(_ebs_price_line(f"{label} io2 IOPS {span}", in_tier * volume_months, "IOPS-months", key,
                                         note))
    return lines


def ebs_lines(device: dict[str, Any], volume_months: float, label: str, default_type: str,
              assumption: str, usage: Optional[dict[str, Any]] = None) -> tuple[list[PriceLine], Optional[str]]:
    """Lines for one EBS volume spec (size, type, iops, throughput) held for `volume_months`."""
    volume_type = _known_str(device.get("volumeType") or device.get("type")) or default_type
    size = _number(device.get("volumeSize") if "volumeSize" in device else device.get("size"))
    if size is None:
        return [], f"{label}: size not set or unknown"
    if not has_price("ebs", f"storage.{volume_type}"):
        return [], f"{label}: no price for EBS volume type {volume_type!r}"
    note = assumption + ("" if device.get("volumeType") or device.get("type") else f"; type not set, AWS default {default_type} assumed")
    lines = [_ebs_price_line(f"{label} {volume_type} {size:g} GB", size * volume_months, "GB-months",
                             f"storage.{volume_type}", note)]
    iops, throughput = _number(device.get("iops")), _number(device.get("throughput"))
    if volume_type == "gp3" and iops and iops > GP3_FREE_IOPS:
        lines.append(_ebs_price_line(f"{label} gp3 IOPS above {GP3_FREE_IOPS}", (iops - GP3_FREE_IOPS) * volume_months,
                                     "IOPS-months", "iops.gp3", note))
    if volume_type == "gp3" and throughput and throughput > GP3_FREE_THROUGHPUT:
        lines.append(_ebs_price_line(f"{label} gp3 throughput above {GP3_FREE_THROUGHPUT} MiB/s",
                                     (throughput - GP3_FREE_THROUGHPUT) * volume_months, "MiB/s-months",
                                     "throughput.gp3", note))
    if volume_type == "io1" and iops:
        lines.append(_ebs_price_line(f"{label} io1 provisioned IOPS", iops * volume_months, "IOPS-months", "iops.io1",
                                     note))
    if volume_type == "io2":
        if iops is None:
            return [], f"{label}: io2 needs iops (provisioned IOPS are billed) and it is not set or unknown"
        lines += _io2_iops_lines(label, iops, volume_months, note)
    problem = None
    if volume_type == "standard":
        if usage and "monthlyIoRequestsMillions" in usage:
            lines.append(_ebs_price_line(f"{label} magnetic I/O requests", float(usage["monthlyIoRequestsMillions"]),
                                         "million I/O requests", "ioRequests.standard", "usage file"))
        else:
            price = service_price("ebs", "ioRequests.standard")
            problem = (f"{label}: magnetic I/O requests not priced: set monthlyIoRequestsMillions in the usage file "
                       f"(${price.usd:g} per million)")
    return lines, problem


def detailed_monitoring_line(instance_months: float, assumption: str) -> PriceLine:
    price = service_price("cloudwatch", "metric")
    metrics = service_quantity("cloudwatch", "ec2DetailedMonitoringMetrics")
    return PriceLine(f"detailed monitoring ({metrics:g} metrics per instance)", metrics * instance_months,
                     "metric-months", price.usd, CLOUDWATCH, price.source, price.as_of, assumption)


def public_ip_line(instance_hours: float, assumption: str) -> PriceLine:
    price = service_price("vpc", "publicIpv4")
    return PriceLine("public IPv4 address", instance_hours, "IP-hours", price.usd, VPC, price.source, price.as_of,
                     assumption)


def launch_extras(spec: LaunchSpec, instance_months: float, instance_hours: float,
                  assumption: str) -> tuple[list[PriceLine], list[str]]:
    """Volumes, monitoring and public IPs of instances launched from a template or launch configuration."""
    lines: list[PriceLine] = []
    problems: list[str] = []
    for label, device in spec.volumes:
        device_lines, problem = ebs_lines(device, instance_months, label, "gp2", assumption)
        lines += device_lines
        problems += [problem] if problem else []
    if spec.monitoring:
        lines.append(detailed_monitoring_line(instance_months, assumption))
    if spec.public_ip:
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
    tenancy = _known_str(r.get("tenancy")) or "default"
    problem = unpriced_types(ctx, [instance_type], tenancy) or (None if count is not None else "instanceCount unknown")
    if problem:
        return unpriced(problem)
    hours, assumption = hours_of(ctx.usage_for(r), "the reservation")
    line = on_demand_line(ctx, instance_type, count * hours, f"{count:g} reserved x {hours:g} h ({assumption}); "
                          f"billed at the on-demand rate whether or not instances run in it", "capacity reservation",
                          tenancy)
    return Priced(lines=[line] + dedicated_fee_lines(ctx, tenancy, hours))


# -- a group of instances at an on-demand/spot mix --------------------------------------------------
@dataclass
class CapacityMix:
    """`units` of capacity (instances, or weightedCapacity units), `on_demand` of them on demand."""

    units: float
    hours: float
    on_demand: float
    on_demand_type: str
    spot_types: list[str]
    spot_max_price: Optional[float]
    assumption: str
    reservation: Optional[CostResource] = None
    extras: list[PriceLine] = field(default_factory=list)
    weights: dict[str, float] = field(default_factory=dict)
    tenancy: str = "default"

    @property
    def spot_units(self) -> float:
        return max(self.units - self.on_demand, 0.0)

    @property
    def on_demand_instances(self) -> float:
        return self.on_demand / self.weights.get(self.on_demand_type, 1.0)

    @property
    def instances(self) -> float:
        """Instances that provide the units (spot at the mean weight of the types it may launch)."""
        spot_weight = mean(self.weights.get(t, 1.0) for t in self.spot_types) if self.spot_types else 1.0
        return self.on_demand_instances + self.spot_units / spot_weight


def weights_of(overrides: Sequence[Any]) -> dict[str, float]:
    """weightedCapacity per instance type in a group's or fleet's overrides (1 when not set)."""
    weights = {}
    for override in overrides:
        if isinstance(override, dict) and _known_str(override.get("instanceType")):
            weight = _number(override.get("weightedCapacity"))
            weights[override["instanceType"]] = weight if weight and weight > 0 else 1.0
    return weights


def _weight_note(mix: CapacityMix) -> str:
    if all(w == 1.0 for w in mix.weights.values()):
        return ""
    listed = ", ".join(f"{t} {w:g}" for t, w in mix.weights.items())
    return f"; weightedCapacity {listed}: {mix.units:g} units = {mix.instances:g} instances"


def price_mix(mix: CapacityMix, ctx: PricingContext) -> Priced:
    lines: list[PriceLine] = []
    on_demand = mix.on_demand_instances
    weights = _weight_note(mix)
    covered = 0.0
    if mix.reservation is not None and _known_str(mix.reservation.get("instanceType")) == mix.on_demand_type:
        covered = min(on_demand, _number(mix.reservation.get("instanceCount")) or 0.0)
    if covered:
        lines.append(_ec2_line(ctx, f"{mix.on_demand_type} on-demand in capacity reservation {mix.reservation.name}",
                               covered * mix.hours, 0.0, f"{covered:g} x {mix.hours:g} h; billed on the reservation"))
    if on_demand - covered > 0:
        lines.append(on_demand_line(ctx, mix.on_demand_type, (on_demand - covered) * mix.hours,
                                    f"{on_demand - covered:g} x {mix.hours:g} h; {mix.assumption}{weights}",
                                    tenancy=mix.tenancy))
    if mix.spot_units > 0:
        lines.append(spot_line(ctx, mix.spot_types, mix.spot_units * mix.hours, mix.spot_max_price,
                               f"{mix.spot_units:g} units x {mix.hours:g} h; {mix.assumption}{weights}",
                               mix.weights, mix.tenancy))
    naive = [line for line in lines if line.unit_usd == 0.0]
    all_on_demand = mix.units / mix.weights.get(mix.on_demand_type, 1.0)
    if all_on_demand - covered > 0:
        naive.append(on_demand_line(ctx, mix.on_demand_type, (all_on_demand - covered) * mix.hours,
                                    f"naive: all {all_on_demand - covered:g} on demand x {mix.hours:g} h",
                                    tenancy=mix.tenancy))
    fee = dedicated_fee_lines(ctx, mix.tenancy, mix.hours)
    return Priced(lines=lines + mix.extras + fee, naive_lines=naive + mix.extras + fee if mix.spot_units > 0 else None)


# -- resources ------------------------------------------------------------------------------------
def price_instance(r: CostResource, ctx: PricingContext, spot_request: bool = False) -> Priced:
    template = _template_of(ctx, r, "launchTemplate", r.get("launchTemplate"))
    launched = template_spec(template)  # what the instance's own arguments do not override
    instance_type = _known_str(r.get("instanceType")) or launched.instance_type
    tenancy = "host" if _known_str(r.get("hostId")) else (_known_str(r.get("tenancy")) or launched.tenancy)
    problem = unpriced_types(ctx, [instance_type], tenancy)
    if problem:
        return unpriced(problem + (f" (launch template {template.name})" if template is not None else ""))
    usage = ctx.usage_for(r)
    hours, assumption = hours_of(usage, "the instance")
    market = r.get("instanceMarketOptions")
    if isinstance(market, dict):
        is_spot = market.get("marketType") == "spot"
        max_price = _number(r.get("instanceMarketOptions", "spotOptions", "maxPrice"))
    else:
        is_spot, max_price = launched.spot, launched.max_price
    if spot_request:
        is_spot, max_price = True, _number(r.get("spotPrice"))
    if template is not None:
        assumption += f"; launched from template {template.name}"
    mix = CapacityMix(1, hours, 0 if is_spot else 1, instance_type, [instance_type], max_price, assumption,
                      reservation=reservation_target(ctx, r) or reservation_target(ctx, template), tenancy=tenancy)
    # Volumes are kept while the instance is stopped: a whole month each.
    extras: list[PriceLine] = []
    problems: list[str] = []
    root = r.get("rootBlockDevice")
    volume_note = "volume kept all month, also while the instance is stopped"
    if isinstance(root, dict) or not launched.volumes:
        root = root if isinstance(root, dict) else {}
        if "volumeSize" not in root:
            root = {**root, "volumeSize": 8}
            volume_note = "volume kept all month; size not set, 8 GB AMI default assumed"
        volumes = [("root volume", root)]
    else:
        volumes = list(launched.volumes)
        volume_note = f"from launch template {template.name}; kept all month, also while the instance is stopped"
    volumes += [(_known_str(d.get("deviceName")) or "data volume", d) for d in as_list(r.get("ebsBlockDevices"))
                if isinstance(d, dict)]
    for label, device in volumes:
        device_lines, device_problem = ebs_lines(device, 1.0, label, "gp2", volume_note, usage)
        extras += device_lines
        problems += [device_problem] if device_problem else []
    monitoring = r.get("monitoring") if isinstance(r.get("monitoring"), bool) else launched.monitoring
    if monitoring:
        extras.append(detailed_monitoring_line(hours / HOURS_PER_MONTH, f"while running, {hours:g} h"))
    if r.get("associatePublicIpAddress") is True or (r.get("associatePublicIpAddress") is None and launched.public_ip):
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


def price_group(ctx: PricingContext, spec: LaunchSpec, units: float, hours: float,
                on_demand: float, types: list[str], max_price: Optional[float], assumption: str,
                reservation: Optional[CostResource] = None, what: str = "instances",
                extra_lines: Sequence[PriceLine] = (), weights: Optional[dict[str, float]] = None) -> Priced:
    """A group of `units` at an on-demand/spot mix, with what its template or configuration adds to each instance."""
    mix = CapacityMix(units, hours, on_demand, types[0], types, max_price, assumption, reservation=reservation,
                      weights=weights or {}, tenancy=spec.tenancy)
    instances = mix.instances
    extras, problems = launch_extras(spec, instances * hours / HOURS_PER_MONTH, instances * hours,
                                     f"{instances:g} {what} x {hours:g} h; volumes deleted on scale-in")
    mix.extras = extras + list(extra_lines)
    priced = price_mix(mix, ctx)
    priced.note = "; ".join(problems)
    return priced


def price_auto_scaling_group(r: CostResource, ctx: PricingContext) -> Priced:
    usage = ctx.usage_for(r)
    counted = r.get("desiredCapacity")
    what = "desiredCapacity"
    if _number(counted) is None:
        counted, what = r.get("minSize"), "minSize: what it runs when idle"
    units, size_note = _group_size(r, usage, counted, what)
    if units is None:
        return unpriced("group size unknown: set instances in the usage file")
    hours, hours_note = hours_of(usage, "each instance")
    template = ctx.launch_template_of(r)
    configuration = ctx.linked(r, "launchConfiguration", r.get("launchConfiguration"), LAUNCH_CONFIGURATION)
    spec = template_spec(template) if template is not None else (
        configuration_spec(configuration) if configuration is not None else LaunchSpec())
    policy = r.get("mixedInstancesPolicy")
    weights: dict[str, float] = {}
    if isinstance(policy, dict):
        overrides = [o for o in as_list((policy.get("launchTemplate") or {}).get("overrides")) if isinstance(o, dict)]
        types = [_known_str(o.get("instanceType")) for o in overrides]
        weights = weights_of(overrides)
        distribution = policy.get("instancesDistribution") or {}
        base = _number(distribution.get("onDemandBaseCapacity")) or 0.0
        percent = _number(distribution.get("onDemandPercentageAboveBaseCapacity"))
        percent = 100.0 if percent is None else percent
        max_price = _number(distribution.get("spotMaxPrice")) or None
    else:
        types, base, percent, max_price = [], units, 100.0, None
        if spec.spot:  # a launch configuration with a spot price launches every instance on spot
            base, percent, max_price = 0.0, 0.0, spec.max_price
    if not types and spec.instance_type is not None:
        types = [spec.instance_type]
    found = template is not None or configuration is not None
    problem = unpriced_types(ctx, types, spec.tenancy) if (types or found) else "launch template not found"
    if problem:
        return unpriced(problem)
    source = f"; launch configuration {configuration.name}" if template is None and configuration is not None else ""
    distribution_note = f"on-demand base {base:g}, then {percent:g}% on demand and {100 - percent:g}% spot{source}"
    reservation = reservation_target(ctx, r) or reservation_target(ctx, template)

    def at_size(size: float, note: str) -> Priced:
        on_demand = min(size, base) + max(size - base, 0.0) * percent / 100.0
        return price_group(ctx, spec, size, hours, on_demand, types, max_price,
                           f"{note}, {hours_note}; {distribution_note}", reservation=reservation, weights=weights)

    return with_maximum(at_size(units, size_note), at_size, _number(r.get("maxSize")), units)


def with_maximum(desired: Priced, at_size: Callable[[float, str], Priced], max_size: Optional[float],
                 desired_size: float, what: str = "maxSize") -> Priced:
    """The desired-size pricing, with the lines at `max_size` when the group can grow past it."""
    if max_size is not None and max_size > desired_size and desired.status == "priced":
        desired.max_lines = at_size(max_size, f"{max_size:g} instances ({what}: the most it can scale to)").lines
    return desired


def _overrides_and_template(ctx: PricingContext, r: CostResource
                            ) -> tuple[list[Optional[str]], Optional[CostResource], dict[str, float]]:
    types: list[Optional[str]] = []
    template = None
    overrides: list[Any] = []
    for config in as_list(r.get("launchTemplateConfigs")):
        if not isinstance(config, dict):
            continue
        template = template or _template_of(ctx, r, "launchTemplateConfigs", config.get("launchTemplateSpecification"))
        overrides += [o for o in as_list(config.get("overrides")) if isinstance(o, dict)]
    overrides += [s for s in as_list(r.get("launchSpecifications")) if isinstance(s, dict)]
    types += [_known_str(o.get("instanceType")) for o in overrides]
    if not types and template is not None:
        types = [_known_str(template.get("instanceType"))]
    return types, template, weights_of(overrides)


def _fleet_capacity(ctx: PricingContext, r: CostResource, instances: Optional[float]
                    ) -> tuple[list, Any, dict[str, float], str]:
    """A fleet's instance types, template and weights, and why it cannot be priced ('' when it can)."""
    if instances is None:
        return [], None, {}, "target capacity unknown: set instances in the usage file"
    types, template, weights = _overrides_and_template(ctx, r)
    return types, template, weights, unpriced_types(ctx, types, template_spec(template).tenancy)


def price_fleet(r: CostResource, ctx: PricingContext) -> Priced:
    usage = ctx.usage_for(r)
    spec = r.get("targetCapacitySpecification") or {}
    total = _number(spec.get("totalTargetCapacity"))
    units, size_note = _group_size(r, usage, total, "totalTargetCapacity")
    types, template, weights, problem = _fleet_capacity(ctx, r, units)
    if problem:
        return unpriced(problem)
    on_demand = _number(spec.get("onDemandTargetCapacity"))
    spot = _number(spec.get("spotTargetCapacity"))
    default_spot = spec.get("defaultTargetCapacityType") == "spot"
    if on_demand is None:
        on_demand = max(units - (spot or 0.0), 0.0) if not default_spot else 0.0
    on_demand = min(on_demand, units)
    hours, hours_note = hours_of(usage, "each instance")
    # EC2 Fleet caps a whole fleet's spend (maxTotalPrice), not a per-instance price: typical spot applies.
    return price_group(ctx, template_spec(template), units, hours, on_demand, types, None,
                       f"{size_note}, {hours_note}; {on_demand:g} on demand, the rest spot", weights=weights)


def price_spot_fleet(r: CostResource, ctx: PricingContext) -> Priced:
    usage = ctx.usage_for(r)
    units, size_note = _group_size(r, usage, r.get("targetCapacity"), "targetCapacity")
    types, template, weights, problem = _fleet_capacity(ctx, r, units)
    if problem:
        return unpriced(problem)
    on_demand = min(_number(r.get("onDemandTargetCapacity")) or 0.0, units)
    hours, hours_note = hours_of(usage, "each instance")
    return price_group(ctx, template_spec(template), units, hours, on_demand, types, _number(r.get("spotPrice")),
                       f"{size_note}, {hours_note}; {on_demand:g} on demand, the rest spot", weights=weights)


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
    spec = template_spec(template)
    problem = unpriced_types(ctx, types, spec.tenancy)
    if problem:
        return unpriced(problem)
    hours, hours_note = hours_of(usage, "each node")
    is_spot = r.get("capacityType") == "SPOT"

    def at_size(size: float, note: str) -> Priced:
        disk_lines: list[PriceLine] = []
        if template is None:
            disk = _number(r.get("diskSize")) or EKS_DEFAULT_DISK_GB
            disk_lines, _ = ebs_lines({"volumeSize": disk, "volumeType": "gp3"}, size * hours / HOURS_PER_MONTH,
                                      "node disk", "gp3", f"{size:g} nodes x {hours:g} h")
        return price_group(ctx, spec, size, hours, 0 if is_spot else size, types, None,
                           f"{note}, {hours_note}; capacityType {r.get('capacityType') or 'ON_DEMAND'}",
                           what="nodes", extra_lines=disk_lines)

    return with_maximum(at_size(instances, size_note), at_size, _number(r.get("scalingConfig", "maxSize")), instances,
                        "scalingConfig.maxSize")


def price_ebs_volume(r: CostResource, ctx: PricingContext) -> Priced:
    usage = ctx.usage_for(r)
    lines, problem = ebs_lines(dict(r.props), 1.0, "volume", "gp2", "kept all month", usage)
    if not lines:
        return unpriced(problem or "no price")
    return Priced(lines=lines, note=problem or "")


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
