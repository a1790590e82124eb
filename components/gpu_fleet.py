"""GpuFleet: an auto scaling group of GPU instances, spot above an optional reserved on-demand baseline.

Spot is where the big savings are (typically 60-90% below on-demand); it can be taken back with two
minutes' notice. The fleet is built to survive that: several instance types with price-capacity-optimized
allocation, capacity rebalancing (a replacement is started when EC2 signals elevated risk, and the old
instance then goes through the termination hook with time to spare), a termination lifecycle hook with a
checkpoint watcher on every instance, and EventBridge rules that send interruption and rebalance signals to
an encrypted SNS topic. The launch template reuses GpuInstance's defaults (DLAMI, IMDSv2, encrypted gp3
root, SSM-managed role).
"""
from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from aifinops.core import argument_checks as checks
from aifinops.core import catalog
from aifinops.core import gpu_agent_config

from .alert_topic import declared_alert_usage, encrypted_alert_topic, validate_emails
from .checkov_suppressions import suppress_checkov
from .checkpoint_watcher import (
    WatcherSettings,
    checkpoint_uri,
    combined_user_data,
    is_safe_value,
    watcher_install_script,
)
from .gpu_metrics_agent import LowUtilisationAlarm, install_cloudwatch_agent, low_utilisation_alarm, validate_alarm
from .gpu_instance import (
    SpotOptions,
    deep_learning_ami,
    dlami_name,
    hourly_price,
    instance_role,
    launch_template_root_volume,
    metadata_options,
    validate_checkpoint_prefix,
    validate_root_volume,
    validate_tags,
)

SPOT_INTERRUPTION = "EC2 Spot Instance Interruption Warning"
REBALANCE_RECOMMENDATION = "EC2 Instance Rebalance Recommendation"
TERMINATE_LIFECYCLE_ACTION = "EC2 Instance-terminate Lifecycle Action"
TERMINATING_TRANSITION = "autoscaling:EC2_INSTANCE_TERMINATING"
# AWS's allowed range for a lifecycle hook's heartbeat timeout.
MIN_HEARTBEAT_SECONDS, MAX_HEARTBEAT_SECONDS = 30, 7200
# Target tracking on GPU utilisation reads the CloudWatch agent's nvidia_gpu plugin metric.
GPU_METRIC = {"namespace": gpu_agent_config.NAMESPACE, "metric_name": gpu_agent_config.UTILIZATION_METRIC}
FLEET_NAME = re.compile(r"^[A-Za-z0-9_-]{1,38}$")
_CRON = re.compile(r"^\S+( \S+){4}$")

suppress_checkov(
    component_type="aifinops:compute:GpuFleet", resource_type="aws:ec2/launchTemplate:LaunchTemplate",
    check_id="CKV_AWS_341", reason="GPU workloads run in containers; with a hop limit of 1 a bridged container "
                                   "cannot reach IMDSv2 for its role credentials, so GpuInstance's metadata defaults "
                                   "use 2 (tokens stay required)")


@dataclass
class ReservedBaseline:
    """An On-Demand Capacity Reservation that the fleet's on-demand base launches into.

    A reservation is billed at the on-demand rate for every reserved instance, used or not, until it ends;
    so it is sized to the on-demand base, never beyond it.
    - instance_type: default, the fleet's first instance type (it must be one of the fleet's types).
    - count: default, the fleet's on_demand_base_capacity; at most that.
    - availability_zone: default, the region's first zone. The fleet's subnets must include one there.
    - end_date: RFC 3339 time at which the reservation (and its bill) ends; default none: until removed.
    """

    instance_type: Optional[str] = None
    count: Optional[int] = None
    availability_zone: Optional[str] = None
    end_date: Optional[str] = None


@dataclass
class ScheduledScaling:
    """A recurring resize, e.g. nights and weekends off. `recurrence` is a 5-field cron expression in
    `time_zone` (default UTC). desired_capacity: default, left to the group (clamped to the new sizes)."""

    name: str
    recurrence: str
    min_size: int
    max_size: int
    desired_capacity: Optional[int] = None
    time_zone: str = "UTC"


@dataclass
class TargetTracking:
    """Keep average utilisation near `target_percent` (default 70) by adding or removing instances.

    metric 'gpu' (default) tracks the CloudWatch agent's `nvidia_smi_utilization_gpu` metric with the
    AutoScalingGroupName dimension (the agent's nvidia_gpu plugin with append_dimensions must run on the
    AMI); 'cpu' tracks ASGAverageCPUUtilization. warmup_seconds (default 300): how long a new instance's
    metrics are left out while it loads its model.
    """

    metric: Literal["gpu", "cpu"] = "gpu"
    target_percent: float = 70.0
    warmup_seconds: int = 300


@dataclass
class GpuFleetArgs:
    """Arguments of GpuFleet. Only `instance_types` is required.

    - instance_types: accelerated types from the catalog, all needing the same AMI; at least two when any
      capacity can be spot (diversity is what keeps spot capacity available). The first is preferred for
      on-demand capacity.
    - min_size / max_size / desired_capacity: default 0 / 2 / min_size. With schedules or target
      tracking the group owns desired capacity and later `pulumi up`s leave it alone.
    - on_demand_base_capacity: default 0. The first N instances run on demand (into the reservation when
      `reserved_baseline` is set); at most max_size.
    - on_demand_percentage_above_base: default 0: everything above the base is spot.
    - spot_max_price_usd: default none, which AWS reads as "each type's on-demand price" (the safe cap; AWS
      advises against lower caps with price-capacity-optimized). One price applies to every type, so it may
      not exceed the cheapest type's on-demand price.
    - reserved_baseline: None (default): no Capacity Reservation.
    - subnet_ids / security_group_ids: default, the default VPC's subnets and security group.
    - root_volume_gb, kms_key_id, ami_id: as for GpuInstance (encrypted gp3 root of 200 GB, latest DLAMI).
      root_device_name: default '/dev/sda1', the DLAMI's.
    - checkpoint_bucket_arn / checkpoint_prefix: a TieredBucket's ARN and its checkpoints prefix (default
      'checkpoints/'): the instances may read and write that prefix only, and the watcher uploads
      checkpoint_local_dir (default '/opt/checkpoints') there on termination.
    - checkpoint_command: shell commands the watcher runs first (e.g. `systemctl kill -s USR1 train`),
      for at most checkpoint_command_timeout_seconds (default 60).
    - termination_grace_seconds: the termination hook's heartbeat timeout (default 600; AWS allows 30 to
      7200). Scale-in, rebalancing and instance refresh wait this long at most; a spot interruption still
      ends after two minutes.
    - capacity_rebalance: default True. instance_refresh_min_healthy_percent: default 90.
    - schedules / target_tracking: default none.
    - alert_emails: addresses subscribed to the alerts topic (each must confirm); default none.
    - detailed_monitoring: default True (1-minute metrics). user_data: run after the watcher install.
    - gpu_metrics: default True: every instance gets the CloudWatch agent through SSM (associations
      targeting the group's instances by tag), publishing nvidia_gpu metrics per instance and per group;
      the role gets CloudWatchAgentServerPolicy. False for teams that ship their own agent. Neuron and
      Gaudi types get no agent, with a warning (GPU target tracking is then refused).
    - low_utilisation_alarm: default LowUtilisationAlarm() (group average below 50% for 10 minutes);
      None for none. alert_topic_arn: where it goes; default the fleet's own alerts topic.
    """

    instance_types: Sequence[str]
    min_size: int = 0
    max_size: int = 2
    desired_capacity: Optional[int] = None
    on_demand_base_capacity: int = 0
    on_demand_percentage_above_base: int = 0
    spot_max_price_usd: Optional[float] = None
    reserved_baseline: Optional[ReservedBaseline] = None
    subnet_ids: Optional[Sequence[pulumi.Input[str]]] = None
    security_group_ids: Optional[Sequence[pulumi.Input[str]]] = None
    ami_id: Optional[pulumi.Input[str]] = None
    root_volume_gb: int = 200
    root_device_name: str = "/dev/sda1"
    kms_key_id: Optional[pulumi.Input[str]] = None
    checkpoint_bucket_arn: Optional[pulumi.Input[str]] = None
    checkpoint_prefix: str = "checkpoints/"
    checkpoint_local_dir: str = "/opt/checkpoints"
    checkpoint_command: Optional[str] = None
    checkpoint_command_timeout_seconds: int = 60
    termination_grace_seconds: int = 600
    capacity_rebalance: bool = True
    instance_refresh_min_healthy_percent: int = 90
    schedules: Sequence[ScheduledScaling] = ()
    target_tracking: Optional[TargetTracking] = None
    alert_emails: Sequence[str] = ()
    detailed_monitoring: bool = True
    user_data: Optional[str] = None
    gpu_metrics: bool = True
    low_utilisation_alarm: Optional[LowUtilisationAlarm] = field(default_factory=LowUtilisationAlarm)
    alert_topic_arn: Optional[pulumi.Input[str]] = None
    tags: Mapping[str, str] = field(default_factory=dict)


def office_hours(min_size: int, max_size: int, *, start: str = "0 8 * * 1-5", stop: str = "0 20 * * 1-5",
                 time_zone: str = "UTC") -> list[ScheduledScaling]:
    """Nights and weekends off: size up on weekday mornings, to zero on weekday evenings (so the Friday
    evening stop lasts until Monday)."""
    return [ScheduledScaling("office-hours-start", start, min_size, max_size, time_zone=time_zone),
            ScheduledScaling("office-hours-stop", stop, 0, 0, 0, time_zone=time_zone)]


def validate_spot_max_price(argument: str, price: Any, instance_types: Sequence[str]) -> Optional[float]:
    """One spot max price covers every type: it may not exceed the cheapest type's on-demand price."""
    if price is None:
        return None
    checks.number_in_range(argument, price, 0, float("inf"), low_inclusive=False)
    priced = {t: catalog.on_demand_price(t) for t in instance_types}
    unpriced = [t for t, p in priced.items() if p is None]
    if unpriced:
        raise ValueError(f"{argument}: the catalog has no on-demand price for {', '.join(unpriced)}, so a spot max "
                         f"price of {price} cannot be checked; leave it unset (AWS then caps at on-demand)")
    cheapest = min(priced, key=lambda t: priced[t])
    if price > priced[cheapest]:
        raise ValueError(f"{argument}: {price} USD/h is above the on-demand price of {cheapest} "
                         f"({priced[cheapest]} USD/h); expected at most that, or unset to cap each type at "
                         f"its own on-demand price")
    return float(price)


def hourly_cost_range(specs: Sequence[catalog.AcceleratorSpec], max_size: int, on_demand_base: int,
                      on_demand_percent_above_base: int) -> Optional[tuple[float, float]]:
    """USD/hour of the fleet at max_size: (as much spot as the distribution allows, all on demand).

    The low end runs the on-demand base and the on-demand share above it on the cheapest type and the
    rest on spot at the cheapest typical spot price; the high end runs every instance on demand on the
    dearest type. None when the catalog lacks a price for any type.
    """
    on_demand = [hourly_price(spec, None) for spec in specs]
    spot = [hourly_price(spec, SpotOptions()) for spec in specs]
    if any(p is None for p in on_demand + spot):
        return None
    above = max_size - on_demand_base
    on_demand_count = on_demand_base + above * on_demand_percent_above_base / 100
    low = on_demand_count * min(on_demand) + (max_size - on_demand_count) * min(spot)
    return round(low, 4), round(max_size * max(on_demand), 4)


class GpuFleet(pulumi.ComponentResource):
    """An auto scaling group of GPU instances: reserved or on-demand base, spot burst, interruption-safe."""

    asg_name: pulumi.Output[str]
    asg_arn: pulumi.Output[str]
    launch_template_id: pulumi.Output[str]
    alerts_topic_arn: pulumi.Output[str]
    capacity_reservation_id: Optional[pulumi.Output[str]]
    instance_types: list[str]
    gpu_metrics_collected: bool
    low_utilisation_alarm_arn: Optional[pulumi.Output[str]]
    gpu_metrics_expected: bool
    alarm_threshold_percent: Optional[float]
    event_rule_names: dict[str, pulumi.Output[str]]  # spot-interruption, rebalance, terminating
    hourly_cost_range_usd: Optional[tuple[float, float]]
    reserved_hourly_usd: float

    def __init__(self, name: str, args: GpuFleetArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        # Validate everything before registering anything.
        if not isinstance(args, GpuFleetArgs):
            raise ValueError(f"args: expected GpuFleetArgs, got {type(args).__name__}")
        checks.text("name", name, FLEET_NAME, "1 to 38 letters, digits, '_' and '-' (it names the lifecycle "
                                              "hook and EventBridge rules, whose names AWS limits to 64 characters)")
        types = checks.string_list("instance_types", args.instance_types, min_items=1)
        specs = [catalog.require_accelerated(f"instance_types[{i}]", t) for i, t in enumerate(types)]
        types = [spec.instance_type for spec in specs]  # SageMaker-style `ml.` names normalised
        min_size = checks.whole_number("min_size", args.min_size, 0)
        max_size = checks.whole_number("max_size", args.max_size, max(1, min_size))
        desired = min_size if args.desired_capacity is None else \
            checks.whole_number("desired_capacity", args.desired_capacity, min_size, max_size)
        base = checks.whole_number("on_demand_base_capacity", args.on_demand_base_capacity, 0)
        if base > max_size:
            raise ValueError(f"on_demand_base_capacity: {base} is more than max_size ({max_size}); "
                             f"expected at most {max_size}")
        percent_above = checks.whole_number("on_demand_percentage_above_base",
                                            args.on_demand_percentage_above_base, 0, 100)
        if percent_above < 100 and max_size > base and len(types) < 2:
            raise ValueError(f"instance_types: spot capacity needs at least two instance types to stay available "
                             f"through interruptions, got {types!r}; add a similar type (e.g. g5 with g6)")
        if args.ami_id is None and len({dlami_name(spec) for spec in specs}) > 1:
            raise ValueError(f"instance_types: {types!r} need different Deep Learning AMIs (NVIDIA and Neuron); "
                             f"expected types of one accelerator kind, or an explicit ami_id")
        spot_max_price = validate_spot_max_price("spot_max_price_usd", args.spot_max_price_usd, types)
        reservation = self._validate_reservation(args.reserved_baseline, types, base)
        root_gb = validate_root_volume("root_volume_gb", args.root_volume_gb)
        checks.text("root_device_name", args.root_device_name, re.compile(r"^/dev/[a-z0-9]+$"),
                    "a device name such as '/dev/sda1'")
        prefix = validate_checkpoint_prefix("checkpoint_prefix", args.checkpoint_prefix)
        if not is_safe_value(prefix):
            raise ValueError(f"checkpoint_prefix: expected letters, digits and ./_-, got {prefix!r}")
        checks.text("checkpoint_local_dir", args.checkpoint_local_dir, re.compile(r"^/[A-Za-z0-9_./-]+$"),
                    "an absolute path of letters, digits and ./_-")
        if isinstance(args.checkpoint_bucket_arn, str):
            checkpoint_uri(args.checkpoint_bucket_arn, prefix)
        if args.checkpoint_command is not None:
            checks.text("checkpoint_command", args.checkpoint_command)
        command_timeout = checks.whole_number("checkpoint_command_timeout_seconds",
                                              args.checkpoint_command_timeout_seconds, 1)
        grace = checks.whole_number("termination_grace_seconds", args.termination_grace_seconds,
                                    MIN_HEARTBEAT_SECONDS, MAX_HEARTBEAT_SECONDS)
        if command_timeout >= grace:
            raise ValueError(f"checkpoint_command_timeout_seconds: {command_timeout} leaves no time to upload within "
                             f"termination_grace_seconds ({grace}); expected less than {grace}")
        checks.flag("capacity_rebalance", args.capacity_rebalance)
        checks.flag("detailed_monitoring", args.detailed_monitoring)
        min_healthy = checks.whole_number("instance_refresh_min_healthy_percent",
                                          args.instance_refresh_min_healthy_percent, 0, 100)
        schedules = self._validate_schedules(args.schedules)
        tracking = self._validate_target_tracking(args.target_tracking)
        emails = validate_emails("alert_emails", args.alert_emails)
        if args.user_data is not None:
            checks.text("user_data", args.user_data)
        tags = validate_tags("tags", args.tags)
        checks.flag("gpu_metrics", args.gpu_metrics)
        alarm = validate_alarm("low_utilisation_alarm", args.low_utilisation_alarm)
        uncollected = [spec for spec in specs if not gpu_agent_config.collects_gpu_metrics(spec)]
        if tracking is not None and tracking.metric == "gpu" and uncollected:
            raise ValueError(f"target_tracking.metric: 'gpu' reads the CloudWatch agent's nvidia_gpu metrics, which "
                             f"{', '.join(s.instance_type for s in uncollected)} cannot publish; expected 'cpu'")
        if reservation and (min_size < reservation["count"] or any(s.min_size < reservation["count"] for s in schedules)):
            pulumi.log.warn(f"{name}: min_size or a schedule lets the fleet shrink below the reserved baseline of "
                            f"{reservation['count']}; the Capacity Reservation is billed at the on-demand rate "
                            f"while it stands empty")

        super().__init__("aifinops:compute:GpuFleet", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOptions(parent=self)
        hook_name = f"{name}-checkpoint"

        profile = instance_role(name, args.checkpoint_bucket_arn, prefix, self)
        ami = args.ami_id if args.ami_id is not None else deep_learning_ami(specs[0], invoke)
        uri = None if args.checkpoint_bucket_arn is None else \
            pulumi.Output.from_input(args.checkpoint_bucket_arn).apply(lambda arn: checkpoint_uri(arn, prefix))
        user_data = pulumi.Output.from_input(uri).apply(lambda u: base64.b64encode(combined_user_data(
            watcher_install_script(WatcherSettings(hook_name, args.checkpoint_local_dir, u, args.checkpoint_command,
                                                   command_timeout)), args.user_data).encode()).decode())
        name_tags = {"Name": name, **tags}
        template = aws.ec2.LaunchTemplate(
            f"{name}-launch-template",
            description=f"aifinops GpuFleet {name}",
            image_id=ami,
            iam_instance_profile={"arn": profile.arn},
            vpc_security_group_ids=args.security_group_ids,
            metadata_options=metadata_options(),
            block_device_mappings=[launch_template_root_volume(root_gb, args.kms_key_id, args.root_device_name)],
            ebs_optimized="true",
            monitoring={"enabled": args.detailed_monitoring},
            user_data=user_data,
            update_default_version=True,
            tag_specifications=[{"resource_type": kind, "tags": name_tags} for kind in ("instance", "volume")],
            tags=tags,
            opts=child)

        capacity_reservation = None
        if reservation:
            zone = reservation["availability_zone"] or aws.get_availability_zones_output(
                state="available", opts=invoke).names[0]
            capacity_reservation = aws.ec2.CapacityReservation(
                f"{name}-reservation",
                instance_type=reservation["instance_type"], instance_count=reservation["count"],
                availability_zone=zone, instance_platform="Linux/UNIX", ebs_optimized=True,
                instance_match_criteria="targeted",  # only this fleet launches into it
                end_date_type="limited" if reservation["end_date"] else "unlimited",
                end_date=reservation["end_date"], tags=name_tags, opts=child)

        subnets = args.subnet_ids if args.subnet_ids is not None else self._default_subnets(invoke)
        # The reserved type goes first so the prioritized on-demand base lands in the reservation.
        ordered = sorted(types, key=lambda t: t != reservation["instance_type"]) if reservation else types
        manages_desired = bool(schedules) or tracking is not None
        group = aws.autoscaling.Group(
            f"{name}-asg",
            min_size=min_size,
            max_size=max_size,
            desired_capacity=desired,
            vpc_zone_identifiers=subnets,
            capacity_rebalance=args.capacity_rebalance,
            health_check_type="EC2",
            health_check_grace_period=300,
            default_instance_warmup=tracking.warmup_seconds if tracking else 300,
            metrics_granularity="1Minute",
            enabled_metrics=["GroupDesiredCapacity", "GroupInServiceInstances", "GroupTotalInstances",
                             "GroupInServiceCapacity"],
            mixed_instances_policy={
                "instances_distribution": {
                    "on_demand_base_capacity": base,
                    "on_demand_percentage_above_base_capacity": percent_above,
                    "on_demand_allocation_strategy": "prioritized" if reservation else "lowest-price",
                    "spot_allocation_strategy": "price-capacity-optimized",
                    "spot_max_price": None if spot_max_price is None else f"{spot_max_price:.4f}",
                },
                "launch_template": {
                    "launch_template_specification": {"launch_template_id": template.id,
                                                      "version": template.latest_version.apply(str)},
                    "overrides": [{"instance_type": t} for t in ordered],
                },
            },
            capacity_reservation_specification=None if capacity_reservation is None else {
                "capacity_reservation_preference": "capacity-reservations-first",
                "capacity_reservation_target": {"capacity_reservation_ids": [capacity_reservation.id]}},
            availability_zone_distribution=None if capacity_reservation is None else {
                "capacity_distribution_strategy": "reservations-then-balanced"},
            initial_lifecycle_hooks=[{
                "name": hook_name,
                "lifecycle_transition": TERMINATING_TRANSITION,
                "heartbeat_timeout": grace,
                "default_result": "CONTINUE",  # never keep a paid instance waiting on a dead watcher
                "notification_metadata": json.dumps({"fleet": name, "checkpointPrefix": prefix}),
            }],
            instance_refresh={
                "strategy": "Rolling",
                "preferences": {"min_healthy_percentage": min_healthy, "skip_matching": True,
                                "instance_warmup": str(tracking.warmup_seconds if tracking else 300)},
            },
            tags=[{"key": k, "value": v, "propagate_at_launch": True} for k, v in name_tags.items()],
            opts=pulumi.ResourceOptions(parent=self,
                                        ignore_changes=["desiredCapacity"] if manages_desired else None))

        aws.iam.RolePolicy(f"{name}-lifecycle", role=profile.role, policy=group.arn.apply(_lifecycle_policy),
                           opts=child)
        for schedule in schedules:
            aws.autoscaling.Schedule(
                f"{name}-{schedule.name}", scheduled_action_name=schedule.name, autoscaling_group_name=group.name,
                recurrence=schedule.recurrence, time_zone=schedule.time_zone, min_size=schedule.min_size,
                max_size=schedule.max_size, desired_capacity=schedule.desired_capacity, opts=child)
        if tracking is not None:
            aws.autoscaling.Policy(
                f"{name}-target-tracking", autoscaling_group_name=group.name, policy_type="TargetTrackingScaling",
                estimated_instance_warmup=tracking.warmup_seconds,
                target_tracking_configuration=_target_tracking(tracking, group.name), opts=child)

        topic = self._interruption_alerts(name, group, emails)
        self.gpu_metrics_collected = args.gpu_metrics and not uncollected
        target = {"key": "tag:aws:autoscaling:groupName", "values": [group.name]}
        if self.gpu_metrics_collected:
            install_cloudwatch_agent(name, profile.role, target, fleet=True, parent=self)
        elif args.gpu_metrics:
            pulumi.log.warn(gpu_agent_config.not_collected_warning(name, uncollected), resource=self)
        self.gpu_metrics_expected = not uncollected  # NVIDIA GPUs: from this agent or the team's own
        self.alarm_threshold_percent = alarm.threshold_percent if alarm is not None and not uncollected else None
        self.low_utilisation_alarm_arn = None
        if alarm is not None and not uncollected:
            self.low_utilisation_alarm_arn = low_utilisation_alarm(
                name, alarm, gpu_agent_config.FLEET_DIMENSION, group.name,
                args.alert_topic_arn if args.alert_topic_arn is not None else topic.arn, self).arn
        self.instance_types = types
        self.asg_name = group.name
        self.asg_arn = group.arn
        self.launch_template_id = template.id
        self.alerts_topic_arn = topic.arn
        self.capacity_reservation_id = capacity_reservation.id if capacity_reservation else None
        self.hourly_cost_range_usd = hourly_cost_range(specs, max_size, base, percent_above)
        reserved_price = catalog.on_demand_price(reservation["instance_type"]) if reservation else 0.0
        self.reserved_hourly_usd = round((reserved_price or 0.0) * (reservation["count"] if reservation else 0), 4)
        self.register_outputs({
            "asgName": group.name, "asgArn": group.arn, "launchTemplateId": template.id,
            "alertsTopicArn": topic.arn, "capacityReservationId": self.capacity_reservation_id,
            "hourlyCostRangeUsd": list(self.hourly_cost_range_usd) if self.hourly_cost_range_usd else None,
            "reservedHourlyUsd": self.reserved_hourly_usd, "gpuMetricsCollected": self.gpu_metrics_collected,
            "lowUtilisationAlarmArn": self.low_utilisation_alarm_arn, **declared_alert_usage(name, emails, topic)})

    # -- validation -------------------------------------------------------------------------------
    @staticmethod
    def _validate_reservation(baseline: Any, types: list[str], base: int) -> Optional[dict[str, Any]]:
        if baseline is None:
            return None
        if not isinstance(baseline, ReservedBaseline):
            raise ValueError(f"reserved_baseline: expected ReservedBaseline or None, got {baseline!r}")
        if base < 1:
            raise ValueError(f"reserved_baseline: needs an on-demand base to fill it, got on_demand_base_capacity "
                             f"{base}; expected at least 1")
        instance_type = types[0] if baseline.instance_type is None else \
            catalog.require_accelerated("reserved_baseline.instance_type", baseline.instance_type).instance_type
        if instance_type not in types:
            raise ValueError(f"reserved_baseline.instance_type: {instance_type!r} is not one of the fleet's "
                             f"instance_types {types!r}")
        count = base if baseline.count is None else \
            checks.whole_number("reserved_baseline.count", baseline.count, 1, base)
        zone = baseline.availability_zone
        if zone is not None:
            checks.text("reserved_baseline.availability_zone", zone, re.compile(r"^[a-z]{2}(-[a-z]+)+-\d[a-z]$"),
                            "an availability zone name such as 'us-east-1a'")
        if baseline.end_date is not None:
            checks.text("reserved_baseline.end_date", baseline.end_date,
                            re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$"),
                            "an RFC 3339 time such as '2027-01-31T23:59:59Z'")
        return {"instance_type": instance_type, "count": count, "availability_zone": zone,
                "end_date": baseline.end_date}

    @staticmethod
    def _validate_schedules(schedules: Any) -> list[ScheduledScaling]:
        if isinstance(schedules, (str, bytes)) or not isinstance(schedules, Sequence):
            raise ValueError(f"schedules: expected a list of ScheduledScaling, got {schedules!r}")
        seen: set[str] = set()
        for i, schedule in enumerate(schedules):
            where = f"schedules[{i}]"
            if not isinstance(schedule, ScheduledScaling):
                raise ValueError(f"{where}: expected ScheduledScaling, got {schedule!r}")
            checks.text(f"{where}.name", schedule.name, checks.LABEL_PATTERN,
                            "lowercase letters, digits and '-' (it names the scheduled action)")
            if schedule.name in seen:
                raise ValueError(f"{where}.name: {schedule.name!r} is used twice; expected unique names")
            seen.add(schedule.name)
            checks.text(f"{where}.recurrence", schedule.recurrence, _CRON,
                            "a 5-field cron expression such as '0 20 * * 1-5'")
            low = checks.whole_number(f"{where}.min_size", schedule.min_size, 0)
            high = checks.whole_number(f"{where}.max_size", schedule.max_size, low)
            if schedule.desired_capacity is not None:
                checks.whole_number(f"{where}.desired_capacity", schedule.desired_capacity, low, high)
            checks.text(f"{where}.time_zone", schedule.time_zone, re.compile(r"^[A-Za-z_]+(/[A-Za-z0-9_+-]+)*$"),
                            "an IANA time zone such as 'UTC' or 'Europe/Berlin'")
        return list(schedules)

    @staticmethod
    def _validate_target_tracking(tracking: Any) -> Optional[TargetTracking]:
        if tracking is None:
            return None
        if not isinstance(tracking, TargetTracking):
            raise ValueError(f"target_tracking: expected TargetTracking or None, got {tracking!r}")
        checks.one_of("target_tracking.metric", tracking.metric, ("gpu", "cpu"))
        checks.number_in_range("target_tracking.target_percent", tracking.target_percent, 0, 100, low_inclusive=False)
        checks.whole_number("target_tracking.warmup_seconds", tracking.warmup_seconds, 0, 3600)
        return tracking

    # -- children ---------------------------------------------------------------------------------
    def _default_subnets(self, invoke: pulumi.InvokeOptions) -> pulumi.Output[list[str]]:
        vpc = aws.ec2.get_vpc_output(default=True, opts=invoke)
        return aws.ec2.get_subnets_output(filters=[{"name": "vpc-id", "values": [vpc.id]}], opts=invoke).ids

    def _interruption_alerts(self, name: str, group: aws.autoscaling.Group, emails: list[str]) -> aws.sns.Topic:
        """EventBridge rules -> an encrypted topic whose key and policy let EventBridge publish."""
        topic = encrypted_alert_topic(name, ["events.amazonaws.com", "cloudwatch.amazonaws.com"], emails,
                                      f"aifinops GpuFleet {name}", self)
        child = pulumi.ResourceOptions(parent=self)
        patterns = {
            "spot-interruption": {"source": ["aws.ec2"], "detail-type": [SPOT_INTERRUPTION]},
            "rebalance": {"source": ["aws.ec2"], "detail-type": [REBALANCE_RECOMMENDATION]},
            "terminating": group.name.apply(lambda group_name: {
                "source": ["aws.autoscaling"], "detail-type": [TERMINATE_LIFECYCLE_ACTION],
                "detail": {"AutoScalingGroupName": [group_name]}}),
        }
        self.event_rule_names: dict[str, pulumi.Output[str]] = {}
        for role, pattern in patterns.items():
            rule = aws.cloudwatch.EventRule(
                f"{name}-{role}", description=f"aifinops GpuFleet {name}: {role} events to the alerts topic",
                event_pattern=pulumi.Output.from_input(pattern).apply(json.dumps), opts=child)
            aws.cloudwatch.EventTarget(f"{name}-{role}", rule=rule.name, arn=topic.arn, opts=child)
            self.event_rule_names[role] = rule.name
        return topic


def _lifecycle_policy(group_arn: str) -> str:
    """The watcher finds its group and completes the termination action, on this group only."""
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["autoscaling:CompleteLifecycleAction",
                                       "autoscaling:RecordLifecycleActionHeartbeat"], "Resource": group_arn},
        {"Effect": "Allow", "Action": "autoscaling:DescribeAutoScalingInstances", "Resource": "*"},
    ]})


def _target_tracking(tracking: TargetTracking, group_name: pulumi.Output[str]) -> dict[str, Any]:
    if tracking.metric == "cpu":
        return {"target_value": tracking.target_percent,
                "predefined_metric_specification": {"predefined_metric_type": "ASGAverageCPUUtilization"}}
    return {"target_value": tracking.target_percent, "customized_metric_specification": {
        **GPU_METRIC, "statistic": "Average",
        "metric_dimensions": [{"name": "AutoScalingGroupName", "value": group_name}]}}
