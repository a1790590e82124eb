"""DdosCostResponse: a Lambda on a ShieldProtection's alarm topic that scales non-essential services down
while an attack lasts, and back when it ends.

The handler is `aifinops.automation.ddos_cost_response_handler` (DdosResponseSettings in
`aifinops.core.automation_settings`). Its role can change only auto scaling groups and SageMaker endpoints
that carry the non-essential tag, write and remove only its own capacity tag on them, and delete nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

import pulumi

from aifinops.core import argument_checks as checks
from aifinops.core.automation_settings import (
    PREVIOUS_CAPACITY_TAG,
    DdosResponseSettings,
    env_name,
    to_env,
)

from .automation_lambda import (
    AccountScope,
    FunctionSettings,
    HandlerComponent,
    account_scope,
    declare_checkov_exceptions,
    deploy_handler,
    refuse_wired_settings,
    subscribe_handler,
)
from .gpu_instance import validate_tags

TYPE_TOKEN = "aifinops:automation:DdosCostResponse"
HANDLER = "aifinops.automation.ddos_cost_response_handler.handler"
declare_checkov_exceptions(TYPE_TOKEN)
# Settings the component fills from its wiring; users set them on the component, not in `settings`.
WIRED_SETTINGS = ("alarm_names", "summary_topic_arn")


@dataclass
class DdosCostResponseArgs:
    """Arguments of DdosCostResponse. A topic is required: `shield_protection` or `topic_arn`.

    - shield_protection: a ShieldProtection with its DDoS alarms (the default); the response subscribes to
      its alarm topic and acts only on its alarms, restoring once none of them is in ALARM. Or give
      `topic_arn` (and optionally `alarm_names`) for alarms managed elsewhere.
    - summary_topic_arn / summary_topic_kms_key_arn: where a summary of each run that changed something
      goes, and that topic's key (default none: the log only).
    - settings: DdosResponseSettings (default: resources tagged `aifinops:non-essential=true`, both auto
      scaling groups and SageMaker endpoints, no Kubernetes hook, dry run). Set `dry_run: False` to act.
    - function: timeout, memory, log retention (default 30 days) and KMS key (default: a new one).
    """

    shield_protection: Optional[Any] = None
    topic_arn: Optional[pulumi.Input[str]] = None
    alarm_names: tuple[str, ...] = ()
    summary_topic_arn: Optional[pulumi.Input[str]] = None
    summary_topic_kms_key_arn: Optional[pulumi.Input[str]] = None
    settings: DdosResponseSettings = field(default_factory=DdosResponseSettings)
    function: FunctionSettings = field(default_factory=FunctionSettings)
    tags: Mapping[str, str] = field(default_factory=dict)


def response_statements(scope: AccountScope, settings: DdosResponseSettings, summary_topic_arn: Optional[str],
                        summary_key_arn: Optional[str]) -> list[dict[str, Any]]:
    """Read what may be scaled; change only what carries the non-essential tag; tag only with our own key."""
    here = f"{scope.region}:{scope.account_id}"
    tagged = {"StringEquals": {f"aws:ResourceTag/{settings.non_essential_tag}": settings.non_essential_value}}
    own_tag = {"ForAllValues:StringEquals": {"aws:TagKeys": [PREVIOUS_CAPACITY_TAG]}}
    statements: list[dict[str, Any]] = [
        {"Sid": "ReadAlarms", "Effect": "Allow", "Action": "cloudwatch:DescribeAlarms",
         "Resource": f"arn:{scope.partition}:cloudwatch:{here}:alarm:*"}]
    if settings.scale_auto_scaling_groups:
        groups = f"arn:{scope.partition}:autoscaling:{here}:autoScalingGroup:*:autoScalingGroupName/*"
        statements += [
            {"Sid": "ReadGroups", "Effect": "Allow", "Action": "autoscaling:DescribeAutoScalingGroups", "Resource": "*"},
            {"Sid": "ScaleNonEssentialGroups", "Effect": "Allow", "Action": "autoscaling:UpdateAutoScalingGroup",
             "Resource": groups, "Condition": tagged},
            {"Sid": "RecordGroupCapacity", "Effect": "Allow",
             "Action": ["autoscaling:CreateOrUpdateTags", "autoscaling:DeleteTags"], "Resource": groups,
             "Condition": {**tagged, **own_tag}},
        ]
    if settings.scale_sagemaker_endpoints:
        endpoints = f"arn:{scope.partition}:sagemaker:{here}:endpoint/*"
        statements += [
            {"Sid": "ReadEndpoints", "Effect": "Allow",
             "Action": ["sagemaker:ListEndpoints", "application-autoscaling:DescribeScalableTargets"], "Resource": "*"},
            {"Sid": "ReadEndpointDetails", "Effect": "Allow", "Action": ["sagemaker:DescribeEndpoint", "sagemaker:ListTags"],
             "Resource": endpoints},
            {"Sid": "ScaleNonEssentialEndpoints", "Effect": "Allow",
             "Action": "sagemaker:UpdateEndpointWeightsAndCapacities", "Resource": endpoints, "Condition": tagged},
            {"Sid": "RecordEndpointCapacity", "Effect": "Allow", "Action": ["sagemaker:AddTags", "sagemaker:DeleteTags"],
             "Resource": endpoints, "Condition": {**tagged, **own_tag}},
            # Scalable targets carry their own ids, not the endpoint's tags: the handler only registers the
            # targets of endpoints it has just checked for the tag.
            {"Sid": "CapEndpointScaling", "Effect": "Allow", "Action": "application-autoscaling:RegisterScalableTarget",
             "Resource": f"arn:{scope.partition}:application-autoscaling:{here}:scalable-target/*"},
        ]
    if settings.kubernetes_event_bus:
        bus = settings.kubernetes_event_bus
        bus_arn = bus if bus.startswith("arn:") else f"arn:{scope.partition}:events:{here}:event-bus/{bus}"
        statements.append({"Sid": "KubernetesHook", "Effect": "Allow", "Action": "events:PutEvents", "Resource": bus_arn})
    if summary_topic_arn:
        statements.append({"Sid": "PublishSummary", "Effect": "Allow", "Action": "sns:Publish",
                           "Resource": summary_topic_arn})
    if summary_key_arn:
        statements.append({"Sid": "EncryptSummary", "Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                           "Resource": summary_key_arn})
    return statements


class DdosCostResponse(HandlerComponent):
    """Scales non-essential services to their minimum during a DDoS attack (dry run until told otherwise)."""

    def __init__(self, name: str, args: DdosCostResponseArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        if not isinstance(args, DdosCostResponseArgs):
            raise ValueError(f"args: expected DdosCostResponseArgs, got {type(args).__name__}")
        topic_arn, alarm_names = self._wiring(args)
        checks.arn_in_region("summary_topic_arn", args.summary_topic_arn, "sns", None)
        checks.arn_in_region("summary_topic_kms_key_arn", args.summary_topic_kms_key_arn, "kms", None)
        if not isinstance(args.settings, DdosResponseSettings):
            raise ValueError(f"settings: expected DdosResponseSettings, got {args.settings!r}")
        refuse_wired_settings(args.settings, WIRED_SETTINGS, "shield_protection, topic_arn, alarm_names and "
                                                             "summary_topic_arn")
        settings = DdosResponseSettings(**{**vars(args.settings), "alarm_names": tuple(alarm_names)})
        function_settings = FunctionSettings.checked("function", args.function)
        tags = validate_tags("tags", args.tags)

        super().__init__(TYPE_TOKEN, name, None, opts)
        environment: dict[str, pulumi.Input[str]] = dict(to_env(settings))
        if args.summary_topic_arn is not None:
            environment[env_name("summary_topic_arn")] = args.summary_topic_arn
        statements = pulumi.Output.all(account_scope(self), args.summary_topic_arn,
                                       args.summary_topic_kms_key_arn).apply(
            lambda v: response_statements(v[0], settings, v[1], v[2]))
        deployed = deploy_handler(name, self, description=f"aifinops DdosCostResponse {name}", handler=HANDLER,
                                  environment=environment, statements=statements, settings=function_settings,
                                  tags=tags)
        subscribe_handler(f"{name}-alarms", self, deployed, topic_arn)

        self._expose(deployed, dryRun=settings.dry_run, alarmNames=list(alarm_names))

    @staticmethod
    def _wiring(args: DdosCostResponseArgs) -> tuple[pulumi.Input[str], list[str]]:
        """(alarm topic ARN, alarm names) from the ShieldProtection, or from topic_arn and alarm_names."""
        if args.shield_protection is not None:
            if args.topic_arn is not None or args.alarm_names:
                raise ValueError("shield_protection: give a ShieldProtection or topic_arn/alarm_names, not both")
            topic = getattr(args.shield_protection, "alarm_topic_arn", None)
            if topic is None:
                raise ValueError(f"shield_protection: expected a ShieldProtection with ddos_alarms on, "
                                 f"got {args.shield_protection!r}")
            return topic, list(args.shield_protection.ddos_detected_alarm_names)
        if args.topic_arn is None:
            raise ValueError("topic_arn: expected the SNS topic the DDoSDetected alarms notify (or give "
                             "shield_protection), got None")
        checks.arn_in_region("topic_arn", args.topic_arn, "sns", None)
        return args.topic_arn, checks.string_list("alarm_names", args.alarm_names)
