"""The DDoS cost response: while Shield Advanced reports an attack, scale non-essential services down.

A DDoS on an autoscaled service is a bill: every scaled-out GPU instance serves the flood. When a
`DDoSDetected` alarm (namespace AWS/DDoSProtection) goes to ALARM, this handler scales what carries the
non-essential tag (default `aifinops:non-essential=true`) to its minimum:

- auto scaling groups: desired capacity and max size to the group's min size (the max too, or target
  tracking would scale straight back out on the attack's load);
- SageMaker endpoint variants: desired instance count to the variant's minimum (its Application Auto
  Scaling target's MinCapacity, else 1), and the scalable target's MaxCapacity to that minimum.

Before changing a resource it writes what it had into the tag `aifinops:ddos-previous-capacity`; when the
alarm returns to OK (and, when alarm names are configured, none of them is still in ALARM) it puts that
capacity back and removes the tag. The tag makes it idempotent: a resource that carries it is already
scaled down, one that does not has nothing to restore. It never deletes a resource and never touches one
without the non-essential tag. Dry run unless told.

Kubernetes deployments are reached through a hook, not directly (the Lambda has no cluster credentials):
with `kubernetes_event_bus` set, each ALARM/OK also puts one EventBridge event (source
`aifinops.ddos-cost-response`, detail-type `aifinops DDoS scale-down` or `aifinops DDoS restore`, detail
{alarmName, state, resourceArns, dryRun}) for a controller in the cluster (KEDA, Argo Events, a small
operator) to scale its own non-essential deployments.
"""
from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Optional

from botocore.exceptions import BotoCoreError, ClientError

from aifinops.core.automation_settings import (
    DDOS_DETECTED_METRIC,
    DDOS_NAMESPACE,
    PREVIOUS_CAPACITY_TAG,
    SOURCE_ATTRIBUTE,
    DdosResponseSettings,
    from_env,
)

from .action_log import LOGGER, ActionLog, publish_summary
from .aws_clients import AwsClients
from .ec2_instances import describe_error, tag_dict

JOB = "ddos-cost-response"
EVENT_SOURCE = "aifinops.ddos-cost-response"
SCALE_DOWN_EVENT = "aifinops DDoS scale-down"
RESTORE_EVENT = "aifinops DDoS restore"
VARIANT_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
GROUP_KEY = "group"  # the one entry of an auto scaling group's capacity record
NO_TARGET = "-"  # a variant without an Application Auto Scaling target has no max to restore
# "name=desired/max" entries separated by spaces: characters both Auto Scaling and SageMaker tag values allow.
_CAPACITY_ENTRY = re.compile(r"^(?P<name>[A-Za-z0-9-]+)=(?P<desired>\d+)/(?P<max>\d+|-)$")


@dataclass(frozen=True)
class DdosAlarm:
    name: str
    state: str  # ALARM, OK, INSUFFICIENT_DATA
    resource_arn: Optional[str]  # the alarm's ResourceArn dimension
    topic_arn: str
    message_id: str


@dataclass(frozen=True)
class Capacity:
    desired: int
    maximum: Optional[int]


def encode_capacity(entries: Mapping[str, Capacity]) -> str:
    return " ".join(f"{name}={c.desired}/{NO_TARGET if c.maximum is None else c.maximum}"
                    for name, c in entries.items())


def decode_capacity(value: str) -> dict[str, Capacity]:
    """The tag's value read back; ValueError when it was not written by this handler."""
    entries = {}
    for part in value.split():
        match = _CAPACITY_ENTRY.match(part)
        if not match:
            raise ValueError(f"{PREVIOUS_CAPACITY_TAG}: expected 'name=desired/max' entries, got {value!r}")
        maximum = None if match["max"] == NO_TARGET else int(match["max"])
        entries[match["name"]] = Capacity(int(match["desired"]), maximum)
    if not entries:
        raise ValueError(f"{PREVIOUS_CAPACITY_TAG}: expected 'name=desired/max' entries, got {value!r}")
    return entries


def ddos_alarms(event: Mapping[str, Any]) -> tuple[list[DdosAlarm], list[str]]:
    """The DDoSDetected alarm state changes in an SNS event, and why anything else was ignored."""
    alarms, ignored = [], []
    records = event.get("Records")
    if not isinstance(records, list):
        return [], ["no SNS Records in the event"]
    for record in records:
        sns = record.get("Sns") or {}
        if SOURCE_ATTRIBUTE in (sns.get("MessageAttributes") or {}):
            ignored.append(f"{sns.get('MessageId')}: our own summary")
            continue
        try:
            message = json.loads(sns.get("Message") or "")
        except json.JSONDecodeError:
            ignored.append(f"{sns.get('MessageId')}: not a CloudWatch alarm notification (not JSON)")
            continue
        trigger = message.get("Trigger") if isinstance(message, dict) else None
        if not isinstance(trigger, dict) or not message.get("AlarmName") or not message.get("NewStateValue"):
            ignored.append(f"{sns.get('MessageId')}: not a CloudWatch alarm notification")
            continue
        if (trigger.get("Namespace"), trigger.get("MetricName")) != (DDOS_NAMESPACE, DDOS_DETECTED_METRIC):
            ignored.append(f"{sns.get('MessageId')}: alarm {message['AlarmName']!r} is on "
                           f"{trigger.get('Namespace')} {trigger.get('MetricName')}, not {DDOS_NAMESPACE} "
                           f"{DDOS_DETECTED_METRIC}")
            continue
        dimensions = {d.get("name") or d.get("Name"): d.get("value") or d.get("Value")
                      for d in trigger.get("Dimensions") or []}
        alarms.append(DdosAlarm(message["AlarmName"], message["NewStateValue"], dimensions.get("ResourceArn"),
                                sns.get("TopicArn", ""), sns.get("MessageId", "")))
    return alarms, ignored


def respond(clients: AwsClients, settings: DdosResponseSettings, alarm: DdosAlarm) -> ActionLog:
    """Scale down on ALARM, restore on OK; each resource one log entry."""
    report = ActionLog(JOB, settings.dry_run)
    alarm_arn = f"arn:{clients.partition()}:cloudwatch:{clients.region_name}:{clients.account_id()}:alarm:{alarm.name}"
    if settings.alarm_names and alarm.name not in settings.alarm_names:
        report.record(alarm_arn, "respond", "skipped", f"alarm {alarm.name!r} is not one this response acts on")
        return report
    if alarm.state == "ALARM":
        scaling = _scale_down
    elif alarm.state == "OK":
        still = _alarms_still_in_alarm(clients, settings, alarm, alarm_arn, report)
        if still is None:
            return report
        if still:
            report.record(alarm_arn, "restore", "skipped", f"{', '.join(still)} still in ALARM: the attack goes on")
            return report
        scaling = _restore
    else:
        report.record(alarm_arn, "respond", "skipped", f"alarm state {alarm.state}: neither an attack nor its end")
        return report
    reason = f"{alarm.name} is {alarm.state}" + (f" for {alarm.resource_arn}" if alarm.resource_arn else "")
    # One kind failing to list (permissions, an outage) must not keep the response from the other.
    if settings.scale_auto_scaling_groups:
        try:
            for group in _non_essential_groups(clients, settings):
                scaling(report, reason, GroupScaler(clients, group))
        except (ClientError, BotoCoreError) as error:
            report.record(alarm_arn, "list-auto-scaling-groups", "failed", describe_error(error))
    if settings.scale_sagemaker_endpoints:
        try:
            for endpoint in _non_essential_endpoints(clients, settings, report):
                try:
                    scaler = EndpointScaler(clients, endpoint)
                except (ClientError, BotoCoreError) as error:
                    report.record(endpoint["EndpointArn"], "describe", "failed", describe_error(error))
                    continue
                scaling(report, reason, scaler)
        except (ClientError, BotoCoreError) as error:
            report.record(alarm_arn, "list-endpoints", "failed", describe_error(error))
    if settings.kubernetes_event_bus:
        _notify_kubernetes(clients, settings, alarm, report)
    return report


# -- what is scaled ---------------------------------------------------------------------------------------
class GroupScaler:
    """An auto scaling group: one capacity entry, max size capped at min size."""

    def __init__(self, clients: AwsClients, group: Mapping[str, Any]) -> None:
        self.autoscaling = clients.client("autoscaling")
        self.name = group["AutoScalingGroupName"]
        self.arn = group["AutoScalingGroupARN"]
        self.group = group
        self.tags = tag_dict(group.get("Tags"))

    def current(self) -> dict[str, Capacity]:
        return {GROUP_KEY: Capacity(int(self.group["DesiredCapacity"]), int(self.group["MaxSize"]))}

    def minimum(self) -> dict[str, int]:
        return {GROUP_KEY: int(self.group["MinSize"])}

    def tag(self, value: str) -> None:
        self.autoscaling.create_or_update_tags(Tags=[{
            "ResourceId": self.name, "ResourceType": "auto-scaling-group", "Key": PREVIOUS_CAPACITY_TAG,
            "Value": value, "PropagateAtLaunch": False}])

    def untag(self) -> None:
        self.autoscaling.delete_tags(Tags=[{"ResourceId": self.name, "ResourceType": "auto-scaling-group",
                                            "Key": PREVIOUS_CAPACITY_TAG}])

    def apply(self, capacity: Mapping[str, Capacity]) -> None:
        entry = capacity[GROUP_KEY]
        self.autoscaling.update_auto_scaling_group(AutoScalingGroupName=self.name, MaxSize=entry.maximum,
                                                   DesiredCapacity=entry.desired)


class EndpointScaler:
    """A SageMaker endpoint: one entry per instance-backed variant; its scalable targets capped at their min."""

    def __init__(self, clients: AwsClients, endpoint: Mapping[str, Any]) -> None:
        self.sagemaker = clients.client("sagemaker")
        self.scaling = clients.client("application-autoscaling")
        self.name = endpoint["EndpointName"]
        self.arn = endpoint["EndpointArn"]
        self.tags = endpoint["Tags"]
        described = self.sagemaker.describe_endpoint(EndpointName=self.name)
        # Serverless variants have no instances to scale.
        self.variants = {v["VariantName"]: v for v in described.get("ProductionVariants", [])
                         if "CurrentInstanceCount" in v or "DesiredInstanceCount" in v}
        self.targets = self._scalable_targets()

    def _scalable_targets(self) -> dict[str, Mapping[str, Any]]:
        ids = {f"endpoint/{self.name}/variant/{variant}": variant for variant in self.variants}
        if not ids:
            return {}
        found = self.scaling.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=list(ids),
                                                       ScalableDimension=VARIANT_DIMENSION)
        return {ids[t["ResourceId"]]: t for t in found.get("ScalableTargets", []) if t["ResourceId"] in ids}

    def current(self) -> dict[str, Capacity]:
        return {name: Capacity(int(v.get("DesiredInstanceCount", v.get("CurrentInstanceCount", 0))),
                               int(self.targets[name]["MaxCapacity"]) if name in self.targets else None)
                for name, v in self.variants.items()}

    def minimum(self) -> dict[str, int]:
        return {name: int(self.targets[name]["MinCapacity"]) if name in self.targets else 1
                for name in self.variants}

    def tag(self, value: str) -> None:
        self.sagemaker.add_tags(ResourceArn=self.arn, Tags=[{"Key": PREVIOUS_CAPACITY_TAG, "Value": value}])

    def untag(self) -> None:
        self.sagemaker.delete_tags(ResourceArn=self.arn, TagKeys=[PREVIOUS_CAPACITY_TAG])

    def apply(self, capacity: Mapping[str, Capacity]) -> None:
        for variant, entry in capacity.items():
            target = self.targets.get(variant)
            if target is not None and entry.maximum is not None:
                self.scaling.register_scalable_target(
                    ServiceNamespace="sagemaker", ResourceId=target["ResourceId"], ScalableDimension=VARIANT_DIMENSION,
                    MinCapacity=int(target["MinCapacity"]), MaxCapacity=entry.maximum)
        self.sagemaker.update_endpoint_weights_and_capacities(EndpointName=self.name, DesiredWeightsAndCapacities=[
            {"VariantName": variant, "DesiredWeight": float(self.variants[variant].get("CurrentWeight", 1.0)),
             "DesiredInstanceCount": entry.desired}
            for variant, entry in capacity.items() if variant in self.variants])


def _scale_down(report: ActionLog, reason: str, scaler: Any) -> None:
    if PREVIOUS_CAPACITY_TAG in scaler.tags:
        report.record(scaler.arn, "scale-down", "skipped", "already scaled down (it carries "
                      f"{PREVIOUS_CAPACITY_TAG}={scaler.tags[PREVIOUS_CAPACITY_TAG]})")
        return
    current, minimum = scaler.current(), scaler.minimum()
    if not current:
        report.record(scaler.arn, "scale-down", "skipped", "no instance-backed capacity to scale")
        return
    target = {name: Capacity(minimum[name], None if c.maximum is None else minimum[name]) for name, c in current.items()}
    if all(c.desired <= minimum[name] and (c.maximum is None or c.maximum <= minimum[name])
           for name, c in current.items()):
        report.record(scaler.arn, "scale-down", "skipped", "already at its minimum")
        return
    record = encode_capacity(current)
    if not report.dry_run:
        try:
            scaler.tag(record)  # first: if scaling fails half-way, OK still knows what to restore
            scaler.apply(target)
        except (ClientError, BotoCoreError) as error:
            report.record(scaler.arn, "scale-down", "failed", describe_error(error), previous=record)
            return
    report.changed(scaler.arn, "scale-down", reason, previous=record, now=encode_capacity(target))


def _restore(report: ActionLog, reason: str, scaler: Any) -> None:
    recorded = scaler.tags.get(PREVIOUS_CAPACITY_TAG)
    if recorded is None:
        return  # never scaled down by us: nothing to restore, and nothing worth a log line per resource
    try:
        previous = decode_capacity(recorded)
    except ValueError as error:
        report.record(scaler.arn, "restore", "failed", str(error))
        return
    if not report.dry_run:
        try:
            scaler.apply(previous)
            scaler.untag()
        except (ClientError, BotoCoreError) as error:
            report.record(scaler.arn, "restore", "failed", describe_error(error), previous=recorded)
            return
    report.changed(scaler.arn, "restore", reason, now=recorded)


# -- finding them -----------------------------------------------------------------------------------------
def _is_non_essential(tags: Mapping[str, str], settings: DdosResponseSettings) -> bool:
    return tags.get(settings.non_essential_tag) == settings.non_essential_value


def _non_essential_groups(clients: AwsClients, settings: DdosResponseSettings) -> Iterator[Mapping[str, Any]]:
    filters = [{"Name": f"tag:{settings.non_essential_tag}", "Values": [settings.non_essential_value]}]
    for page in clients.client("autoscaling").get_paginator("describe_auto_scaling_groups").paginate(Filters=filters):
        for group in page.get("AutoScalingGroups", []):
            if _is_non_essential(tag_dict(group.get("Tags")), settings):  # the filter, checked again
                yield group


def _non_essential_endpoints(clients: AwsClients, settings: DdosResponseSettings,
                             report: ActionLog) -> Iterator[Mapping[str, Any]]:
    sagemaker = clients.client("sagemaker")
    for page in sagemaker.get_paginator("list_endpoints").paginate():
        for endpoint in page.get("Endpoints", []):
            arn = endpoint["EndpointArn"]
            try:
                tags = tag_dict(sagemaker.list_tags(ResourceArn=arn).get("Tags"))
            except (ClientError, BotoCoreError) as error:
                report.record(arn, "read-tags", "failed", describe_error(error))
                continue
            if _is_non_essential(tags, settings):
                yield {**endpoint, "Tags": tags}


def _alarms_still_in_alarm(clients: AwsClients, settings: DdosResponseSettings, alarm: DdosAlarm, alarm_arn: str,
                           report: ActionLog) -> Optional[list[str]]:
    """The configured alarms other than this one that are in ALARM; None when that cannot be read."""
    others = [name for name in settings.alarm_names if name != alarm.name]
    if not others:
        return []
    try:
        found = clients.client("cloudwatch").describe_alarms(AlarmNames=others, StateValue="ALARM")
    except (ClientError, BotoCoreError) as error:
        # Restoring while another resource may still be under attack would undo the protection.
        report.record(alarm_arn, "restore", "failed", f"could not read the other alarms: {describe_error(error)}")
        return None
    return sorted(a["AlarmName"] for a in found.get("MetricAlarms", []))


def _notify_kubernetes(clients: AwsClients, settings: DdosResponseSettings, alarm: DdosAlarm,
                       report: ActionLog) -> None:
    detail_type = SCALE_DOWN_EVENT if alarm.state == "ALARM" else RESTORE_EVENT
    bus = settings.kubernetes_event_bus
    detail = {"alarmName": alarm.name, "state": alarm.state, "resourceArns": [a for a in [alarm.resource_arn] if a],
              "dryRun": settings.dry_run}
    if not settings.dry_run:
        try:
            result = clients.client("events").put_events(Entries=[{
                "Source": EVENT_SOURCE, "DetailType": detail_type, "Detail": json.dumps(detail), "EventBusName": bus}])
        except (ClientError, BotoCoreError) as error:
            report.record(bus, "notify-kubernetes", "failed", describe_error(error))
            return
        if result.get("FailedEntryCount"):
            failure = result["Entries"][0]
            report.record(bus, "notify-kubernetes", "failed", f"{failure.get('ErrorCode')}: {failure.get('ErrorMessage')}")
            return
    report.changed(bus, "notify-kubernetes", f"{detail_type} for {alarm.name}", detailType=detail_type)


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point for the Shield alarms' SNS topic."""
    logging.getLogger("aifinops").setLevel(logging.INFO)
    settings = from_env(DdosResponseSettings, os.environ)
    alarms, ignored = ddos_alarms(event)
    for reason in ignored:
        LOGGER.info(json.dumps({"job": JOB, "ignored": reason}))
    clients = AwsClients()
    reports = []
    for alarm in alarms:
        report = respond(clients, settings, alarm)
        if report.has_news and settings.summary_topic_arn:
            publish_summary(clients.client("sns"), settings.summary_topic_arn, report,
                            f"aifinops DDoS cost response: {alarm.name} {alarm.state}")
        reports.append({"alarm": alarm.name, "state": alarm.state, "messageId": alarm.message_id, **report.to_dict()})
    return {"alarms": reports, "ignored": ignored}
