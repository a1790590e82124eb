"""The idle-GPU reaper: stops (never terminates) accelerated instances whose GPUs have sat idle.

An instance is stopped when every period of the last `idle_minutes` that has data shows GPU utilisation
below `idle_threshold_percent` and enough periods have data (`min_coverage`). It is left alone when it
carries the opt-out tag or is younger than the grace period; it is reported, not stopped, when it has no
(or too little) metric data, or when a group (Auto Scaling, EC2 Fleet, Spot Fleet) would replace it.
Runs in Lambda on an EventBridge schedule (`handler`) or from Python (`reap`). Dry run unless told.
"""
from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping, Optional

from aifinops.core import catalog
from aifinops.core.automation_settings import ReaperSettings, from_env

from .action_log import ActionLog, publish_summary
from .aws_clients import AwsClients
from .ec2_instances import Instance, describe_instances, hands_off, stop_instances
from .gpu_metrics import peak_utilisation

JOB = "idle-gpu-reaper"
MAX_FILTER_VALUES = 200  # EC2 accepts at most this many values in one filter


def running_accelerated_instances(clients: AwsClients) -> list[Instance]:
    """Running instances of every accelerated type in the catalog, filtered by EC2, not here."""
    types = catalog.accelerated_types()
    found: dict[str, Instance] = {}
    for offset in range(0, len(types), MAX_FILTER_VALUES):
        filters = [{"Name": "instance-state-name", "Values": ["running"]},
                   {"Name": "instance-type", "Values": types[offset:offset + MAX_FILTER_VALUES]}]
        for instance in describe_instances(clients.client("ec2"), clients.partition(), filters):
            found[instance.instance_id] = instance
    return list(found.values())


def reap(clients: AwsClients, settings: ReaperSettings, now: Optional[datetime] = None) -> ActionLog:
    now = now or datetime.now(timezone.utc)
    report = ActionLog(JOB, settings.dry_run)
    candidates = []
    for instance in running_accelerated_instances(clients):
        if hands_off(instance, settings.opt_out_tag, report):
            continue
        if instance.launch_time > now - timedelta(minutes=settings.grace_minutes):
            report.record(instance.arn, "stop", "skipped",
                          f"started {instance.launch_time:%Y-%m-%d %H:%M}Z, within the {settings.grace_minutes}-minute grace period")
        else:
            candidates.append(instance)

    peaks = peak_utilisation(clients.client("cloudwatch"), settings.metric, [i.instance_id for i in candidates],
                             now - timedelta(minutes=settings.idle_minutes), now, settings.period_seconds)
    idle: list[Instance] = []
    reasons: dict[str, str] = {}
    for instance in candidates:
        values = peaks[instance.instance_id]
        covered = min(len(values), settings.expected_periods) / settings.expected_periods
        if not values:
            report.record(instance.arn, "stop", "reported",
                          f"no {settings.metric_name} data in the last {settings.idle_minutes} minutes; "
                          "is the CloudWatch agent's GPU plugin running?")
        elif covered < settings.min_coverage:
            report.record(instance.arn, "stop", "reported",
                          f"metric data for {covered:.0%} of the last {settings.idle_minutes} minutes, below "
                          f"the {settings.min_coverage:.0%} needed to call it idle")
        elif max(values) < settings.idle_threshold_percent:
            idle.append(instance)
            reasons[instance.instance_id] = (f"GPU utilisation peaked at {max(values):g}% over the last "
                                             f"{settings.idle_minutes} minutes (threshold {settings.idle_threshold_percent:g}%)")
    stop_instances(clients.client("ec2"), idle, reasons, report, JOB, now)
    if settings.summary_topic_arn and (report.has_news or settings.notify == "always"):
        publish_summary(clients.client("sns"), settings.summary_topic_arn, report)
    return report


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point for the EventBridge schedule. `{"dryRun": true}` in the event forces a dry run."""
    logging.getLogger("aifinops").setLevel(logging.INFO)
    settings = from_env(ReaperSettings, os.environ)
    if isinstance(event, Mapping) and event.get("dryRun") is True:
        settings.dry_run = True
    report = reap(AwsClients(), settings)
    return report.to_dict()
