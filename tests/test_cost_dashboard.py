"""CostDashboard: widgets built from the stack's own GPU instances, fleets and budgets; and AlertTopic."""
from __future__ import annotations

import json

import pytest

from aifinops.core.errors import ProgramError
from tests.conftest import tagged_config

PREVIEW_MOCK_OUTPUTS = True  # instance ids and group names look like AWS's

PROGRAM = """
import pulumi
from aifinops.components.alert_topic import AlertTopic, AlertTopicArgs
from aifinops.components.cost_budget import CostBudget, CostBudgetArgs
from aifinops.components.cost_dashboard import CostDashboard, CostDashboardArgs
from aifinops.components.gpu_fleet import GpuFleet, GpuFleetArgs
from aifinops.components.gpu_instance import GpuInstance, GpuInstanceArgs
from aifinops.components.tagging import register_cost_tags
register_cost_tags(pulumi.Config().require_object("costTags"))
topic = AlertTopic("alerts", AlertTopicArgs(emails=["oncall@example.com"]))
box = GpuInstance("box", GpuInstanceArgs("g5.xlarge", alert_topic_arn=topic.arn))
neuron = GpuInstance("neuron", GpuInstanceArgs("inf2.xlarge"))
fleet = GpuFleet("fleet", GpuFleetArgs(["g5.xlarge", "g6.xlarge"], alert_topic_arn=topic.arn))
budget = CostBudget("team", CostBudgetArgs(amount_usd=1500))
{dashboard}
"""
DASHBOARD = ("CostDashboard('costs', CostDashboardArgs(gpu_instances=[box, neuron], gpu_fleets=[fleet], "
             "budgets=[budget]))")


def build(preview, dashboard: str = DASHBOARD):
    return preview(PROGRAM.format(dashboard=dashboard), tagged_config())


def widgets_of(graph) -> list[dict]:
    (dashboard,) = graph.of_type("aws:cloudwatch/dashboard:Dashboard")
    return json.loads(dashboard.inputs["dashboardBody"])["widgets"]


def test_widgets_come_from_the_components(preview):
    graph = build(preview)
    widgets = widgets_of(graph)
    titles = [w["properties"].get("title") for w in widgets]
    assert titles == [
        "box: GPU utilisation", "box: GPU memory used", None,  # neuron: a text widget
        "fleet: GPU utilisation", "fleet: GPU memory used", "fleet: spot interruptions and rebalance recommendations",
        "Estimated charges this month (account)", "Budget team: month-to-date charges against the limit", None]
    instance_id = graph.of_type("aws:ec2/instance:Instance")[0].outputs["id"]
    group = graph.of_type("aws:autoscaling/group:Group")[0].outputs["name"]
    box_util, box_memory = widgets[0]["properties"], widgets[1]["properties"]
    assert box_util["metrics"][0][:4] == ["CWAgent", "nvidia_smi_utilization_gpu", "InstanceId", instance_id]
    assert box_util["annotations"]["horizontal"] == [{"value": 50, "label": "low-utilisation alarm"}]
    assert box_util["region"] == "us-east-1"
    assert [m[1] for m in box_memory["metrics"][:2]] == ["nvidia_smi_memory_used", "nvidia_smi_memory_total"]
    assert box_memory["metrics"][2][0]["expression"] == "100 * used / total"
    assert "inf2.xlarge" in widgets[2]["properties"]["markdown"] and "not collected" in widgets[2]["properties"]["markdown"]
    assert widgets[3]["properties"]["metrics"][0][2:4] == ["AutoScalingGroupName", group]
    rules = {r.name: r.outputs["name"] for r in graph.of_type("aws:cloudwatch/eventRule:EventRule")}
    events = widgets[5]["properties"]["metrics"]
    assert [m[:4] for m in events] == [["AWS/Events", "MatchedEvents", "RuleName", rules["fleet-spot-interruption"]],
                                       ["AWS/Events", "MatchedEvents", "RuleName", rules["fleet-rebalance"]]]
    billing = widgets[6]["properties"]
    assert billing["metrics"][0][:4] == ["AWS/Billing", "EstimatedCharges", "Currency", "USD"]
    assert billing["region"] == "us-east-1"
    assert widgets[7]["properties"]["annotations"]["horizontal"][0]["value"] == 1500
    budget_name = graph.of_type("aws:budgets/budget:Budget")[0].outputs["name"]
    assert f"details?name={budget_name}" in widgets[8]["properties"]["markdown"]
    # Two per row of the 24-unit grid.
    assert [(w["x"], w["y"]) for w in widgets[:4]] == [(0, 0), (12, 0), (0, 6), (12, 6)]


def test_alarms_go_to_the_stack_alert_topic(preview):
    graph = build(preview)
    topic = next(t for t in graph.of_type("aws:sns/topic:Topic") if t.name == "alerts-alerts")
    alarms = {a.name: a for a in graph.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert set(alarms) == {"box-gpu-low-utilisation", "fleet-gpu-low-utilisation"}  # none for inf2
    assert all(a.inputs["alarmActions"] == [topic.outputs["arn"]] for a in alarms.values())
    key = next(k for k in graph.of_type("aws:kms/key:Key") if k.name == "alerts-alerts-key")
    publishers = [s["Principal"] for s in json.loads(key.inputs["policy"])["Statement"] if "Service" in s["Principal"]]
    assert publishers == [{"Service": ["cloudwatch.amazonaws.com", "events.amazonaws.com"]}]


def test_billing_only_and_period(preview):
    widgets = widgets_of(build(preview, "CostDashboard('costs', CostDashboardArgs(period_seconds=600))"))
    assert [w["properties"]["title"] for w in widgets] == ["Estimated charges this month (account)"]
    assert widgets[0]["properties"]["period"] == 21600  # Billing publishes a few times a day


@pytest.mark.parametrize("dashboard, message", [
    ("CostDashboard('costs', CostDashboardArgs(gpu_instances=[budget]))",
     r"gpu_instances\[0\]: expected a GpuInstance component"),
    ("CostDashboard('costs', CostDashboardArgs(billing=False))", "expected at least one thing to show"),
    ("CostDashboard('costs', CostDashboardArgs(period_seconds=90))", "period_seconds: expected a multiple of 60"),
    ("CostDashboard('costs', CostDashboardArgs(dashboard_name='my board'))", "dashboard_name"),
    ("AlertTopic('bad', AlertTopicArgs(services=['cloudwatch']))", "services: expected a list of AWS service"),
])
def test_bad_arguments_are_rejected(preview, dashboard, message):
    with pytest.raises(ProgramError, match=message):
        build(preview, dashboard)
