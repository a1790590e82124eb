"""What each GPU instance and fleet did, from EC2 and the CloudWatch agent's series, for right-sizing.

An instance launched by an auto scaling group (tag aws:autoscaling:groupName) belongs to its fleet and is
read through the fleet's AutoScalingGroupName series; every other accelerated instance through its
InstanceId series. Both are the agent's `aggregation_dimensions` (aifinops.core.gpu_agent_config).
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any, Mapping, Sequence

from aifinops.core import catalog
from aifinops.core import gpu_agent_config as agent
from aifinops.core.rightsizing import INTERRUPTIBLE_TAG, GpuUsage

from .gpu_metrics import metric_values

FLEET_TAG = "aws:autoscaling:groupName"
ACTIVE_STATES = ("pending", "running")


def accelerated_instances(ec2: Any, tags: Mapping[str, Sequence[str]]) -> list[dict[str, Any]]:
    """Running accelerated instances carrying every given tag (key -> accepted values; none: all)."""
    filters = [{"Name": "instance-state-name", "Values": list(ACTIVE_STATES)}]
    filters += [{"Name": f"tag:{key}", "Values": list(values)} for key, values in tags.items()]
    pages = ec2.get_paginator("describe_instances").paginate(Filters=filters)
    return [i for page in pages for r in page["Reservations"] for i in r["Instances"]
            if catalog.is_accelerated(i["InstanceType"])]


def _tags(instance: Mapping[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in instance.get("Tags", [])}


def collect_usage(clients: Any, tags: Mapping[str, Sequence[str]], end: datetime, days: int,
                  period_seconds: int = 3600) -> list[GpuUsage]:
    """One GpuUsage per standalone instance and per fleet, over the `days` before `end`."""
    start = end - timedelta(days=days)
    expected = int(days * 86400 // period_seconds)
    instances = accelerated_instances(clients.client("ec2"), tags)
    standalone = [i for i in instances if FLEET_TAG not in _tags(i)]
    fleets: dict[str, list[dict[str, Any]]] = {}
    for instance in instances:
        group = _tags(instance).get(FLEET_TAG)
        if group is not None:
            fleets.setdefault(group, []).append(instance)

    cloudwatch = clients.client("cloudwatch")

    def read(dimension: str, values: list[str]) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
        utilisation = metric_values(cloudwatch, agent.NAMESPACE, agent.UTILIZATION_METRIC, dimension, values,
                                    "Average", start, end, period_seconds)
        memory = metric_values(cloudwatch, agent.NAMESPACE, agent.MEMORY_USED_METRIC, dimension, values,
                               "Maximum", start, end, period_seconds)
        return utilisation, memory

    usages: list[GpuUsage] = []
    ids = [i["InstanceId"] for i in standalone]
    utilisation, memory = read(agent.INSTANCE_DIMENSION, ids)
    for instance in standalone:
        instance_tags = _tags(instance)
        usages.append(GpuUsage(
            target=instance["InstanceId"], kind="instance", name=instance_tags.get("Name", ""),
            instance_type=instance["InstanceType"], lifecycles=[_lifecycle(instance)],
            utilisation=utilisation[instance["InstanceId"]], memory_used_mib=memory[instance["InstanceId"]],
            expected_periods=expected, interruptible=instance_tags.get(INTERRUPTIBLE_TAG) == "true"))
    utilisation, memory = read(agent.FLEET_DIMENSION, sorted(fleets))
    for group, members in sorted(fleets.items()):
        # A mixed fleet is judged by its commonest type; its series covers all its instances.
        instance_type = Counter(i["InstanceType"] for i in members).most_common(1)[0][0]
        usages.append(GpuUsage(
            target=group, kind="fleet", name=group, instance_type=instance_type,
            lifecycles=[_lifecycle(i) for i in members], utilisation=utilisation[group], memory_used_mib=memory[group],
            expected_periods=expected,
            interruptible=all(_tags(i).get(INTERRUPTIBLE_TAG) == "true" for i in members)))
    return usages


def _lifecycle(instance: Mapping[str, Any]) -> str:
    return "spot" if instance.get("InstanceLifecycle") == "spot" else "on-demand"
