"""GPU metrics on EC2: the CloudWatch agent through SSM on GpuInstance and GpuFleet, the names its consumers
read, the low-utilisation alarms, the Neuron case and the opt-out; and their prices in the estimate."""
from __future__ import annotations

import json

import pytest

from aifinops.components.gpu_fleet import GPU_METRIC
from aifinops.core import gpu_agent_config as agent
from aifinops.core.automation_settings import ReaperSettings
from aifinops.core.errors import ProgramError
from aifinops.engine import is_secret
from aifinops.core.estimate import FREE, PRICED
from tests.conftest import tagged_config, warnings_of
from tests.test_cost_estimate import by_name, run

PREVIEW_MOCK_OUTPUTS = True  # ids and names look like AWS's, so references can be compared

PROGRAM = """
import pulumi
from aifinops.components.gpu_instance import GpuInstance, GpuInstanceArgs
from aifinops.components.gpu_fleet import GpuFleet, GpuFleetArgs, TargetTracking
from aifinops.components.gpu_metrics_agent import LowUtilisationAlarm
from aifinops.components.tagging import register_cost_tags
register_cost_tags(pulumi.Config().require_object("costTags"))
{body}
"""
ASSOCIATION = "aws:ssm/association:Association"
PARAMETER = "aws:ssm/parameter:Parameter"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def revealed(value):
    """An SSM parameter's value is a secret in the SDK: the recorded input is the wrapped value."""
    assert is_secret(value)
    return value["value"]


def build(preview, body: str):
    return preview(PROGRAM.format(body=body), tagged_config())


def test_a_gpu_instance_gets_the_agent_config_associations_and_policy(preview):
    graph = build(preview, "GpuInstance('box', GpuInstanceArgs('g5.xlarge', alert_topic_arn="
                           "'arn:aws:sns:us-east-1:123456789012:alerts'))")
    instance = graph.of_type("aws:ec2/instance:Instance")[0]
    (parameter,) = graph.of_type(PARAMETER)
    assert parameter.inputs["name"] == "AmazonCloudWatch-aifinops-box"  # the agent policy reads AmazonCloudWatch-*
    assert parameter.inputs["type"] == "String" and parameter.inputs["tags"]["CostCenter"] == "ml"
    config = json.loads(revealed(parameter.inputs["value"]))
    assert config == agent.agent_config(fleet=False)
    assert config["metrics"]["metrics_collected"]["nvidia_gpu"]["measurement"] == [
        "utilization_gpu", "utilization_memory", "memory_used", "memory_total", "power_draw", "temperature_gpu"]
    assert config["metrics"]["append_dimensions"] == {"InstanceId": "${aws:InstanceId}"}
    assert config["metrics"]["aggregation_dimensions"] == [["InstanceId"]]

    associations = {a.name: a for a in graph.of_type(ASSOCIATION)}
    install, configure = associations["box-cloudwatch-agent-install"], associations["box-cloudwatch-agent-configure"]
    target = [{"key": "InstanceIds", "values": [instance.outputs["id"]]}]
    assert install.inputs["name"] == "AWS-ConfigureAWSPackage" and install.inputs["targets"] == target
    assert install.inputs["parameters"] == {"action": "Install", "name": "AmazonCloudWatchAgent"}
    assert configure.inputs["name"] == "AmazonCloudWatch-ManageAgent" and configure.inputs["targets"] == target
    assert configure.inputs["parameters"] == {
        "action": "configure", "mode": "ec2", "optionalConfigurationSource": "ssm",
        "optionalConfigurationLocation": parameter.outputs["name"], "optionalRestart": "yes"}
    assert install.urn in configure.dependencies  # configure after install

    role = graph.of_type("aws:iam/role:Role")[0]
    policies = {a.inputs["policyArn"]: a for a in graph.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")}
    assert policies["arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"].inputs["role"] == role.outputs["name"]

    (alarm,) = graph.of_type(ALARM)
    assert (alarm.inputs["namespace"], alarm.inputs["metricName"]) == ("CWAgent", "nvidia_smi_utilization_gpu")
    assert alarm.inputs["dimensions"] == {"InstanceId": instance.outputs["id"]}
    assert alarm.inputs["comparisonOperator"] == "LessThanThreshold" and alarm.inputs["threshold"] == 50
    assert alarm.inputs["period"] * alarm.inputs["evaluationPeriods"] == 600  # 10 minutes
    assert alarm.inputs["datapointsToAlarm"] == 10 and alarm.inputs["treatMissingData"] == "notBreaching"
    assert alarm.inputs["alarmActions"] == ["arn:aws:sns:us-east-1:123456789012:alerts"]


def test_a_fleet_targets_its_group_and_aggregates_per_group(preview):
    graph = build(preview, "GpuFleet('fleet', GpuFleetArgs(['g5.xlarge', 'g6.xlarge'], target_tracking=TargetTracking(),"
                           " low_utilisation_alarm=LowUtilisationAlarm(threshold_percent=40, minutes=15)))")
    group = graph.of_type("aws:autoscaling/group:Group")[0]
    config = json.loads(revealed(graph.of_type(PARAMETER)[0].inputs["value"]))
    assert config["metrics"]["append_dimensions"] == {"InstanceId": "${aws:InstanceId}",
                                                      "AutoScalingGroupName": "${aws:AutoScalingGroupName}"}
    assert config["metrics"]["aggregation_dimensions"] == [["InstanceId"], ["AutoScalingGroupName"]]
    for association in graph.of_type(ASSOCIATION):
        assert association.inputs["targets"] == [{"key": "tag:aws:autoscaling:groupName",
                                                  "values": [group.outputs["name"]]}]
    (alarm,) = graph.of_type(ALARM)
    topic = graph.of_type("aws:sns/topic:Topic")[0]
    assert alarm.inputs["dimensions"] == {"AutoScalingGroupName": group.outputs["name"]}
    assert alarm.inputs["threshold"] == 40 and alarm.inputs["evaluationPeriods"] == 15
    assert alarm.inputs["alarmActions"] == [topic.outputs["arn"]]  # default: the fleet's own alerts topic
    policy = graph.of_type("aws:autoscaling/policy:Policy")[0].inputs["targetTrackingConfiguration"]
    metric = policy["customizedMetricSpecification"]
    assert metric["metricDimensions"] == [{"name": "AutoScalingGroupName", "value": group.outputs["name"]}]
    # What the scaling policy and the alarm read is a series the fleet's own agent config publishes.
    published = agent.emitted_series(config)
    assert (metric["namespace"], metric["metricName"], ("AutoScalingGroupName",)) in published
    assert (alarm.inputs["namespace"], alarm.inputs["metricName"], tuple(alarm.inputs["dimensions"])) in published


def test_consumers_read_series_the_generated_config_publishes():
    """The reaper, the fleet's target tracking and the alarms read what the agent emits; a rename fails here."""
    instance_series = agent.emitted_series(agent.agent_config(fleet=False))
    fleet_series = agent.emitted_series(agent.agent_config(fleet=True))
    reaper = ReaperSettings()
    assert (reaper.metric_namespace, reaper.metric_name, (reaper.metric_instance_dimension,)) in instance_series
    assert (GPU_METRIC["namespace"], GPU_METRIC["metric_name"], ("AutoScalingGroupName",)) in fleet_series
    assert (agent.NAMESPACE, agent.UTILIZATION_METRIC, ("InstanceId",)) in fleet_series
    # Aggregating on a dimension the agent does not append publishes nothing.
    broken = agent.agent_config(fleet=False)
    broken["metrics"]["aggregation_dimensions"].append(["AutoScalingGroupName"])
    assert not any(dims == ("AutoScalingGroupName",) for _, _, dims in agent.emitted_series(broken))


def test_opt_out_keeps_the_alarm_and_drops_the_agent(preview):
    graph = build(preview, "GpuInstance('box', GpuInstanceArgs('g5.xlarge', gpu_metrics=False))")
    assert not graph.of_type(PARAMETER) and not graph.of_type(ASSOCIATION)
    arns = [a.inputs["policyArn"] for a in graph.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")]
    assert arns == ["arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"]
    assert len(graph.of_type(ALARM)) == 1  # the team's own agent publishes the same metric
    graph = build(preview, "GpuInstance('box', GpuInstanceArgs('g5.xlarge', low_utilisation_alarm=None))")
    assert not graph.of_type(ALARM) and graph.of_type(PARAMETER)


def test_neuron_types_get_no_agent_and_a_warning(preview):
    graph = build(preview, "GpuInstance('neuron', GpuInstanceArgs('inf2.xlarge'))\n"
                           "GpuFleet('trn', GpuFleetArgs(['trn1.2xlarge', 'trn1.32xlarge']))")
    assert not graph.of_type(PARAMETER) and not graph.of_type(ASSOCIATION) and not graph.of_type(ALARM)
    warnings = warnings_of(graph)
    assert any("neuron: GPU metrics are not collected for inf2.xlarge (AWS Inferentia2)" in w for w in warnings)
    assert any(w.startswith("trn: GPU metrics are not collected") and "neuron-monitor" in w for w in warnings)
    with pytest.raises(ProgramError, match="target_tracking.metric: 'gpu' reads the CloudWatch agent"):
        build(preview, "GpuFleet('trn', GpuFleetArgs(['trn1.2xlarge', 'trn1.32xlarge'], "
                       "target_tracking=TargetTracking()))")


@pytest.mark.parametrize("args, message", [
    ("gpu_metrics='yes'", "gpu_metrics: expected true or false, got 'yes'"),
    ("low_utilisation_alarm=LowUtilisationAlarm(threshold_percent=0)", "low_utilisation_alarm.threshold_percent"),
    ("low_utilisation_alarm=LowUtilisationAlarm(minutes=0)", "low_utilisation_alarm.minutes"),
    ("low_utilisation_alarm=50", "low_utilisation_alarm: expected LowUtilisationAlarm or None, got 50"),
])
def test_bad_arguments_are_rejected_before_anything_is_registered(preview, args, message):
    with pytest.raises(ProgramError, match=message):
        build(preview, f"GpuInstance('box', GpuInstanceArgs('g5.xlarge', {args}))")


def test_the_estimate_prices_the_dashboard_and_the_ssm_resources(preview):
    result = run(preview, """
import pulumi_aws as aws
aws.cloudwatch.Dashboard("board", dashboard_name="board", dashboard_body="{}")
aws.ssm.Parameter("standard", type="String", value="{}")
aws.ssm.Parameter("advanced", type="String", tier="Advanced", value="{}")
aws.ssm.Association("install", name="AWS-ConfigureAWSPackage", targets=[{"key": "InstanceIds", "values": ["i-1"]}])
""")
    assert by_name(result, "board").status == PRICED and by_name(result, "board").monthly_usd == pytest.approx(3.0)
    assert by_name(result, "standard").status == FREE and by_name(result, "install").status == FREE
    assert by_name(result, "advanced").monthly_usd == pytest.approx(0.05)
