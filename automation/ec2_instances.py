"""EC2 instances as the jobs see them, read with pagination, and the one way any job stops them.

Stopping keeps the EBS volumes (and so the data); nothing here terminates. A stopped instance is marked
with who stopped it and when, which is how the weekly report counts the idle-GPU hours saved.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator, Mapping, Optional, Sequence

from botocore.exceptions import BotoCoreError, ClientError

from aifinops.core.automation_settings import STOPPED_AT_TAG, STOPPED_BY_TAG

from .action_log import ActionLog

# Instances (and training jobs) carrying this tag key are never stopped by any job.
# Tags that mean a group replaces the instance if it is stopped: report such instances, never stop them.
GROUP_TAGS = {
    "aws:autoscaling:groupName": "Auto Scaling group",
    "aws:ec2:fleet-id": "EC2 Fleet",
    "aws:ec2spot:fleet-request-id": "Spot Fleet",
}
LIVE_STATES = ("pending", "running")
DESCRIBE_PAGE_SIZE = 1000  # the API's maximum
STOP_BATCH = 50


@dataclass(frozen=True)
class Instance:
    instance_id: str
    arn: str
    instance_type: str
    state: str
    launch_time: datetime
    tags: dict[str, str]
    vpc_id: Optional[str] = None
    lifecycle: Optional[str] = None  # "spot", or None for on-demand

    def managing_group(self) -> Optional[str]:
        """'Auto Scaling group my-asg' when a group owns this instance, else None."""
        for key, kind in GROUP_TAGS.items():
            if self.tags.get(key):
                return f"{kind} {self.tags[key]}"
        return None


def hands_off(instance: Instance, opt_out_tag: str, report: ActionLog) -> bool:
    """True (and recorded) when no job may stop the instance: it opted out, or a group would replace it."""
    group = instance.managing_group()
    if opt_out_tag in instance.tags:
        report.record(instance.arn, "stop", "skipped", f"carries the opt-out tag {opt_out_tag}")
    elif group:
        report.record(instance.arn, "stop", "reported",
                      f"member of {group}, which would replace a stopped instance; scale the group instead")
    return bool(group) or opt_out_tag in instance.tags


def instance_arn(partition: str, region: str, account_id: str, instance_id: str) -> str:
    return f"arn:{partition}:ec2:{region}:{account_id}:instance/{instance_id}"


def describe_instances(ec2: Any, partition: str, filters: Sequence[Mapping[str, Any]] = ()) -> Iterator[Instance]:
    """Every instance matching `filters`, page by page."""
    region = ec2.meta.region_name
    pages = ec2.get_paginator("describe_instances").paginate(
        Filters=list(filters), PaginationConfig={"PageSize": DESCRIBE_PAGE_SIZE})
    for page in pages:
        for reservation in page.get("Reservations", []):
            for raw in reservation.get("Instances", []):
                yield Instance(
                    instance_id=raw["InstanceId"],
                    arn=instance_arn(partition, region, reservation["OwnerId"], raw["InstanceId"]),
                    instance_type=raw["InstanceType"], state=raw["State"]["Name"],
                    launch_time=_utc(raw["LaunchTime"]), tags=tag_dict(raw.get("Tags")),
                    vpc_id=raw.get("VpcId"), lifecycle=raw.get("InstanceLifecycle"))


def tag_dict(tags: Optional[Iterable[Mapping[str, str]]]) -> dict[str, str]:
    """AWS's [{"Key": k, "Value": v}] as {k: v}."""
    return {t["Key"]: t.get("Value", "") for t in tags or []}


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def stop_instances(ec2: Any, instances: Sequence[Instance], reasons: Mapping[str, str], report: ActionLog,
                   stopped_by: str, now: datetime) -> list[Instance]:
    """Stop `instances` (in a dry run, only record that they would be); returns those stopped.

    Calls go in batches; when a batch fails, its instances are retried one by one so that one bad
    instance (a one-time spot instance, say, which cannot be stopped) fails alone.
    """
    if report.dry_run:
        for instance in instances:
            report.changed(instance.arn, "stop", reasons[instance.instance_id], instanceType=instance.instance_type)
        return []
    stopped: list[Instance] = []
    for start in range(0, len(instances), STOP_BATCH):
        batch = list(instances[start:start + STOP_BATCH])
        try:
            ec2.stop_instances(InstanceIds=[i.instance_id for i in batch])
            stopped += batch
        except (ClientError, BotoCoreError):
            for instance in batch:
                try:
                    ec2.stop_instances(InstanceIds=[instance.instance_id])
                    stopped.append(instance)
                except (ClientError, BotoCoreError) as error:
                    report.record(instance.arn, "stop", "failed", describe_error(error),
                                  instanceType=instance.instance_type)
    for instance in stopped:
        report.changed(instance.arn, "stop", reasons[instance.instance_id], instanceType=instance.instance_type)
    _mark_stopped(ec2, stopped, report, stopped_by, now)
    return stopped


def _mark_stopped(ec2: Any, stopped: Sequence[Instance], report: ActionLog, stopped_by: str, now: datetime) -> None:
    marks = [{"Key": STOPPED_BY_TAG, "Value": stopped_by},
             {"Key": STOPPED_AT_TAG, "Value": now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}]
    for start in range(0, len(stopped), STOP_BATCH):
        batch = stopped[start:start + STOP_BATCH]
        try:
            ec2.create_tags(Resources=[i.instance_id for i in batch], Tags=marks)
        except (ClientError, BotoCoreError) as error:
            for instance in batch:
                report.record(instance.arn, "mark-stopped", "failed", describe_error(error))


def describe_error(error: Exception) -> str:
    """'ThrottlingException: Rate exceeded' for AWS errors; the message for anything else."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"{details.get('Code', 'Error')}: {details.get('Message', str(error))}"
    return str(error)
