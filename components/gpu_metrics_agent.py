"""GPU metrics for GpuInstance and GpuFleet: the CloudWatch agent through SSM, and a low-utilisation alarm.

AWS's own mechanisms, no user-data scripting: an SSM parameter holds the agent config
(`aifinops.core.gpu_agent_config`), one State Manager association installs the agent package
(AWS-ConfigureAWSPackage) and another applies the config (AmazonCloudWatch-ManageAgent). The instance role
gets the CloudWatchAgentServerPolicy managed policy; it can't be narrowed, but its SSM read is limited to
parameters named AmazonCloudWatch-*, which is why the parameter carries that prefix and no extra grant is
needed.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional

import pulumi
import pulumi_aws as aws

from aifinops.core import argument_checks as checks
from aifinops.core import gpu_agent_config as agent

from .checkov_suppressions import suppress_checkov

CLOUDWATCH_AGENT_POLICY = "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"
INSTALL_DOCUMENT = "AWS-ConfigureAWSPackage"
CONFIGURE_DOCUMENT = "AmazonCloudWatch-ManageAgent"
# Re-applied on this schedule: a configure run that raced the first install succeeds on the next one.
CONFIGURE_SCHEDULE = "rate(30 minutes)"

for _component in ("aifinops:compute:GpuInstance", "aifinops:compute:GpuFleet"):
    suppress_checkov(
        component_type=_component, resource_type="aws:ssm/parameter:Parameter", check_id="CKV2_AWS_34",
        reason="the parameter holds the CloudWatch agent configuration (measurement names and dimensions), "
               "nothing secret, so encrypting it protects nothing")


@dataclass
class LowUtilisationAlarm:
    """A CloudWatch alarm when average GPU utilisation stays below `threshold_percent` (default 50) for
    `minutes` (default 10) one-minute periods in a row. Missing data (a stopped instance, an empty fleet)
    does not alarm."""

    threshold_percent: float = 50.0
    minutes: int = 10


def validate_alarm(argument: str, alarm: Any) -> Optional[LowUtilisationAlarm]:
    if alarm is None:
        return None
    if not isinstance(alarm, LowUtilisationAlarm):
        raise ValueError(f"{argument}: expected LowUtilisationAlarm or None, got {alarm!r}")
    checks.number_in_range(f"{argument}.threshold_percent", alarm.threshold_percent, 0, 100, low_inclusive=False)
    checks.whole_number(f"{argument}.minutes", alarm.minutes, 1, 24 * 60, "minutes")
    return alarm


def install_cloudwatch_agent(name: str, role_name: pulumi.Input[str], target: dict[str, Any], fleet: bool,
                             parent: pulumi.Resource) -> aws.ssm.Parameter:
    """`{name}-cloudwatch-agent` (parameter and the managed-policy attachment), `{name}-cloudwatch-agent-install`
    and `{name}-cloudwatch-agent-configure` (associations on `target`, an SSM association target)."""
    child = pulumi.ResourceOptions(parent=parent)
    aws.iam.RolePolicyAttachment(f"{name}-cloudwatch-agent", role=role_name, policy_arn=CLOUDWATCH_AGENT_POLICY,
                                 opts=child)
    parameter = aws.ssm.Parameter(
        f"{name}-cloudwatch-agent", name=agent.parameter_name(name), type="String", tier="Standard",
        description=f"aifinops: CloudWatch agent config (nvidia_gpu) for {name}",
        value=json.dumps(agent.agent_config(fleet), sort_keys=True), opts=child)
    install = aws.ssm.Association(
        f"{name}-cloudwatch-agent-install", name=INSTALL_DOCUMENT, targets=[target],
        parameters={"action": "Install", "name": "AmazonCloudWatchAgent"}, opts=child)
    aws.ssm.Association(
        f"{name}-cloudwatch-agent-configure", name=CONFIGURE_DOCUMENT, targets=[target],
        schedule_expression=CONFIGURE_SCHEDULE,
        parameters={"action": "configure", "mode": "ec2", "optionalConfigurationSource": "ssm",
                    "optionalConfigurationLocation": parameter.name, "optionalRestart": "yes"},
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[install]))
    return parameter


def low_utilisation_alarm(name: str, alarm: LowUtilisationAlarm, dimension: str, value: pulumi.Input[str],
                          topic_arn: Optional[pulumi.Input[str]], parent: pulumi.Resource
                          ) -> aws.cloudwatch.MetricAlarm:
    """`{name}-gpu-low-utilisation`: the seed's "below 50% for 10 minutes", on the agent's aggregated series."""
    actions = [topic_arn] if topic_arn is not None else None
    return aws.cloudwatch.MetricAlarm(
        f"{name}-gpu-low-utilisation",
        alarm_description=f"aifinops {name}: GPU utilisation below {alarm.threshold_percent:g}% for "
                          f"{alarm.minutes} minutes; consider a smaller type, spot, or stopping it",
        namespace=agent.NAMESPACE, metric_name=agent.UTILIZATION_METRIC, dimensions={dimension: value},
        statistic="Average", period=60, evaluation_periods=alarm.minutes, datapoints_to_alarm=alarm.minutes,
        threshold=alarm.threshold_percent, comparison_operator="LessThanThreshold",
        treat_missing_data="notBreaching", alarm_actions=actions, ok_actions=actions,
        opts=pulumi.ResourceOptions(parent=parent))
