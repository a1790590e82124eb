"""DdosCostResponse: subscribed to a ShieldProtection's alarm topic, acting only on its alarms, with a role
that can change only non-essential auto scaling groups and endpoints and delete nothing."""
from __future__ import annotations

import json

import pytest

from aifinops.components.ddos_cost_response import DdosCostResponse, DdosCostResponseArgs
from aifinops.core.automation_settings import PREVIOUS_CAPACITY_TAG, SOURCE_ATTRIBUTE, DdosResponseSettings, from_env
from tests.conftest import only, tagged_config


# This module reads what components render from ids and ARNs (IAM and resource policies, references),
# so the `preview` fixture gives AWS-shaped values here, as `aifinops preview --mock-outputs` does.
PREVIEW_MOCK_OUTPUTS = True


EIP = "arn:aws:ec2:us-east-1:123456789012:eip-allocation/eipalloc-0123456789abcdef0"
TOPIC = "arn:aws:sns:us-east-1:123456789012:edge-ddos"
WITH_SHIELD = f"""
from aifinops.components.ddos_cost_response import DdosCostResponse, DdosCostResponseArgs
from aifinops.components.shield_protection import ShieldProtection, ShieldProtectionArgs
shield = ShieldProtection("edge", ShieldProtectionArgs(resources={{"eip": "{EIP}", "eip2": "{EIP}"[:-1] + "1"}},
                                                       attack_volume_alarms=True))
DdosCostResponse("ddos", DdosCostResponseArgs(shield_protection=shield))
"""


def statements(graph) -> dict:
    policy = next(r for r in graph.of_type("aws:iam/rolePolicy:RolePolicy") if r.name == "ddos-policy")
    return {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}


def test_subscribes_to_the_shield_alarm_topic_and_acts_on_its_alarms_only(preview):
    graph = preview(WITH_SHIELD, tagged_config())
    topic = only(graph, "aws:sns/topic:Topic")
    function = only(graph, "aws:lambda/function:Function")
    subscription = next(s for s in graph.of_type("aws:sns/topicSubscription:TopicSubscription") if s.name == "ddos-alarms")
    assert (subscription.inputs["topic"], subscription.inputs["protocol"], subscription.inputs["endpoint"]) == \
        (topic.outputs["arn"], "lambda", function.outputs["arn"])
    assert json.loads(subscription.inputs["filterPolicy"]) == {SOURCE_ATTRIBUTE: [{"exists": False}]}
    assert only(graph, "aws:lambda/permission:Permission").inputs["sourceArn"] == topic.outputs["arn"]
    deployed = from_env(DdosResponseSettings, function.inputs["environment"]["variables"])
    # The DDoSDetected alarms only: attack-volume alarms notify the same topic but decide nothing.
    assert deployed == DdosResponseSettings(alarm_names=("edge-eip-ddos-detected", "edge-eip2-ddos-detected"))
    assert len(graph.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")) == 6
    assert deployed.dry_run is True
    assert function.inputs["handler"] == "aifinops.automation.ddos_cost_response_handler.handler"


def test_role_changes_only_non_essential_resources_and_deletes_nothing(preview):
    found = statements(preview(WITH_SHIELD, tagged_config()))
    tagged = {"StringEquals": {"aws:ResourceTag/aifinops:non-essential": "true"}}
    assert found["ScaleNonEssentialGroups"]["Condition"] == tagged
    assert found["ScaleNonEssentialEndpoints"]["Condition"] == tagged
    assert found["RecordGroupCapacity"]["Condition"]["ForAllValues:StringEquals"] == \
        {"aws:TagKeys": [PREVIOUS_CAPACITY_TAG]}
    assert found["ScaleNonEssentialEndpoints"]["Resource"] == "arn:aws:sagemaker:us-east-1:123456789012:endpoint/*"
    actions = {a for s in found.values() for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    deleting = {a for a in actions if "Delete" in a or "Terminate" in a or a.endswith("*")}
    assert deleting == {"autoscaling:DeleteTags", "sagemaker:DeleteTags"}  # only its own capacity tag
    assert "KubernetesHook" not in found and "PublishSummary" not in found


def test_alarms_managed_elsewhere_with_a_kubernetes_hook(preview):
    program = f"""
from aifinops.core.automation_settings import DdosResponseSettings
from aifinops.components.ddos_cost_response import DdosCostResponse, DdosCostResponseArgs
DdosCostResponse("ddos", DdosCostResponseArgs(topic_arn="{TOPIC}", alarm_names=("a",),
    summary_topic_arn="arn:aws:sns:us-east-1:123456789012:oncall",
    settings=DdosResponseSettings(kubernetes_event_bus="cluster-hooks", scale_auto_scaling_groups=False,
                                  dry_run=False)))
"""
    graph = preview(program, tagged_config())
    found = statements(graph)
    assert found["KubernetesHook"]["Resource"] == "arn:aws:events:us-east-1:123456789012:event-bus/cluster-hooks"
    assert found["PublishSummary"]["Resource"] == "arn:aws:sns:us-east-1:123456789012:oncall"
    assert "ScaleNonEssentialGroups" not in found
    deployed = from_env(DdosResponseSettings, only(graph, "aws:lambda/function:Function").inputs["environment"]["variables"])
    assert (deployed.alarm_names, deployed.dry_run, deployed.summary_topic_arn) == \
        (("a",), False, "arn:aws:sns:us-east-1:123456789012:oncall")


@pytest.mark.parametrize("changes, message", [
    ({"topic_arn": None}, "topic_arn: expected the SNS topic the DDoSDetected alarms notify"),
    ({"topic_arn": "arn:aws:sqs:us-east-1:123456789012:q"}, "topic_arn: expected an ARN of the sns service"),
    ({"shield_protection": object()}, "shield_protection: give a ShieldProtection or topic_arn/alarm_names, not both"),
    ({"topic_arn": None, "shield_protection": object()}, "shield_protection: expected a ShieldProtection with ddos_alarms"),
    ({"settings": DdosResponseSettings(alarm_names=("x",))}, "settings.alarm_names: set by the component"),
    ({"settings": {"dry_run": False}}, "settings: expected DdosResponseSettings"),
    ({"alarm_names": "edge"}, "alarm_names: expected a list"),
    ({"tags": ["Owner"]}, "tags: expected a mapping"),
])
def test_validation(changes, message):
    with pytest.raises(ValueError) as error:
        DdosCostResponse("ddos", DdosCostResponseArgs(**{"topic_arn": TOPIC, **changes}))
    assert message in str(error.value)
