"""IdleGpuReaper: a scheduled Lambda that stops accelerated instances whose GPUs have sat idle.

The handler is `aifinops.automation.idle_gpu_reaper_handler` (ReaperSettings in `aifinops.core.automation_settings` says how it decides). It runs
on an EventBridge schedule with a role that can stop only accelerated instance types without the
opt-out tag, and tag what it stopped; it cannot terminate, delete or start anything.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

import pulumi
import pulumi_aws as aws

from aifinops.core import argument_checks as checks
from aifinops.core import catalog
from aifinops.core.automation_settings import STOPPED_AT_TAG, STOPPED_BY_TAG, ReaperSettings, env_name, to_env

from .automation_lambda import (
    AccountScope,
    FunctionSettings,
    HandlerComponent,
    account_scope,
    declare_checkov_exceptions,
    deploy_handler,
)
from .gpu_instance import validate_tags

TYPE_TOKEN = "aifinops:automation:IdleGpuReaper"
HANDLER = "aifinops.automation.idle_gpu_reaper_handler.handler"
declare_checkov_exceptions(TYPE_TOKEN)
DEFAULT_SCHEDULE = "rate(15 minutes)"
_SCHEDULE = re.compile(r"^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(\S+( \S+){5}\))$")


@dataclass
class IdleGpuReaperArgs:
    """Arguments of IdleGpuReaper; none is required.

    - schedule: an EventBridge schedule expression (default `rate(15 minutes)`).
    - settings: how the handler decides (ReaperSettings: 5% utilisation for 60 minutes, a 60-minute grace
      period, opt-out tag `aifinops:keep-running`, dry run). Set `dry_run: False` to stop for real.
    - summary_topic_arn: SNS topic for a summary of each run that stopped something (default none: the
      log only). May be an Output. Leave `settings.summary_topic_arn` unset.
    - topic_kms_key_arn: the topic's KMS key, when it is encrypted with a customer managed key.
    - function: timeout, memory, log retention (default 30 days) and KMS key (default: a new one).
    - tags: extra tags (the stack's cost tags are added by the cost-tag transform).
    """

    schedule: str = DEFAULT_SCHEDULE
    settings: ReaperSettings = field(default_factory=ReaperSettings)
    summary_topic_arn: Optional[pulumi.Input[str]] = None
    topic_kms_key_arn: Optional[pulumi.Input[str]] = None
    function: FunctionSettings = field(default_factory=FunctionSettings)
    tags: Mapping[str, str] = field(default_factory=dict)


def reaper_statements(scope: AccountScope, opt_out_tag: str, topic_arn: Optional[str],
                      topic_key_arn: Optional[str]) -> list[dict[str, Any]]:
    """Read instances and metrics; stop and mark accelerated instances without the opt-out tag; publish."""
    instances = f"arn:{scope.partition}:ec2:{scope.region}:{scope.account_id}:instance/*"
    accelerated = {"StringEquals": {"ec2:InstanceType": catalog.accelerated_types()}}
    statements: list[dict[str, Any]] = [
        {"Sid": "ReadInstancesAndMetrics", "Effect": "Allow",
         "Action": ["ec2:DescribeInstances", "cloudwatch:GetMetricData"], "Resource": "*"},
        {"Sid": "StopIdleAcceleratedInstances", "Effect": "Allow", "Action": "ec2:StopInstances",
         "Resource": instances, "Condition": {**accelerated, "Null": {f"aws:ResourceTag/{opt_out_tag}": "true"}}},
        {"Sid": "MarkStoppedInstances", "Effect": "Allow", "Action": "ec2:CreateTags", "Resource": instances,
         "Condition": {**accelerated, "ForAllValues:StringEquals": {"aws:TagKeys": [STOPPED_BY_TAG, STOPPED_AT_TAG]}}},
    ]
    if topic_arn:
        statements.append({"Sid": "PublishSummary", "Effect": "Allow", "Action": "sns:Publish", "Resource": topic_arn})
    if topic_key_arn:
        statements.append({"Sid": "EncryptSummary", "Effect": "Allow",
                           "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": topic_key_arn})
    return statements


class IdleGpuReaper(HandlerComponent):
    """A Lambda on a schedule that stops idle GPU instances (dry run until told otherwise)."""

    rule_arn: pulumi.Output[str]

    def __init__(self, name: str, args: Optional[IdleGpuReaperArgs] = None,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        args = IdleGpuReaperArgs() if args is None else args
        if not isinstance(args, IdleGpuReaperArgs):
            raise ValueError(f"args: expected IdleGpuReaperArgs, got {type(args).__name__}")
        checks.text("schedule", args.schedule, _SCHEDULE, "an EventBridge schedule such as 'rate(15 minutes)' "
                    "or 'cron(0/15 * * * ? *)'")
        if not isinstance(args.settings, ReaperSettings):
            raise ValueError(f"settings: expected ReaperSettings, got {args.settings!r}")
        settings = ReaperSettings(**vars(args.settings))  # validates again: fields may have been changed since
        if settings.summary_topic_arn is not None:
            raise ValueError(f"settings.summary_topic_arn: set summary_topic_arn on the component (it may be an "
                             f"Output), got {settings.summary_topic_arn!r} in settings")
        checks.arn_in_region("summary_topic_arn", args.summary_topic_arn, "sns", None)
        checks.arn_in_region("topic_kms_key_arn", args.topic_kms_key_arn, "kms", None)
        function_settings = FunctionSettings.checked("function", args.function)
        tags = validate_tags("tags", args.tags)

        super().__init__(TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        environment: dict[str, pulumi.Input[str]] = dict(to_env(settings))
        if args.summary_topic_arn is not None:
            environment[env_name("summary_topic_arn")] = args.summary_topic_arn
        statements = pulumi.Output.all(account_scope(self), args.summary_topic_arn, args.topic_kms_key_arn).apply(
            lambda v: reaper_statements(v[0], settings.opt_out_tag, v[1], v[2]))
        deployed = deploy_handler(name, self, description=f"aifinops IdleGpuReaper {name}", handler=HANDLER,
                                  environment=environment, statements=statements, settings=function_settings,
                                  tags=tags)
        rule = aws.cloudwatch.EventRule(f"{name}-schedule", description=f"aifinops IdleGpuReaper {name}: run the reaper",
                                        schedule_expression=args.schedule, tags=tags or None, opts=child)
        aws.cloudwatch.EventTarget(f"{name}-schedule", rule=rule.name, arn=deployed.function.arn, opts=child)
        aws.lambda_.Permission(f"{name}-schedule", action="lambda:InvokeFunction", function=deployed.function.name,
                               principal="events.amazonaws.com", source_arn=rule.arn, opts=child)

        self.rule_arn = rule.arn
        self._expose(deployed, ruleArn=rule.arn, schedule=args.schedule, dryRun=settings.dry_run)
