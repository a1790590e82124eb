"""CostBudget, CostAnomalyAlerts and CostAllocationTags: defaults, wiring and every validation error."""
from __future__ import annotations

import json

import pytest

from aifinops.components.cost_allocation_tags import CostAllocationTags, CostAllocationTagsArgs
from aifinops.components.cost_anomaly_alerts import CostAnomalyAlerts, CostAnomalyAlertsArgs
from aifinops.components.cost_budget import BudgetAction, CostBudget, CostBudgetArgs, accelerated_families
from tests.conftest import tagged_config


# This module reads what components render from ids and ARNs (IAM and resource policies, references),
# so the `preview` fixture gives AWS-shaped values here, as `aifinops preview --mock-outputs` does.
PREVIEW_MOCK_OUTPUTS = True


BUDGET = """
import pulumi_aws as aws
from aifinops.components.cost_budget import BudgetAction, CostBudget, CostBudgetArgs
box = aws.ec2.Instance("box", instance_type="g5.xlarge", ami="ami-1")
CostBudget("team", CostBudgetArgs(amount_usd=1500, tag_filters={"Project": "llm"}, emails=["lead@example.com"],
           action=BudgetAction(kind="stop-instances", instance_ids=[box.id])))
"""


def only(graph, type_token):
    (resource,) = graph.of_type(type_token)
    return resource


def test_budget_defaults(preview):
    graph = preview(BUDGET, tagged_config())
    budget = only(graph, "aws:budgets/budget:Budget").inputs
    assert (budget["budgetType"], budget["timeUnit"], budget["limitAmount"], budget["limitUnit"]) == \
        ("COST", "MONTHLY", "1500.00", "USD")
    assert budget["costFilters"] == [{"name": "TagKeyValue", "values": ["user:Project$llm"]}]
    notes = sorted((n["notificationType"], n["threshold"]) for n in budget["notifications"])
    assert notes == [("ACTUAL", 50), ("ACTUAL", 80), ("ACTUAL", 100), ("FORECASTED", 100)]
    topic = only(graph, "aws:sns/topic:Topic")
    assert all(n["subscriberSnsTopicArns"] == [topic.outputs["arn"]] for n in budget["notifications"])
    assert all(n["subscriberEmailAddresses"] == ["lead@example.com"] for n in budget["notifications"])


def test_alert_topic_is_encrypted_and_only_budgets_publish(preview):
    graph = preview(BUDGET, tagged_config())
    key = only(graph, "aws:kms/key:Key")
    topic = only(graph, "aws:sns/topic:Topic")
    assert topic.inputs["kmsMasterKeyId"] == key.outputs["arn"] and key.inputs["enableKeyRotation"] is True
    key_policy = json.loads(key.inputs["policy"])
    assert {"Service": ["budgets.amazonaws.com"]} in [s["Principal"] for s in key_policy["Statement"]]
    topic_policy = json.loads(only(graph, "aws:sns/topicPolicy:TopicPolicy").inputs["policy"])
    allow = next(s for s in topic_policy["Statement"] if s["Effect"] == "Allow")
    assert allow["Principal"] == {"Service": ["budgets.amazonaws.com"]} and allow["Action"] == "SNS:Publish"
    assert allow["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


def test_stop_action_role_may_stop_only_tagged_instances(preview):
    graph = preview(BUDGET, tagged_config())
    action = only(graph, "aws:budgets/budgetAction:BudgetAction").inputs
    box = only(graph, "aws:ec2/instance:Instance")
    assert action["actionType"] == "RUN_SSM_DOCUMENTS" and action["approvalModel"] == "MANUAL"
    assert action["definition"]["ssmActionDefinition"]["instanceIds"] == [box.id]
    assert action["actionThreshold"] == {"actionThresholdType": "PERCENTAGE", "actionThresholdValue": 100}
    trust = json.loads(only(graph, "aws:iam/role:Role").inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "budgets.amazonaws.com"}
    policy = json.loads(only(graph, "aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    stop = policy["Statement"][0]
    assert stop["Action"] == ["ec2:StopInstances", "ec2:StartInstances"]
    assert stop["Condition"] == {"StringEquals": {"aws:ResourceTag/Project": ["llm"]}}
    assert not any(s["Resource"] == "*" and s["Action"] != "ec2:DescribeInstanceStatus" for s in policy["Statement"])


def test_deny_accelerated_launch_action(preview):
    program = """
from aifinops.components.cost_budget import BudgetAction, CostBudget, CostBudgetArgs
CostBudget("team", CostBudgetArgs(amount_usd=100, actual_thresholds=[90, 100],
           action=BudgetAction(kind="deny-accelerated-launch", threshold_percent=90, target_roles=["ml-engineers"])))
"""
    graph = preview(program, tagged_config())
    deny = json.loads(only(graph, "aws:iam/policy:Policy").inputs["policy"])
    ec2 = deny["Statement"][0]
    assert ec2["Effect"] == "Deny" and ec2["Action"] == "ec2:RunInstances"
    assert {"p4d.*", "g5.*", "trn1.*", "inf2.*"} <= set(ec2["Condition"]["StringLike"]["ec2:InstanceType"])
    assert "m5.*" not in ec2["Condition"]["StringLike"]["ec2:InstanceType"]
    action = only(graph, "aws:budgets/budgetAction:BudgetAction").inputs
    assert action["actionType"] == "APPLY_IAM_POLICY" and action["approvalModel"] == "AUTOMATIC"
    assert action["definition"]["iamActionDefinition"]["roles"] == ["ml-engineers"]
    manage = json.loads(only(graph, "aws:iam/rolePolicy:RolePolicy").inputs["policy"])["Statement"]
    assert manage == [{"Sid": "ManageRoleDenyPolicy", "Effect": "Allow",
                       "Action": ["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
                       "Resource": ["arn:aws:iam::123456789012:role/ml-engineers"],
                       "Condition": {"ArnEquals": {"iam:PolicyARN": only(graph, "aws:iam/policy:Policy").outputs["arn"]}}}]


def test_accelerated_families_come_from_the_catalog():
    assert {"p5", "g6e", "inf2", "trn1", "dl1"} <= set(accelerated_families())
    assert not {"m5", "t3", "c6i"} & set(accelerated_families())


@pytest.mark.parametrize("changes, message", [
    ({"amount_usd": 0}, "amount_usd: expected a number above 0 USD, got 0"),
    ({"actual_thresholds": [50, 50]}, "actual_thresholds: each threshold may appear once"),
    ({"actual_thresholds": [0]}, r"actual_thresholds\[0\]: expected a percentage in \(0, 1000\], got 0"),
    ({"forecasted_thresholds": [1001]}, r"forecasted_thresholds\[0\]: .* got 1001"),
    ({"actual_thresholds": [], "forecasted_thresholds": []}, "at least one notification threshold"),
    ({"emails": ["not-an-email"]}, r"emails\[0\]: expected an email address .* got 'not-an-email'"),
    ({"emails": [], "sns_topic": False}, "give email addresses or keep sns_topic true"),
    ({"emails": [f"a{i}@example.com" for i in range(10)]}, "10 subscribers per notification"),
    ({"tag_filters": {"Project": "a", "Team": "b"}}, "at most one tag key"),
    ({"budget_name": "a:b"}, "budget_name: expected 1 to 100 characters without ':'"),
    ({"action": BudgetAction(kind="stop-instances", threshold_percent=90, instance_ids=["i-1"])},
     r"action.threshold_percent: expected one of the ACTUAL notification thresholds \(50, 80, 100\), got 90"),
    ({"action": BudgetAction(kind="stop", instance_ids=["i-1"])}, "action.kind: expected one of"),
    ({"action": BudgetAction(kind="stop-instances")}, "action.instance_ids: a stop-instances action needs"),
    ({"action": BudgetAction(kind="deny-accelerated-launch")}, "action.target_roles: .* at least one role"),
])
def test_budget_validation(changes, message):
    values = {"amount_usd": 100, "emails": ["a@example.com"], **changes}
    with pytest.raises(ValueError, match=message):
        CostBudget("b", CostBudgetArgs(**values))


def test_invalid_budget_registers_nothing(preview):
    program = """
from aifinops.components.cost_budget import CostBudget, CostBudgetArgs
try:
    CostBudget("b", CostBudgetArgs(amount_usd=-5))
except ValueError:
    pass
"""
    graph = preview(program, tagged_config())
    assert not [r for r in graph if r.type.startswith(("aifinops:", "aws:"))]


def test_anomaly_alerts_by_tag_with_immediate_email_through_topic(preview):
    program = """
from aifinops.components.cost_anomaly_alerts import CostAnomalyAlerts, CostAnomalyAlertsArgs
CostAnomalyAlerts("spend", CostAnomalyAlertsArgs(monitor="tag", tag_key="Project", tag_values=["llm"],
                  threshold_usd=50, threshold_percent=20, emails=["lead@example.com"]))
"""
    graph = preview(program, tagged_config())
    monitor = only(graph, "aws:costexplorer/anomalyMonitor:AnomalyMonitor").inputs
    assert monitor["monitorType"] == "CUSTOM"
    assert json.loads(monitor["monitorSpecification"]) == {"Tags": {"Key": "Project", "Values": ["llm"],
                                                                    "MatchOptions": ["EQUALS"]}}
    subscription = only(graph, "aws:costexplorer/anomalySubscription:AnomalySubscription").inputs
    topic = only(graph, "aws:sns/topic:Topic")
    assert subscription["frequency"] == "IMMEDIATE"
    assert subscription["subscribers"] == [{"type": "SNS", "address": topic.outputs["arn"]}]
    assert [e["dimension"]["key"] for e in subscription["thresholdExpression"]["ands"]] == \
        ["ANOMALY_TOTAL_IMPACT_ABSOLUTE", "ANOMALY_TOTAL_IMPACT_PERCENTAGE"]
    email = only(graph, "aws:sns/topicSubscription:TopicSubscription").inputs
    assert (email["protocol"], email["endpoint"]) == ("email", "lead@example.com")
    key_policy = json.loads(only(graph, "aws:kms/key:Key").inputs["policy"])
    assert {"Service": ["costalerts.amazonaws.com"]} in [s["Principal"] for s in key_policy["Statement"]]


def test_anomaly_alerts_service_monitor_daily_email(preview):
    program = """
from aifinops.components.cost_anomaly_alerts import CostAnomalyAlerts, CostAnomalyAlertsArgs
CostAnomalyAlerts("spend", CostAnomalyAlertsArgs(frequency="DAILY", sns_topic=False, emails=["a@example.com"]))
"""
    graph = preview(program, tagged_config())
    monitor = only(graph, "aws:costexplorer/anomalyMonitor:AnomalyMonitor").inputs
    assert (monitor["monitorType"], monitor["monitorDimension"]) == ("DIMENSIONAL", "SERVICE")
    subscription = only(graph, "aws:costexplorer/anomalySubscription:AnomalySubscription").inputs
    assert subscription["subscribers"] == [{"type": "EMAIL", "address": "a@example.com"}]
    assert subscription["thresholdExpression"]["dimension"]["values"] == ["100"]
    assert not graph.of_type("aws:sns/topic:Topic")


@pytest.mark.parametrize("values, message", [
    ({"monitor": "account"}, "monitor: expected one of 'service', 'tag', got 'account'"),
    ({"monitor": "tag", "tag_values": ["x"]}, "tag_key: a 'tag' monitor needs"),
    ({"monitor": "tag", "tag_key": "Project"}, "tag_values: expected a list of non-empty strings with at least 1"),
    ({"tag_key": "Project"}, "tag_key: only a 'tag' monitor takes"),
    ({"threshold_usd": None}, "expected a dollar and/or percent impact threshold"),
    ({"threshold_usd": -1}, "threshold_usd: expected a number above 0"),
    ({"frequency": "HOURLY"}, "frequency: expected one of"),
    ({"sns_topic": False}, "AWS delivers IMMEDIATE anomaly alerts only to SNS"),
    ({"frequency": "DAILY", "sns_topic": False}, "give email addresses or keep sns_topic true"),
    ({"emails": ["x@"]}, r"emails\[0\]: expected an email address"),
])
def test_anomaly_alerts_validation(values, message):
    with pytest.raises(ValueError, match=message):
        CostAnomalyAlerts("a", CostAnomalyAlertsArgs(**values))


def test_cost_allocation_tags_activate_the_required_keys(preview):
    program = """
from aifinops.components.cost_allocation_tags import CostAllocationTags
CostAllocationTags("tags")
"""
    graph = preview(program, tagged_config())
    tags = graph.of_type("aws:costexplorer/costAllocationTag:CostAllocationTag")
    assert {(t.name, t.inputs["tagKey"], t.inputs["status"]) for t in tags} == {
        ("tags-costcenter", "CostCenter", "Active"), ("tags-project", "Project", "Active"),
        ("tags-environment", "Environment", "Active")}


@pytest.mark.parametrize("keys, message", [
    ([], "tag_keys: expected a list of non-empty strings with at least 1"),
    (["aws:createdBy"], r"tag_keys\[0\]: expected a user tag key"),
    (["Team", "team"], "clashing child names"),
    (["Team", "Team"], "expected no duplicates"),
])
def test_cost_allocation_tags_validation(keys, message):
    with pytest.raises(ValueError, match=message):
        CostAllocationTags("t", CostAllocationTagsArgs(tag_keys=keys))
