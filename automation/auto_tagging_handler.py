"""Auto-tagging at launch: when CloudTrail records a resource being created, give it the cost tags it lacks.

EventBridge delivers the CloudTrail management event (RunInstances, CreateBucket, CreateTrainingJob, ...;
`AUTO_TAGGED_EVENTS` lists them). The tags come from the mapping table, looked up by the creator: its ARN,
then its role's ARN, then `team:<its team tag>`; keys the entry lacks come from the static defaults.
The handler only adds: a key the resource already has keeps its value, and nothing is ever removed. What
it adds carries `aifinops:tagged-by` (`auto-tagging/<where the tags came from>`). One JSON log line per
resource; events it does not handle (other calls, failed calls) are ignored and counted. Dry run unless told.
"""
from __future__ import annotations

import json
import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Optional

from botocore.exceptions import BotoCoreError, ClientError

from aifinops.core.automation_settings import (
    AUTO_TAGGED_EVENTS,
    MAPPING_KEY_ATTRIBUTE,
    MAPPING_TAGS_ATTRIBUTE,
    TAGGED_BY_TAG,
    TEAM_PREFIX,
    AutoTaggingSettings,
    from_env,
)

from .action_log import LOGGER, ActionLog
from .aws_clients import AwsClients
from .ec2_instances import describe_error, instance_arn, tag_dict

JOB = "auto-tagging"
CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"


class AutoTaggingFailed(RuntimeError):
    """Raised by the Lambda entry point when a resource could not be tagged, so Lambda retries the event
    (tagging is idempotent: present keys are never rewritten) and finally sends it to the dead-letter queue."""


@dataclass(frozen=True)
class Creator:
    """Who made the call, as CloudTrail's userIdentity says."""

    arn: Optional[str]
    role_arn: Optional[str]  # the role behind an assumed-role session
    user_name: Optional[str]  # an IAM user

    @staticmethod
    def from_identity(identity: Mapping[str, Any]) -> "Creator":
        issuer = ((identity.get("sessionContext") or {}).get("sessionIssuer") or {})
        role_arn = issuer.get("arn") if issuer.get("type") == "Role" else None
        user_name = identity.get("userName") if identity.get("type") == "IAMUser" else None
        return Creator(identity.get("arn"), role_arn, user_name)


@dataclass(frozen=True)
class TagSource:
    tags: dict[str, str]
    origin: str  # principal, role, team, defaults


@dataclass
class TaggingRun:
    """What a batch of events came to: one log entry per resource, and the ignored events by reason."""

    report: ActionLog
    ignored: Counter = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {**self.report.to_dict(), "ignoredEvents": dict(sorted(self.ignored.items()))}


class TagLookup:
    """Which tags a creator's resources get: the mapping table's entry (cached per run), then defaults."""

    def __init__(self, clients: AwsClients, settings: AutoTaggingSettings) -> None:
        self._clients = clients
        self._settings = settings
        self._items: dict[str, Optional[dict[str, str]]] = {}

    def tags_for(self, creator: Creator) -> TagSource:
        mapped, origin = self._mapped(creator)
        keys = self._settings.writable_keys
        tags = {k: v for k, v in (mapped or {}).items() if k in keys}
        for key, value in self._settings.default_tags.items():
            tags.setdefault(key, value)
        if mapped is None:
            origin = "defaults"
        return TagSource(tags, origin)

    def _mapped(self, creator: Creator) -> tuple[Optional[dict[str, str]], str]:
        if not self._settings.mapping_table:
            return None, "defaults"
        for origin, key in (("principal", creator.arn), ("role", creator.role_arn)):
            if key and (item := self._item(key)) is not None:
                return item, origin
        team = self._team(creator)
        if team and (item := self._item(TEAM_PREFIX + team)) is not None:
            return item, "team"
        return None, "defaults"

    def _item(self, key: str) -> Optional[dict[str, str]]:
        if key not in self._items:
            response = self._clients.client("dynamodb").get_item(
                TableName=self._settings.mapping_table, Key={MAPPING_KEY_ATTRIBUTE: {"S": key}}, ConsistentRead=True)
            attribute = (response.get("Item") or {}).get(MAPPING_TAGS_ATTRIBUTE, {}).get("M")
            self._items[key] = None if attribute is None else {
                k: v["S"] for k, v in attribute.items() if isinstance(v, Mapping) and isinstance(v.get("S"), str)}
        return self._items[key]

    def _team(self, creator: Creator) -> Optional[str]:
        iam = self._clients.client("iam")
        try:
            if creator.role_arn:
                tags = iam.list_role_tags(RoleName=creator.role_arn.rsplit("/", 1)[-1]).get("Tags")
            elif creator.user_name:
                tags = iam.list_user_tags(UserName=creator.user_name).get("Tags")
            else:
                return None
        except iam.exceptions.NoSuchEntityException:
            return None  # deleted since, or in another account: no team to look up
        return tag_dict(tags).get(self._settings.team_tag) or None


# -- the resources an event created, with a way to read and to add tags for each ---------------------------
@dataclass(frozen=True)
class Target:
    arn: str
    read_tags: Callable[[], dict[str, str]]
    add_tags: Callable[[dict[str, str]], None]


def _ec2_targets(clients: AwsClients, detail: Mapping[str, Any]) -> list[Target]:
    ec2 = clients.client("ec2")
    partition, region, account = clients.partition(), clients.region_name, _account(clients, detail)
    response = detail.get("responseElements") or {}
    if detail.get("eventName") == "CreateVolume":
        volume_ids = [response["volumeId"]] if response.get("volumeId") else []
        instances: list[dict[str, Any]] = []
    else:
        ids = [item["instanceId"] for item in (response.get("instancesSet") or {}).get("items", []) if item.get("instanceId")]
        instances = [i for page in ec2.get_paginator("describe_instances").paginate(InstanceIds=ids)
                     for r in page["Reservations"] for i in r["Instances"]] if ids else []
        volume_ids = [m["Ebs"]["VolumeId"] for i in instances for m in i.get("BlockDeviceMappings", []) if "Ebs" in m]
    volumes = ec2.describe_volumes(VolumeIds=volume_ids)["Volumes"] if volume_ids else []

    def add(resource_id: str) -> Callable[[dict[str, str]], None]:
        return lambda tags: ec2.create_tags(Resources=[resource_id], Tags=[{"Key": k, "Value": v} for k, v in tags.items()])

    def known(tags: Any) -> Callable[[], dict[str, str]]:
        return lambda: tag_dict(tags)

    targets = [Target(instance_arn(partition, region, account, i["InstanceId"]), known(i.get("Tags")), add(i["InstanceId"]))
               for i in instances]
    targets += [Target(f"arn:{partition}:ec2:{region}:{account}:volume/{v['VolumeId']}", known(v.get("Tags")),
                       add(v["VolumeId"])) for v in volumes]
    return targets


def _bucket_targets(clients: AwsClients, detail: Mapping[str, Any]) -> list[Target]:
    s3 = clients.client("s3")
    bucket = (detail.get("requestParameters") or {}).get("bucketName")
    if not bucket:
        return []

    def read() -> dict[str, str]:
        try:
            return tag_dict(s3.get_bucket_tagging(Bucket=bucket)["TagSet"])
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "NoSuchTagSet":
                return {}
            raise

    def add(tags: dict[str, str]) -> None:
        # PutBucketTagging replaces the whole set: write back what is there, with the new keys.
        merged = {**tags, **read()}
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in merged.items()]})

    return [Target(f"arn:{clients.partition()}:s3:::{bucket}", read, add)]


def _sagemaker_targets(clients: AwsClients, detail: Mapping[str, Any]) -> list[Target]:
    sagemaker = clients.client("sagemaker")
    response = detail.get("responseElements") or {}
    arn = response.get("trainingJobArn") or response.get("endpointArn") or response.get("notebookInstanceArn")
    if not arn:
        return []
    return [Target(arn, lambda: tag_dict(sagemaker.list_tags(ResourceArn=arn).get("Tags")),
                   lambda tags: sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": k, "Value": v} for k, v in tags.items()]))]


def _file_system_targets(clients: AwsClients, detail: Mapping[str, Any]) -> list[Target]:
    efs = clients.client("efs")
    response = detail.get("responseElements") or {}
    file_system = response.get("fileSystemId")
    if not file_system:
        return []
    arn = response.get("fileSystemArn") or (f"arn:{clients.partition()}:elasticfilesystem:{clients.region_name}:"
                                            f"{_account(clients, detail)}:file-system/{file_system}")
    return [Target(arn, lambda: tag_dict(efs.list_tags_for_resource(ResourceId=file_system).get("Tags")),
                   lambda tags: efs.tag_resource(ResourceId=file_system,
                                                 Tags=[{"Key": k, "Value": v} for k, v in tags.items()]))]


TARGETS: dict[str, Callable[[AwsClients, Mapping[str, Any]], list[Target]]] = {
    "ec2.amazonaws.com": _ec2_targets, "s3.amazonaws.com": _bucket_targets,
    "sagemaker.amazonaws.com": _sagemaker_targets, "elasticfilesystem.amazonaws.com": _file_system_targets,
}


def _account(clients: AwsClients, detail: Mapping[str, Any]) -> str:
    return detail.get("recipientAccountId") or clients.account_id()


def ignored_reason(event: Any) -> Optional[str]:
    """Why an event is not one to tag for, or None when it is."""
    if not isinstance(event, Mapping) or event.get("detail-type") != CLOUDTRAIL_DETAIL_TYPE:
        return "not a CloudTrail API call event"
    detail = event.get("detail") or {}
    key = (detail.get("eventSource"), detail.get("eventName"))
    if key not in AUTO_TAGGED_EVENTS:
        return f"unhandled {key[0]}:{key[1]}"
    if detail.get("errorCode"):
        return f"failed call {key[1]} ({detail['errorCode']})"
    return None


def auto_tag(clients: AwsClients, settings: AutoTaggingSettings, events: Iterable[Mapping[str, Any]]) -> TaggingRun:
    run = TaggingRun(ActionLog(JOB, settings.dry_run))
    lookup = TagLookup(clients, settings)
    for event in events:
        reason = ignored_reason(event)
        if reason is not None:
            run.ignored[reason] += 1
            LOGGER.info(json.dumps({"job": JOB, "ignored": reason, "eventId": (event or {}).get("id")}))
            continue
        _tag_event(clients, settings, lookup, event["detail"], run.report)
    return run


def _tag_event(clients: AwsClients, settings: AutoTaggingSettings, lookup: TagLookup, detail: Mapping[str, Any],
               report: ActionLog) -> None:
    event_name = detail["eventName"]
    creator = Creator.from_identity(detail.get("userIdentity") or {})
    where = f"{detail['eventSource']}:{event_name}"
    try:
        source = lookup.tags_for(creator)
        targets = TARGETS[detail["eventSource"]](clients, detail)
    except (ClientError, BotoCoreError) as error:
        report.record(where, "tag", "failed", describe_error(error), eventId=detail.get("eventID"))
        return
    if not targets:
        report.record(where, "tag", "reported", "the event names no resource that exists",
                      eventId=detail.get("eventID"))
    for target in targets:
        _tag_target(target, source, settings, creator, event_name, report)


def _tag_target(target: Target, source: TagSource, settings: AutoTaggingSettings, creator: Creator,
                event_name: str, report: ActionLog) -> None:
    try:
        present = target.read_tags()
    except (ClientError, BotoCoreError) as error:
        report.record(target.arn, "tag", "failed", f"reading its tags: {describe_error(error)}")
        return
    missing = {k: source.tags[k] for k in settings.writable_keys if k in source.tags and k not in present}
    unfilled = [k for k in settings.tag_keys if k not in present and k not in missing]
    if not missing:
        outcome, reason = ("reported", f"no mapping entry or default gives {', '.join(unfilled)}") if unfilled \
            else ("skipped", "already carries every tag it would get")
        report.record(target.arn, "tag", outcome, reason, creator=creator.arn, event=event_name)
        return
    tags = {**missing, TAGGED_BY_TAG: f"{JOB}/{source.origin}"}
    if not settings.dry_run:
        try:
            target.add_tags(tags)
        except (ClientError, BotoCoreError) as error:
            report.record(target.arn, "tag", "failed", describe_error(error), tags=tags)
            return
    reason = f"created by {creator.arn or 'an unknown principal'} ({event_name}); tags from {source.origin}"
    if unfilled:
        reason += f"; nothing gives {', '.join(unfilled)}"
    report.changed(target.arn, "tag", reason, tags=tags, kept=sorted(k for k in source.tags if k in present))


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point for the EventBridge rule (one event per invocation)."""
    logging.getLogger("aifinops").setLevel(logging.INFO)
    settings = from_env(AutoTaggingSettings, os.environ)
    run = auto_tag(AwsClients(), settings, [event])
    failed = run.report.with_outcome("failed")
    if failed:
        raise AutoTaggingFailed(f"{len(failed)} resource(s) not tagged: " + "; ".join(f"{e.arn}: {e.reason}" for e in failed))
    return run.to_dict()
