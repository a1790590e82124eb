"""The idle-GPU reaper: stops (never terminates) accelerated instances whose GPUs have sat idle.

An instance is stopped when every period of the last `idle_minutes` that has data shows GPU utilisation
below `idle_threshold_percent` and enough periods have data (`min_coverage`). It is left alone when it
carries the opt-out tag or is younger than the grace period; it is reported, not stopped, when it has no
(or too little) metric data, or when a group (Auto Scaling, EC2 Fleet, Spot Fleet) would replace it.
Runs in Lambda on an EventBridge schedule (`handler`) or from Python (`reap`). Dry run unless told.
"""
from __future__ import annotations

import logging
import math
import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping, Optional

from components import argument_checks as checks, catalog

from .aws_clients import AwsClients
from .ec2_instances import OPT_OUT_TAG, Instance, describe_instances, hands_off, stop_instances
from .gpu_metrics import GpuMetric, peak_utilisation
from .run_report import RunReport, publish_summary
from .settings import from_env

JOB = "idle-gpu-reaper"
NOTIFY_CHOICES = ("changes", "always")
MAX_FILTER_VALUES = 200  # EC2 accepts at most this many values in one filter
_NAME = re.compile(r"^[A-Za-z0-9_.:/@+=-]{1,255}$")


@dataclass
class ReaperSettings:
    """How the reaper decides; every default is what a deployment gets unless it says otherwise.

    - idle_threshold_percent: GPU utilisation below this counts as idle (default 5).
    - idle_minutes: how long it must stay below (default 60).
    - grace_minutes: instances (re)started less than this long ago are skipped (default 60).
    - period_seconds: metric period (default 300); min_coverage: share of periods that must have data
      (default 0.8), else the instance is reported for too little data.
    - opt_out_tag: instances carrying this tag key are never stopped (default `aifinops:keep-running`).
    - metric_namespace / metric_name / metric_instance_dimension: default the CloudWatch agent's
      nvidia_smi_utilization_gpu aggregated on InstanceId; use DCGM_FI_DEV_GPU_UTIL for DCGM.
    - summary_topic_arn: SNS topic for a summary (default none: log only); notify: 'changes' (default:
      only when something was stopped, would be, or failed) or 'always'.
    - dry_run: default True: decide and report, stop nothing.
    """

    idle_threshold_percent: float = 5.0
    idle_minutes: int = 60
    grace_minutes: int = 60
    period_seconds: int = 300
    min_coverage: float = 0.8
    opt_out_tag: str = OPT_OUT_TAG
    metric_namespace: str = GpuMetric.namespace
    metric_name: str = GpuMetric.name
    metric_instance_dimension: str = GpuMetric.instance_dimension
    summary_topic_arn: Optional[str] = None
    notify: str = "changes"
    dry_run: bool = True

    def __post_init__(self) -> None:
        self.idle_threshold_percent = checks.number_in_range(
            "idle_threshold_percent", self.idle_threshold_percent, 0, 100, low_inclusive=False)
        self.idle_minutes = checks.whole_number("idle_minutes", self.idle_minutes, 5, 7 * 24 * 60, "minutes")
        self.grace_minutes = checks.whole_number("grace_minutes", self.grace_minutes, 0, 7 * 24 * 60, "minutes")
        self.period_seconds = checks.whole_number("period_seconds", self.period_seconds, 60, 3600, "seconds")
        if self.period_seconds % 60:
            raise ValueError(f"period_seconds: expected a multiple of 60 (CloudWatch periods), got {self.period_seconds!r}")
        if self.period_seconds > self.idle_minutes * 60:
            raise ValueError(f"period_seconds: expected at most idle_minutes x 60 = {self.idle_minutes * 60}, "
                             f"got {self.period_seconds!r}")
        self.min_coverage = checks.number_in_range("min_coverage", self.min_coverage, 0, 1, low_inclusive=False)
        for name in ("opt_out_tag", "metric_namespace", "metric_name", "metric_instance_dimension"):
            checks.text(name, getattr(self, name), _NAME, "a tag key or CloudWatch name (1-255 characters, no spaces)")
        if self.summary_topic_arn is not None:
            checks.arn_in_region("summary_topic_arn", self.summary_topic_arn, "sns", None)
        checks.one_of("notify", self.notify, NOTIFY_CHOICES)
        checks.flag("dry_run", self.dry_run)

    @property
    def metric(self) -> GpuMetric:
        return GpuMetric(self.metric_namespace, self.metric_name, self.metric_instance_dimension)

    @property
    def expected_periods(self) -> int:
        return math.ceil(self.idle_minutes * 60 / self.period_seconds)


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


def reap(clients: AwsClients, settings: ReaperSettings, now: Optional[datetime] = None) -> RunReport:
    now = now or datetime.now(timezone.utc)
    report = RunReport(JOB, settings.dry_run)
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
