"""GpuFleet: launch-template reuse of GpuInstance defaults, the spot/reserved mix, interruption wiring,
scaling, the cost range, and every bad argument."""
from __future__ import annotations

import base64
import email
import json

import pytest

from aifinops.components.checkpoint_watcher import WATCHER_SCRIPT
from aifinops.components.gpu_fleet import (
    GpuFleet,
    GpuFleetArgs,
    ReservedBaseline,
    ScheduledScaling,
    TargetTracking,
    office_hours,
)
from aifinops.components.gpu_instance import SpotOptions, hourly_price, metadata_options
from aifinops.core import catalog
from tests.conftest import tagged_config, warnings_of


# This module reads what components render from ids and ARNs (IAM and resource policies, references),
# so the `preview` fixture gives AWS-shaped values here, as `aifinops preview --mock-outputs` does.
PREVIEW_MOCK_OUTPUTS = True


PROGRAM = """
import pulumi
from aifinops.components.gpu_fleet import *
from aifinops.components.gpu_instance import GpuInstance, GpuInstanceArgs
from aifinops.components.tagging import register_cost_tags
register_cost_tags(pulumi.Config().require_object("costTags"))
fleet = GpuFleet("fleet", GpuFleetArgs({args}))
pulumi.export("range", fleet.hourly_cost_range_usd)
pulumi.export("topic", fleet.alerts_topic_arn)
"""
TYPES = "instance_types=['g5.xlarge', 'g6.xlarge']"
ASG = "aws:autoscaling/group:Group"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"


def camel(options: dict) -> dict:
    return {"".join(p if i == 0 else p.title() for i, p in enumerate(k.split("_"))): v for k, v in options.items()}


def build(preview, args: str = TYPES, program: str = PROGRAM):
    graph = preview(program.format(args=args), tagged_config())
    return graph, graph.of_type(ASG)[0].inputs, graph.of_type(LAUNCH_TEMPLATE)[0].inputs


def user_data_script(template_inputs: dict) -> str:
    return base64.b64decode(template_inputs["userData"]).decode()


def test_defaults_spot_above_a_zero_base_with_rebalancing_refresh_and_a_termination_hook(preview):
    graph, asg, _ = build(preview)
    distribution = asg["mixedInstancesPolicy"]["instancesDistribution"]
    assert distribution == {"onDemandBaseCapacity": 0, "onDemandPercentageAboveBaseCapacity": 0,
                            "onDemandAllocationStrategy": "lowest-price",
                            "spotAllocationStrategy": "price-capacity-optimized"}  # no spotMaxPrice: AWS caps at on-demand
    overrides = asg["mixedInstancesPolicy"]["launchTemplate"]["overrides"]
    assert [o["instanceType"] for o in overrides] == ["g5.xlarge", "g6.xlarge"]
    template = graph.of_type(LAUNCH_TEMPLATE)[0]
    assert asg["mixedInstancesPolicy"]["launchTemplate"]["launchTemplateSpecification"]["launchTemplateId"] == template.id
    assert (asg["minSize"], asg["maxSize"], asg["desiredCapacity"]) == (0, 2, 0)
    assert asg["capacityRebalance"] is True
    assert asg["instanceRefresh"]["strategy"] == "Rolling"
    assert asg["instanceRefresh"]["preferences"]["minHealthyPercentage"] == 90
    assert asg["initialLifecycleHooks"] == [{
        "name": "fleet-checkpoint", "lifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING",
        "heartbeatTimeout": 600, "defaultResult": "CONTINUE",
        "notificationMetadata": json.dumps({"fleet": "fleet", "checkpointPrefix": "checkpoints/"})}]
    assert len(asg["vpcZoneIdentifiers"]) == 3 and all(s.startswith("subnet-") for s in asg["vpcZoneIdentifiers"])
    assert {"key": "CostCenter", "value": "ml", "propagateAtLaunch": True} in asg["tags"]
    assert not graph.of_type("aws:ec2/capacityReservation:CapacityReservation")
    assert not graph.of_type("aws:autoscaling/schedule:Schedule") and not graph.of_type("aws:autoscaling/policy:Policy")
    component = graph.of_type("aifinops:compute:GpuFleet")[0]
    assert component.outputs["reservedHourlyUsd"] == 0


def test_launch_template_reuses_the_gpu_instance_defaults(preview):
    program = PROGRAM + "GpuInstance('single', GpuInstanceArgs(instance_type='g5.xlarge'))\n"
    graph, _, template = build(preview, program=program)
    instance = graph.of_type("aws:ec2/instance:Instance")[0].inputs
    assert template["metadataOptions"] == camel(metadata_options()) == instance["metadataOptions"]
    assert template["imageId"] == instance["ami"]  # the same Deep Learning AMI lookup
    ebs = template["blockDeviceMappings"][0]["ebs"]
    assert template["blockDeviceMappings"][0]["deviceName"] == "/dev/sda1"
    assert ebs == {"volumeType": "gp3", "volumeSize": 200, "encrypted": "true", "deleteOnTermination": "true"}
    assert {s["resourceType"] for s in template["tagSpecifications"]} == {"instance", "volume"}
    for spec in template["tagSpecifications"]:
        assert spec["tags"]["Name"] == "fleet" and spec["tags"]["CostCenter"] == "ml"
    assert "instanceMarketOptions" not in template  # the group decides spot or on-demand
    profiles = graph.of_type("aws:iam/instanceProfile:InstanceProfile")
    fleet_profile = next(p for p in profiles if p.name == "fleet-profile")
    assert template["iamInstanceProfile"] == {"arn": fleet_profile.outputs["arn"]}
    attachments = {a.name: a.inputs["policyArn"] for a in graph.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")}
    assert attachments["fleet-ssm"] == attachments["single-ssm"]


def test_reserved_baseline_creates_a_targeted_reservation_the_base_launches_into(preview):
    graph, asg, _ = build(preview, "instance_types=['g5.xlarge', 'g6.xlarge'], min_size=2, max_size=6, "
                                   "on_demand_base_capacity=2, reserved_baseline=ReservedBaseline(instance_type='g6.xlarge')")
    (reservation,) = graph.of_type("aws:ec2/capacityReservation:CapacityReservation")
    assert reservation.inputs["instanceType"] == "g6.xlarge" and reservation.inputs["instanceCount"] == 2
    assert reservation.inputs["availabilityZone"] == "us-east-1a"  # the region's first zone
    assert reservation.inputs["instanceMatchCriteria"] == "targeted"
    assert reservation.inputs["endDateType"] == "unlimited"
    assert reservation.inputs["tags"]["CostCenter"] == "ml"
    assert asg["capacityReservationSpecification"] == {
        "capacityReservationPreference": "capacity-reservations-first",
        "capacityReservationTarget": {"capacityReservationIds": [reservation.id]}}
    assert asg["availabilityZoneDistribution"] == {"capacityDistributionStrategy": "reservations-then-balanced"}
    distribution = asg["mixedInstancesPolicy"]["instancesDistribution"]
    assert distribution["onDemandBaseCapacity"] == 2 and distribution["onDemandAllocationStrategy"] == "prioritized"
    # The reserved type is moved first so the prioritized on-demand base uses it.
    assert [o["instanceType"] for o in asg["mixedInstancesPolicy"]["launchTemplate"]["overrides"]] == \
        ["g6.xlarge", "g5.xlarge"]
    component = graph.of_type("aifinops:compute:GpuFleet")[0]
    assert component.outputs["reservedHourlyUsd"] == round(2 * catalog.on_demand_price("g6.xlarge"), 4)
    assert component.outputs["capacityReservationId"] == reservation.id


def test_a_reservation_that_can_stand_empty_is_warned_about(preview):
    graph, _, _ = build(preview, "instance_types=['g5.xlarge', 'g6.xlarge'], on_demand_base_capacity=1, "
                                 "reserved_baseline=ReservedBaseline(end_date='2027-01-31T00:00:00Z')")
    (warning,) = warnings_of(graph)
    assert "below the reserved baseline of 1" in warning and "billed at the on-demand rate" in warning
    kept_busy, _, _ = build(preview, "instance_types=['g5.xlarge', 'g6.xlarge'], min_size=1, "
                                     "on_demand_base_capacity=1, reserved_baseline=ReservedBaseline()")
    assert warnings_of(kept_busy) == []


def test_hourly_cost_range_runs_from_the_cheapest_spot_mix_to_all_on_demand(preview):
    graph, asg, _ = build(preview, "instance_types=['g5.xlarge', 'g6e.xlarge'], max_size=4, on_demand_base_capacity=1, "
                                   "on_demand_percentage_above_base=50")
    specs = [catalog.lookup("g5.xlarge"), catalog.lookup("g6e.xlarge")]
    on_demand = [hourly_price(s, None) for s in specs]
    spot = [hourly_price(s, SpotOptions()) for s in specs]
    # base 1 + half of the 3 above it on demand (2.5 instances), the rest on spot
    expected = [round(2.5 * min(on_demand) + 1.5 * min(spot), 4), round(4 * max(on_demand), 4)]
    assert graph.stack_outputs["range"] == expected
    assert expected[0] < expected[1]
    assert asg["mixedInstancesPolicy"]["instancesDistribution"]["onDemandPercentageAboveBaseCapacity"] == 50


def test_all_spot_fleet_range_starts_at_the_typical_spot_price(preview):
    graph, _, _ = build(preview, "instance_types=['g5.xlarge', 'g6.xlarge'], max_size=3")
    spot = min(hourly_price(catalog.lookup(t), SpotOptions()) for t in ("g5.xlarge", "g6.xlarge"))
    assert graph.stack_outputs["range"][0] == round(3 * spot, 4)


def test_spot_max_price_is_passed_as_the_string_aws_expects(preview):
    _, asg, _ = build(preview, "instance_types=['g5.xlarge', 'g6.xlarge'], spot_max_price_usd=0.5")
    assert asg["mixedInstancesPolicy"]["instancesDistribution"]["spotMaxPrice"] == "0.5000"


def test_interruption_and_rebalance_events_reach_an_encrypted_topic_eventbridge_may_use(preview):
    graph, asg, _ = build(preview, TYPES + ", alert_emails=['oncall@example.com']")
    topic = graph.of_type("aws:sns/topic:Topic")[0]
    key = graph.of_type("aws:kms/key:Key")[0]
    assert topic.inputs["kmsMasterKeyId"] == key.outputs["arn"]
    assert key.inputs["enableKeyRotation"] is True
    key_policy = json.loads(key.inputs["policy"])
    # EventBridge sends the events; CloudWatch sends the low-utilisation alarm.
    events = next(s for s in key_policy["Statement"]
                  if s["Principal"] == {"Service": ["events.amazonaws.com", "cloudwatch.amazonaws.com"]})
    assert set(events["Action"]) == {"kms:GenerateDataKey*", "kms:Decrypt"}
    assert any(s["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"} for s in key_policy["Statement"])

    rules = {r.name: r for r in graph.of_type("aws:cloudwatch/eventRule:EventRule")}
    patterns = {name: json.loads(rule.inputs["eventPattern"]) for name, rule in rules.items()}
    assert patterns["fleet-spot-interruption"] == {"source": ["aws.ec2"],
                                                   "detail-type": ["EC2 Spot Instance Interruption Warning"]}
    assert patterns["fleet-rebalance"] == {"source": ["aws.ec2"],
                                           "detail-type": ["EC2 Instance Rebalance Recommendation"]}
    group_name = graph.of_type(ASG)[0].outputs["name"]
    assert patterns["fleet-terminating"]["detail"] == {"AutoScalingGroupName": [group_name]}
    targets = graph.of_type("aws:cloudwatch/eventTarget:EventTarget")
    assert {t.inputs["rule"] for t in targets} == {r.outputs["name"] for r in rules.values()}
    assert {t.inputs["arn"] for t in targets} == {topic.outputs["arn"]}

    topic_policy = json.loads(graph.of_type("aws:sns/topicPolicy:TopicPolicy")[0].inputs["policy"])
    publish = next(s for s in topic_policy["Statement"] if s["Effect"] == "Allow")
    assert publish["Principal"] == {"Service": ["events.amazonaws.com", "cloudwatch.amazonaws.com"]}
    assert publish["Action"] == "SNS:Publish"
    assert publish["Resource"] == topic.outputs["arn"]
    assert publish["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    (subscription,) = graph.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert subscription.inputs["endpoint"] == "oncall@example.com" and subscription.inputs["protocol"] == "email"
    assert graph.stack_outputs["topic"] == topic.outputs["arn"]


def test_termination_hook_gives_the_watcher_time_to_save_to_the_checkpoint_prefix(preview):
    graph, asg, template = build(preview, TYPES + ", checkpoint_bucket_arn='arn:aws:s3:::team-ckpt', "
                                                  "checkpoint_prefix='runs/llm/', termination_grace_seconds=900, "
                                                  "checkpoint_command='systemctl kill -s USR1 train'")
    hook = asg["initialLifecycleHooks"][0]
    assert hook["heartbeatTimeout"] == 900
    script = user_data_script(template)
    assert f"AIFINOPS_LIFECYCLE_HOOK={hook['name']}" in script
    assert "AIFINOPS_CHECKPOINT_URI=s3://team-ckpt/runs/llm/" in script
    encoded_watcher = base64.b64encode(WATCHER_SCRIPT.read_bytes()).decode()
    assert f"echo {encoded_watcher} | base64 -d" in script  # the tested watcher, byte for byte
    assert base64.b64encode(b"systemctl kill -s USR1 train").decode() in script
    assert "systemctl enable --now aifinops-checkpoint-watcher.service" in script

    policies = {p.name: json.loads(p.inputs["policy"]) for p in graph.of_type("aws:iam/rolePolicy:RolePolicy")}
    lifecycle = policies["fleet-lifecycle"]["Statement"][0]
    assert "autoscaling:CompleteLifecycleAction" in lifecycle["Action"]
    assert lifecycle["Resource"] == graph.of_type(ASG)[0].outputs["arn"]
    s3 = policies["fleet-checkpoints"]["Statement"]
    assert {s["Resource"] for s in s3} == {"arn:aws:s3:::team-ckpt", "arn:aws:s3:::team-ckpt/runs/llm/*"}


def test_user_data_of_its_own_runs_after_the_watcher_install(preview):
    _, _, template = build(preview, TYPES + ", user_data='#cloud-config\\npackages: [htop]\\n'")
    message = email.message_from_string(user_data_script(template))
    parts = [(p.get_content_type(), p.get_payload()) for p in message.get_payload()]
    assert [kind for kind, _ in parts] == ["text/x-shellscript", "text/cloud-config"]
    assert "aifinops-checkpoint-watcher" in parts[0][1] and "packages: [htop]" in parts[1][1]


def test_schedules_and_target_tracking_scale_the_group(preview):
    graph, asg, _ = build(preview, TYPES + ", min_size=1, max_size=4, "
                                           "schedules=office_hours(1, 4, time_zone='Europe/Berlin'), "
                                           "target_tracking=TargetTracking(target_percent=60)")
    schedules = {s.inputs["scheduledActionName"]: s.inputs for s in graph.of_type("aws:autoscaling/schedule:Schedule")}
    group_name = graph.of_type(ASG)[0].outputs["name"]
    assert schedules["office-hours-stop"]["recurrence"] == "0 20 * * 1-5"
    assert (schedules["office-hours-stop"]["minSize"], schedules["office-hours-stop"]["maxSize"],
            schedules["office-hours-stop"]["desiredCapacity"]) == (0, 0, 0)
    assert (schedules["office-hours-start"]["minSize"], schedules["office-hours-start"]["maxSize"]) == (1, 4)
    assert {s["timeZone"] for s in schedules.values()} == {"Europe/Berlin"}
    assert {s["autoscalingGroupName"] for s in schedules.values()} == {group_name}
    (policy,) = graph.of_type("aws:autoscaling/policy:Policy")
    tracking = policy.inputs["targetTrackingConfiguration"]
    assert policy.inputs["policyType"] == "TargetTrackingScaling" and tracking["targetValue"] == 60
    metric = tracking["customizedMetricSpecification"]
    assert (metric["namespace"], metric["metricName"]) == ("CWAgent", "nvidia_smi_utilization_gpu")
    assert metric["metricDimensions"] == [{"name": "AutoScalingGroupName", "value": group_name}]


def test_cpu_target_tracking_uses_the_predefined_metric(preview):
    graph, _, _ = build(preview, TYPES + ", max_size=3, target_tracking=TargetTracking(metric='cpu')")
    tracking = graph.of_type("aws:autoscaling/policy:Policy")[0].inputs["targetTrackingConfiguration"]
    assert tracking["predefinedMetricSpecification"] == {"predefinedMetricType": "ASGAverageCPUUtilization"}


def test_an_all_on_demand_fleet_may_use_a_single_type(preview):
    _, asg, _ = build(preview, "instance_types=['p5.48xlarge'], max_size=2, on_demand_base_capacity=2")
    assert asg["mixedInstancesPolicy"]["instancesDistribution"]["onDemandBaseCapacity"] == 2


G5 = dict(instance_types=["g5.xlarge", "g6.xlarge"])


@pytest.mark.parametrize("kwargs, message", [
    (dict(instance_types="g5.xlarge"), "instance_types: expected a list of non-empty strings"),
    (dict(instance_types=[]), "instance_types: expected a list of non-empty strings with at least 1"),
    (dict(instance_types=["g5.xlarge", "m5.large"]), r"instance_types\[1\]: 'm5.large' is not an accelerated"),
    (dict(instance_types=["g5.xlarge", "g5.xlarge"]), "instance_types: expected no duplicates"),
    (dict(instance_types=["g5.xlarge"]), "instance_types: spot capacity needs at least two instance types"),
    (dict(instance_types=["g5.xlarge", "inf2.xlarge"]), "need different Deep Learning AMIs"),
    (dict(G5, min_size=-1), "min_size: expected a whole number of at least 0, got -1"),
    (dict(G5, min_size=3, max_size=2), "max_size: expected a whole number of at least 3, got 2"),
    (dict(G5, max_size=0), "max_size: expected a whole number of at least 1, got 0"),
    (dict(G5, desired_capacity=5), "desired_capacity: expected a whole number from 0 to 2, got 5"),
    (dict(G5, on_demand_base_capacity=3), r"on_demand_base_capacity: 3 is more than max_size \(2\)"),
    (dict(G5, on_demand_percentage_above_base=101), "on_demand_percentage_above_base: expected a whole number from 0 to 100"),
    (dict(G5, spot_max_price_usd=0.9), r"spot_max_price_usd: 0.9 USD/h is above the on-demand price of g6.xlarge \(0.8048"),
    (dict(G5, spot_max_price_usd=0), r"spot_max_price_usd: expected a number in \(0, inf\]"),
    (dict(G5, reserved_baseline=ReservedBaseline()), "reserved_baseline: needs an on-demand base to fill it"),
    (dict(G5, on_demand_base_capacity=1, reserved_baseline={"count": 1}), "reserved_baseline: expected ReservedBaseline"),
    (dict(G5, on_demand_base_capacity=1, reserved_baseline=ReservedBaseline(instance_type="g6e.xlarge")),
     "reserved_baseline.instance_type: 'g6e.xlarge' is not one of the fleet's instance_types"),
    (dict(G5, on_demand_base_capacity=1, reserved_baseline=ReservedBaseline(count=2)),
     "reserved_baseline.count: expected a whole number from 1 to 1, got 2"),
    (dict(G5, on_demand_base_capacity=1, reserved_baseline=ReservedBaseline(availability_zone="east")),
     "reserved_baseline.availability_zone: expected an availability zone name"),
    (dict(G5, on_demand_base_capacity=1, reserved_baseline=ReservedBaseline(end_date="next year")),
     "reserved_baseline.end_date: expected an RFC 3339 time"),
    (dict(G5, root_volume_gb=2), "root_volume_gb: expected a whole number from 8 to 16384 GB, got 2"),
    (dict(G5, root_device_name="sda1"), "root_device_name: expected a device name"),
    (dict(G5, checkpoint_prefix="ckpt"), "checkpoint_prefix: expected a key prefix ending in '/'"),
    (dict(G5, checkpoint_prefix="my runs/"), "checkpoint_prefix: expected letters, digits"),
    (dict(G5, checkpoint_bucket_arn="team-ckpt"), "checkpoint_bucket_arn: expected an S3 bucket ARN"),
    (dict(G5, checkpoint_local_dir="ckpt"), "checkpoint_local_dir: expected an absolute path"),
    (dict(G5, checkpoint_command=""), "checkpoint_command: expected a non-empty string"),
    (dict(G5, checkpoint_command_timeout_seconds=0), "checkpoint_command_timeout_seconds: expected a whole number of at least 1"),
    (dict(G5, termination_grace_seconds=10), "termination_grace_seconds: expected a whole number from 30 to 7200"),
    (dict(G5, termination_grace_seconds=60, checkpoint_command_timeout_seconds=60),
     "checkpoint_command_timeout_seconds: 60 leaves no time to upload"),
    (dict(G5, capacity_rebalance="yes"), "capacity_rebalance: expected true or false"),
    (dict(G5, detailed_monitoring=None), "detailed_monitoring: expected true or false"),
    (dict(G5, instance_refresh_min_healthy_percent=120), "instance_refresh_min_healthy_percent: expected a whole number from 0 to 100"),
    (dict(G5, schedules="nights"), "schedules: expected a list of ScheduledScaling"),
    (dict(G5, schedules=[{"name": "x"}]), r"schedules\[0\]: expected ScheduledScaling"),
    (dict(G5, schedules=[ScheduledScaling("Night Stop", "0 20 * * *", 0, 0)]), r"schedules\[0\].name: expected lowercase"),
    (dict(G5, schedules=[ScheduledScaling("a", "0 20 * * *", 0, 0), ScheduledScaling("a", "0 8 * * *", 1, 2)]),
     r"schedules\[1\].name: 'a' is used twice"),
    (dict(G5, schedules=[ScheduledScaling("a", "every night", 0, 0)]), r"schedules\[0\].recurrence: expected a 5-field cron"),
    (dict(G5, schedules=[ScheduledScaling("a", "0 8 * * *", 2, 1)]), r"schedules\[0\].max_size: expected a whole number of at least 2"),
    (dict(G5, schedules=[ScheduledScaling("a", "0 8 * * *", 0, 2, 3)]), r"schedules\[0\].desired_capacity: expected a whole number from 0 to 2"),
    (dict(G5, schedules=[ScheduledScaling("a", "0 8 * * *", 0, 2, time_zone="Mars Time")]), r"schedules\[0\].time_zone"),
    (dict(G5, target_tracking="gpu"), "target_tracking: expected TargetTracking"),
    (dict(G5, target_tracking=TargetTracking(metric="memory")), "target_tracking.metric: expected one of 'gpu', 'cpu'"),
    (dict(G5, target_tracking=TargetTracking(target_percent=0)), r"target_tracking.target_percent: expected a number in \(0, 100\]"),
    (dict(G5, target_tracking=TargetTracking(warmup_seconds=-5)), "target_tracking.warmup_seconds: expected a whole number from 0 to 3600"),
    (dict(G5, alert_emails=["ops"]), r"alert_emails\[0\]: expected an email address such as 'finops@example.com', got 'ops'"),
    (dict(G5, user_data=""), "user_data: expected a non-empty string"),
    (dict(G5, tags={"Team": 1}), "tags: expected a mapping of string tag keys"),
])
def test_bad_arguments_fail_before_anything_is_registered(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GpuFleet("bad", GpuFleetArgs(**kwargs))


@pytest.mark.parametrize("name", ["my fleet", "f" * 39])
def test_the_name_must_fit_the_hook_and_rule_names(name):
    with pytest.raises(ValueError, match="name: expected 1 to 38 letters, digits"):
        GpuFleet(name, GpuFleetArgs(**G5))


def test_args_must_be_gpu_fleet_args():
    with pytest.raises(ValueError, match="args: expected GpuFleetArgs, got dict"):
        GpuFleet("bad", {"instance_types": ["g5.xlarge"]})  # type: ignore[arg-type]


def test_office_hours_stops_on_weekday_evenings_until_the_next_morning():
    start, stop = office_hours(1, 3)
    assert (start.recurrence, start.min_size, start.max_size) == ("0 8 * * 1-5", 1, 3)
    assert (stop.recurrence, stop.min_size, stop.max_size, stop.desired_capacity) == ("0 20 * * 1-5", 0, 0, 0)
