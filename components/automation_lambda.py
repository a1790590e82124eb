"""Deploys one automation handler (automation/*.py) as a Lambda function, the way both the IdleGpuReaper
and the BudgetGuard need it: the handler code as an archive, its own least-privilege role, a log group
with retention, one concurrent run at a time, a dead-letter queue for events it failed on, and a customer
managed KMS key for the logs, the queue and the function's environment.

The archive carries the `automation` package plus `components/catalog.py`, the argument checks and
`aifinops/core/data/*.json`, which is all the handlers import (boto3 comes with the Lambda runtime).
"""
from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from aifinops.core import argument_checks as checks
from aifinops.core.automation_settings import SOURCE_ATTRIBUTE

from .checkov_suppressions import suppress_checkov

RUNTIME = "python3.12"
ARCHITECTURE = "arm64"  # Graviton: about 20% cheaper per GB-second than x86 for the same work
# What a handler archive holds: two packages (shipped as files, never imported here: the components do
# not depend on the automation), and by suffix their code and the price and spec tables.
SHIPPED_PACKAGES = ("aifinops.automation", "aifinops.core")
SHIPPED_SUFFIXES = (".py", ".json")
DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600  # SQS's maximum: two weeks to look at a failed event
# checkov checks a handler function knowingly fails, and why (declared for each component type).
HANDLER_CHECKOV_EXCEPTIONS = {
    ("aws:cloudwatch/logGroup:LogGroup", "CKV_AWS_338"):
        "the handlers log one line per action; 30 days (log_retention_days raises it) covers an investigation "
        "without paying to keep a year of routine sweeps",
    ("aws:lambda/function:Function", "CKV_AWS_117"):
        "the handlers only call AWS APIs; inside a VPC they would need a NAT gateway (about $32 a month) or "
        "interface endpoints for every service, and there is no private resource to reach",
    ("aws:lambda/function:Function", "CKV_AWS_272"):
        "the code is the archive Pulumi builds from this repository at deploy time; code signing needs an AWS "
        "Signer profile and a signed artifact pipeline, and the function's role cannot change its own code",
    ("aws:lambda/function:Function", "CKV_AWS_50"):
        "a scheduled or alert-driven batch job whose every action is logged with its ARN; X-Ray would add "
        "trace-writing permissions on every resource and no insight Lambda's own metrics do not give",
}


def declare_checkov_exceptions(component_type: str) -> None:
    for (resource_type, check_id), reason in HANDLER_CHECKOV_EXCEPTIONS.items():
        suppress_checkov(component_type=component_type, resource_type=resource_type, check_id=check_id, reason=reason)


def archive_files() -> dict[str, Path]:
    """Path inside the archive -> file on disk: `aifinops/__init__.py` and every file of the two packages."""
    files = {"aifinops/__init__.py": Path(importlib.util.find_spec("aifinops").origin)}
    for package in SHIPPED_PACKAGES:
        root = Path(importlib.util.find_spec(package).submodule_search_locations[0])
        prefix = package.replace(".", "/")
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix in SHIPPED_SUFFIXES and "__pycache__" not in path.parts:
                files[f"{prefix}/{path.relative_to(root).as_posix()}"] = path
    return files


def handler_archive() -> pulumi.AssetArchive:
    return pulumi.AssetArchive({name: pulumi.FileAsset(str(path)) for name, path in archive_files().items()})


@dataclass
class FunctionSettings:
    """How the function runs; shared by the components that deploy a handler.

    - timeout_seconds: default 300 (a sweep of a few thousand instances takes well under a minute).
    - memory_mb: default 256.
    - log_retention_days: default 30; one of CloudWatch Logs' retention periods.
    - kms_key_arn: encrypts the log group, the dead-letter queue and the function's environment; default
      None: a dedicated key with rotation is created ($1/month).
    - reserved_concurrency: default 1: runs never overlap (a sweep or a guard run is not started twice at
      once). None in accounts whose concurrency quota is still 10, where nothing can be reserved.
    """

    timeout_seconds: int = 300
    memory_mb: int = 256
    log_retention_days: int = 30
    kms_key_arn: Optional[pulumi.Input[str]] = None
    reserved_concurrency: Optional[int] = 1

    @staticmethod
    def checked(argument: str, value: Any) -> "FunctionSettings":
        if not isinstance(value, FunctionSettings):
            raise ValueError(f"{argument}: expected FunctionSettings, got {value!r}")
        return value.validate(argument)

    def validate(self, argument: str = "function") -> "FunctionSettings":
        checks.whole_number(f"{argument}.timeout_seconds", self.timeout_seconds, 10, 900, "seconds")
        checks.whole_number(f"{argument}.memory_mb", self.memory_mb, 128, 10240, "MB")
        checks.log_retention_days(f"{argument}.log_retention_days", self.log_retention_days)
        checks.arn_in_region(f"{argument}.kms_key_arn", self.kms_key_arn, "kms", None)
        if self.reserved_concurrency is not None:
            checks.whole_number(f"{argument}.reserved_concurrency", self.reserved_concurrency, 1, 1000)
        return self


@dataclass
class DeployedHandler:
    function: aws.lambda_.Function
    role: aws.iam.Role
    log_group: aws.cloudwatch.LogGroup
    dead_letter_queue: aws.sqs.Queue
    key_arn: pulumi.Output[str]


@dataclass(frozen=True)
class AccountScope:
    """The partition, region and account a policy's ARNs are built in."""

    partition: str
    region: str
    account_id: str


def account_scope(parent: pulumi.Resource) -> pulumi.Output[AccountScope]:
    invoke = pulumi.InvokeOptions(parent=parent)
    return pulumi.Output.all(aws.get_partition_output(opts=invoke).partition,
                             aws.get_region_output(opts=invoke).region,
                             aws.get_caller_identity_output(opts=invoke).account_id).apply(
        lambda values: AccountScope(*values))


def log_group_name(name: str) -> str:
    """Per project, stack and component: two stacks in one account never share (or fight over) a group."""
    return f"/aifinops/{pulumi.get_project()}/{pulumi.get_stack()}/{name}"


def key_policy(scope: AccountScope, group_name: str) -> str:
    """The account administers the key; CloudWatch Logs may use it for this one log group only."""
    group_arn = f"arn:{scope.partition}:logs:{scope.region}:{scope.account_id}:log-group:{group_name}"
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "AccountAdministersKey", "Effect": "Allow",
         "Principal": {"AWS": f"arn:{scope.partition}:iam::{scope.account_id}:root"}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "LogsEncryptThisGroup", "Effect": "Allow",
         "Principal": {"Service": f"logs.{scope.region}.amazonaws.com"},
         "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
         "Resource": "*", "Condition": {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": group_arn}}},
    ]})


def lambda_trust_policy(account_id: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": account_id}}}]})


def function_policy(statements: list[dict[str, Any]], log_group_arn: str, queue_arn: str, key_arn: str) -> str:
    """The handler's own statements plus its log group, its dead-letter queue and its key."""
    return json.dumps({"Version": "2012-10-17", "Statement": [
        *statements,
        {"Sid": "WriteOwnLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": f"{log_group_arn}:*"},
        {"Sid": "DeadLetterFailedEvents", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue_arn},
        {"Sid": "UseOwnKey", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": key_arn},
    ]})


def deploy_handler(name: str, parent: pulumi.Resource, *, description: str, handler: str,
                   environment: Mapping[str, pulumi.Input[str]], statements: pulumi.Input[list[dict[str, Any]]],
                   settings: FunctionSettings, tags: Mapping[str, str]) -> DeployedHandler:
    """`{name}-key` (unless a key is given), `{name}-logs`, `{name}-dlq`, `{name}-role`, `{name}-policy`,
    `{name}-function`."""
    child = pulumi.ResourceOptions(parent=parent)
    scope = account_scope(parent)
    group_name = log_group_name(name)
    if settings.kms_key_arn is None:
        key = aws.kms.Key(f"{name}-key", description=f"{description}: logs and environment",
                          enable_key_rotation=True, deletion_window_in_days=30,
                          policy=scope.apply(lambda s: key_policy(s, group_name)), tags=tags or None, opts=child)
        key_arn = key.arn
    else:
        key_arn = pulumi.Output.from_input(settings.kms_key_arn)
    log_group = aws.cloudwatch.LogGroup(f"{name}-logs", name=group_name, retention_in_days=settings.log_retention_days,
                                        kms_key_id=key_arn, tags=tags or None, opts=child)
    queue = aws.sqs.Queue(f"{name}-dlq", kms_master_key_id=key_arn, message_retention_seconds=DEAD_LETTER_RETENTION_SECONDS,
                          tags=tags or None, opts=child)
    role = aws.iam.Role(f"{name}-role", description=f"{description}: Lambda execution role",
                        assume_role_policy=scope.apply(lambda s: lambda_trust_policy(s.account_id)),
                        tags=tags or None, opts=child)
    policy = aws.iam.RolePolicy(f"{name}-policy", role=role.id, policy=pulumi.Output.all(
        statements, log_group.arn, queue.arn, key_arn).apply(lambda v: function_policy(*v)), opts=child)
    function = aws.lambda_.Function(
        f"{name}-function", description=description, runtime=RUNTIME, architectures=[ARCHITECTURE],
        handler=handler, code=handler_archive(), role=role.arn, timeout=settings.timeout_seconds,
        memory_size=settings.memory_mb, kms_key_arn=key_arn, environment={"variables": dict(environment)},
        reserved_concurrent_executions=settings.reserved_concurrency, dead_letter_config={"target_arn": queue.arn},
        logging_config={"log_format": "JSON", "log_group": log_group.name, "application_log_level": "INFO",
                        "system_log_level": "WARN"},
        tags=tags or None,
        # The role's policy must exist before the first run, or its first calls are denied.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[policy]))
    return DeployedHandler(function, role, log_group, queue, key_arn)


def refuse_wired_settings(settings: Any, wired: Sequence[str], wired_from: str) -> None:
    """Settings the component fills from its own arguments must not be set in `settings` as well."""
    given = [f for f in wired if getattr(settings, f)]
    if given:
        raise ValueError(f"settings.{given[0]}: set by the component from {wired_from}; "
                         f"got {getattr(settings, given[0])!r}")


def subscribe_handler(child_name: str, parent: pulumi.Resource, deployed: DeployedHandler,
                      topic_arn: pulumi.Input[str]) -> aws.sns.TopicSubscription:
    """`child_name` permission and subscription: the topic invokes the function, except with the
    handlers' own summaries (AWS's notifications carry no message attributes; ours carry SOURCE_ATTRIBUTE)."""
    permission = aws.lambda_.Permission(
        child_name, action="lambda:InvokeFunction", function=deployed.function.name, principal="sns.amazonaws.com",
        source_arn=topic_arn, opts=pulumi.ResourceOptions(parent=parent))
    return aws.sns.TopicSubscription(
        child_name, topic=topic_arn, protocol="lambda", endpoint=deployed.function.arn,
        filter_policy=json.dumps({SOURCE_ATTRIBUTE: [{"exists": False}]}), filter_policy_scope="MessageAttributes",
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[permission]))


class HandlerComponent(pulumi.ComponentResource):
    """A component built around one deployed handler; exposes its function, role and log group."""

    function_arn: pulumi.Output[str]
    function_name: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    log_group_name: pulumi.Output[str]

    def _expose(self, deployed: DeployedHandler, **outputs: Any) -> None:
        self.function_arn = deployed.function.arn
        self.function_name = deployed.function.name
        self.role_arn = deployed.role.arn
        self.log_group_name = deployed.log_group.name
        self.register_outputs({"functionArn": self.function_arn, "functionName": self.function_name,
                               "roleArn": self.role_arn, "logGroupName": self.log_group_name, **outputs})
