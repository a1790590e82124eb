"""ModelRegistry: a SageMaker model package group with a resource policy, and the bucket its artifacts live in.

Model versions pile up: every release is another multi-gigabyte artifact. The artifact bucket is a
TieredBucket with the "model-artifacts" preset: everything under `models/` stays in S3 Standard for 60
days (with a release a month, the latest two versions) and then moves to Glacier Instant Retrieval, which
still serves a rollback in milliseconds at about a sixth of the storage price. Nothing is deleted.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from aifinops.core import argument_checks as checks
from aifinops.core.lifecycle import MODEL_ARTIFACT_PREFIX

from .gpu_instance import validate_tags
from .tiered_bucket import TieredBucket, TieredBucketArgs

TYPE_TOKEN = "aifinops:ml:ModelRegistry"
READ_ACTIONS = ("sagemaker:DescribeModelPackageGroup", "sagemaker:DescribeModelPackage",
                "sagemaker:ListModelPackages")
_GROUP_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_ACCOUNT = re.compile(r"^\d{12}$")


@dataclass
class ModelRegistryArgs:
    """Arguments of ModelRegistry; none is required.

    - reader_account_ids: accounts (e.g. production) that may read the group's model packages through
      its resource policy; default none: this account only.
    - description: the group's description (default names the component).
    - artifact_bucket: default True: a TieredBucket `<name>-artifacts` with the "model-artifacts" preset
      (and its defaults: versioning, encryption, public access blocked, TLS only).
    - tags: extra tags (cost tags come from the stack's cost-tag transform).
    """

    reader_account_ids: Sequence[str] = ()
    description: Optional[str] = None
    artifact_bucket: bool = True
    tags: Mapping[str, str] = field(default_factory=dict)


def registry_policy(partition: str, region: str, account_id: str, group_name: str, readers: Sequence[str]) -> str:
    """Read access to the group and its packages for this account and the reader accounts; nothing else."""
    principals = [f"arn:{partition}:iam::{account}:root" for account in [account_id, *readers]]
    arn = f"arn:{partition}:sagemaker:{region}:{account_id}"
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "ReadModelPackages", "Effect": "Allow", "Principal": {"AWS": principals}, "Action": list(READ_ACTIONS),
        "Resource": [f"{arn}:model-package-group/{group_name}", f"{arn}:model-package/{group_name}/*"]}]})


class ModelRegistry(pulumi.ComponentResource):
    """A model package group, its resource policy, and (by default) a tiered artifact bucket."""

    group_name: pulumi.Output[str]
    group_arn: pulumi.Output[str]
    artifact_bucket_name: Optional[pulumi.Output[str]]
    artifact_prefix: str = MODEL_ARTIFACT_PREFIX

    def __init__(self, name: str, args: Optional[ModelRegistryArgs] = None,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        args = ModelRegistryArgs() if args is None else args
        if not isinstance(args, ModelRegistryArgs):
            raise ValueError(f"args: expected ModelRegistryArgs, got {type(args).__name__}")
        checks.text("name", name, _GROUP_NAME, "1-63 letters, digits and hyphens (it names the model package group)")
        readers = checks.string_list("reader_account_ids", list(args.reader_account_ids)
                                     if isinstance(args.reader_account_ids, tuple) else args.reader_account_ids)
        bad = [r for r in readers if not _ACCOUNT.match(r)]
        if bad:
            raise ValueError(f"reader_account_ids: expected 12-digit AWS account ids, got {bad!r}")
        description = args.description if args.description is not None else f"aifinops model registry {name}"
        checks.text("description", description)
        with_bucket = checks.flag("artifact_bucket", args.artifact_bucket)
        tags = validate_tags("tags", args.tags)

        super().__init__(TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        group = aws.sagemaker.ModelPackageGroup(f"{name}-group", model_package_group_name=name,
                                                model_package_group_description=description,
                                                tags=tags or None, opts=child)
        invoke = pulumi.InvokeOptions(parent=self)
        policy = pulumi.Output.all(aws.get_partition_output(opts=invoke).partition,
                                   aws.get_region_output(opts=invoke).region,
                                   aws.get_caller_identity_output(opts=invoke).account_id).apply(
            lambda v: registry_policy(v[0], v[1], v[2], name, readers))
        aws.sagemaker.ModelPackageGroupPolicy(f"{name}-policy", model_package_group_name=group.model_package_group_name,
                                              resource_policy=policy, opts=child)
        self.artifact_bucket_name = None
        if with_bucket:
            bucket = TieredBucket(f"{name}-artifacts", TieredBucketArgs(presets=["model-artifacts"], tags=tags),
                                  opts=child)
            self.artifact_bucket_name = bucket.bucket_name
            self.artifact_bucket_arn = bucket.arn

        self.group_name = group.model_package_group_name
        self.group_arn = group.arn
        self.register_outputs({"groupName": self.group_name, "groupArn": self.group_arn,
                               "artifactBucketName": self.artifact_bucket_name})
