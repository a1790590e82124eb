"""Every resource in a region with its tags: the tagging API, plus service calls for what it misses.

The Resource Groups Tagging API lists only resources that have (or once had) tags, so a resource that
was never tagged, the worst case for cost allocation, is invisible to it. EC2 instances and volumes, S3
buckets and SageMaker notebooks, endpoints and recent training jobs are therefore also read from their
own services. A resource found both ways is one entry.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator, Optional, Sequence

from botocore.exceptions import BotoCoreError, ClientError

from .aws_clients import AwsClients
from .ec2_instances import describe_error, describe_instances, tag_dict

TAGGING_PAGE_SIZE = 100  # get_resources' maximum
SWEEPS = ("ec2", "s3", "sagemaker")
# ARNs whose resource part has no type: the service names it.
_UNTYPED = {"s3": "bucket", "sns": "topic", "sqs": "queue"}


@dataclass
class AuditedResource:
    arn: str
    tags: dict[str, str]
    sources: set[str] = field(default_factory=set)
    vpc_id: Optional[str] = None  # for rules that read the VPC's tags

    @property
    def resource_type(self) -> str:
        return resource_type(self.arn)

    @property
    def resource_id(self) -> str:
        """The id CloudTrail knows the resource by: i-..., vol-..., the bucket or job name."""
        return re.split(r"[/:]", self.arn.split(":", 5)[5])[-1]


@dataclass
class Inventory:
    resources: dict[str, AuditedResource] = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (ARN or source, what failed)

    def add(self, arn: str, tags: dict[str, str], source: str, vpc_id: Optional[str] = None) -> None:
        entry = self.resources.setdefault(arn, AuditedResource(arn, {}))
        entry.tags.update(tags)
        entry.sources.add(source)
        entry.vpc_id = entry.vpc_id or vpc_id


def resource_type(arn: str) -> str:
    """`arn:aws:ec2:...:instance/i-1` -> `ec2:instance`; `arn:aws:s3:::bucket` -> `s3:bucket`."""
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return "unknown"
    service, resource = parts[2], parts[5]
    if service in _UNTYPED and not re.search(r"[/:]", resource):
        return f"{service}:{_UNTYPED[service]}"
    return f"{service}:{re.split(r'[/:]', resource, maxsplit=1)[0]}"


@dataclass(frozen=True)
class Scope:
    """What to read: every type (the default) or only `resource_types`; training jobs of the last N days."""

    resource_types: tuple[str, ...] = ()
    training_job_days: int = 31

    def wants(self, resource_type: str) -> bool:
        return not self.resource_types or resource_type in self.resource_types


def collect(clients: AwsClients, sweeps: Sequence[str] = SWEEPS, training_job_days: int = 31,
            resource_types: Sequence[str] = ()) -> Inventory:
    """The region's resources with their tags; `resource_types` (e.g. `ec2:instance`) narrows what is read."""
    unknown = [s for s in sweeps if s not in SWEEPS]
    if unknown:
        raise ValueError(f"sweeps: expected any of {', '.join(SWEEPS)}, got {unknown!r}")
    scope = Scope(tuple(resource_types), training_job_days)
    inventory = Inventory()
    readers: dict[str, Callable[[AwsClients, Inventory, Scope], None]] = {
        "tagging-api": _from_tagging_api, "ec2": _from_ec2, "s3": _from_s3, "sagemaker": _from_sagemaker}
    for source in ("tagging-api", *sweeps):
        try:
            readers[source](clients, inventory, scope)
        except (ClientError, BotoCoreError) as error:  # one source failing leaves the others' results
            inventory.errors.append((source, f"listing: {describe_error(error)}"))
    inventory.resources = {arn: r for arn, r in inventory.resources.items() if scope.wants(r.resource_type)}
    return inventory


def _from_tagging_api(clients: AwsClients, inventory: Inventory, scope: Scope) -> None:
    filters = {"ResourceTypeFilters": list(scope.resource_types)} if scope.resource_types else {}
    pages = clients.client("resourcegroupstaggingapi").get_paginator("get_resources").paginate(
        ResourcesPerPage=TAGGING_PAGE_SIZE, **filters)
    for page in pages:
        for mapping in page.get("ResourceTagMappingList", []):
            inventory.add(mapping["ResourceARN"], tag_dict(mapping.get("Tags")), "tagging-api")


def _from_ec2(clients: AwsClients, inventory: Inventory, scope: Scope) -> None:
    if not (scope.wants("ec2:instance") or scope.wants("ec2:volume")):
        return
    ec2 = clients.client("ec2")
    states = [{"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}]
    vpc_of_instance = {}
    for instance in describe_instances(ec2, clients.partition(), states):
        if scope.wants("ec2:instance"):
            inventory.add(instance.arn, instance.tags, "ec2", instance.vpc_id)
        vpc_of_instance[instance.instance_id] = instance.vpc_id  # volumes take their instance's VPC
    if not scope.wants("ec2:volume"):
        return
    prefix = f"arn:{clients.partition()}:ec2:{clients.region_name}:{clients.account_id()}:volume/"
    for page in ec2.get_paginator("describe_volumes").paginate(PaginationConfig={"PageSize": 500}):
        for volume in page.get("Volumes", []):
            attached = [a["InstanceId"] for a in volume.get("Attachments", []) if a.get("InstanceId")]
            vpc = next((vpc_of_instance.get(i) for i in attached if vpc_of_instance.get(i)), None)
            inventory.add(prefix + volume["VolumeId"], tag_dict(volume.get("Tags")), "ec2", vpc)


def _from_s3(clients: AwsClients, inventory: Inventory, scope: Scope) -> None:
    if not scope.wants("s3:bucket"):
        return
    s3 = clients.client("s3")
    for page in s3.get_paginator("list_buckets").paginate(BucketRegion=clients.region_name):
        for bucket in page.get("Buckets", []):
            arn = f"arn:{clients.partition()}:s3:::{bucket['Name']}"
            try:
                tags = tag_dict(s3.get_bucket_tagging(Bucket=bucket["Name"]).get("TagSet"))
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "NoSuchTagSet":
                    inventory.errors.append((arn, f"reading tags: {describe_error(error)}"))
                    continue
                tags = {}
            except BotoCoreError as error:
                inventory.errors.append((arn, f"reading tags: {describe_error(error)}"))
                continue
            inventory.add(arn, tags, "s3")


def _from_sagemaker(clients: AwsClients, inventory: Inventory, scope: Scope) -> None:
    sagemaker = clients.client("sagemaker")
    since = datetime.now(timezone.utc) - timedelta(days=scope.training_job_days)
    listings: list[tuple[str, str, dict[str, Any], str, str]] = [
        ("sagemaker:notebook-instance", "list_notebook_instances", {}, "NotebookInstances", "NotebookInstanceArn"),
        ("sagemaker:endpoint", "list_endpoints", {}, "Endpoints", "EndpointArn"),
        ("sagemaker:training-job", "list_training_jobs", {"CreationTimeAfter": since}, "TrainingJobSummaries",
         "TrainingJobArn"),
    ]
    for resource_type, operation, arguments, key, arn_key in listings:
        if not scope.wants(resource_type):
            continue
        for arn in _listed_arns(sagemaker, operation, arguments, key, arn_key):
            try:
                tags = tag_dict(sagemaker.list_tags(ResourceArn=arn).get("Tags"))
            except (ClientError, BotoCoreError) as error:
                inventory.errors.append((arn, f"reading tags: {describe_error(error)}"))
                continue
            inventory.add(arn, tags, "sagemaker")


def _listed_arns(client: Any, operation: str, arguments: dict[str, Any], key: str, arn_key: str) -> Iterator[str]:
    for page in client.get_paginator(operation).paginate(**arguments):
        for item in page.get(key, []):
            yield item[arn_key]
