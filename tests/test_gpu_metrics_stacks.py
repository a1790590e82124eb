"""The example stacks use the GPU metrics: every GPU instance and fleet has the agent and a low-utilisation
alarm to an alert topic, each stack has a CostDashboard built from its own components, inference-prod runs
the DCGM exporter with the Prometheus Operator objects, and both packs still pass on every stack."""
from __future__ import annotations

import json

import pytest

from aifinops.engine import run_program
from aifinops.project import load_project
from tests.conftest import REPO_ROOT, warnings_of

STACKS = ("training-dev", "inference-prod", "data-platform")


@pytest.fixture(scope="module")
def graphs():
    """Each stack with AWS-shaped ids (`--mock-outputs`): the dashboard body is built from them."""
    project = load_project(REPO_ROOT)
    runs = {stack: run_program(project, project.load_stack(stack), mock_outputs=True) for stack in STACKS}
    return {stack: (graph, warnings_of(graph)) for stack, graph in runs.items()}


def children(graph, parent_urn: str, type_token: str) -> list:
    return [r for r in graph.of_type(type_token) if r.parent == parent_urn]


@pytest.mark.parametrize("stack", ["training-dev", "inference-prod"])
def test_every_gpu_instance_and_fleet_has_the_agent_and_an_alarm_to_a_topic(graphs, stack):
    graph, warnings = graphs[stack]
    components = graph.of_type("aifinops:compute:GpuInstance") + graph.of_type("aifinops:compute:GpuFleet")
    assert components
    topics = {t.outputs.get("arn") for t in graph.of_type("aws:sns/topic:Topic")} - {None}
    for component in components:
        associations = {a.inputs["name"] for a in children(graph, component.urn, "aws:ssm/association:Association")}
        assert associations == {"AWS-ConfigureAWSPackage", "AmazonCloudWatch-ManageAgent"}, component.name
        (alarm,) = children(graph, component.urn, "aws:cloudwatch/metricAlarm:MetricAlarm")
        (action,) = alarm.inputs["alarmActions"]
        assert action in topics, component.name
    assert not [w for w in warnings if "not collected" in w]


def test_training_dev_alarms_go_to_the_stack_alert_topic(graphs):
    graph, _ = graphs["training-dev"]
    topic = graph.of_type("aifinops:monitoring:AlertTopic")[0]
    alarms = graph.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert sorted(a.name for a in alarms) == ["notebook-gpu-low-utilisation", "trainer-gpu-low-utilisation"]
    assert {a.inputs["alarmActions"][0] for a in alarms} == {topic.outputs["arn"]}


@pytest.mark.parametrize("stack, expected", [
    ("training-dev", ["notebook: GPU utilisation", "notebook: GPU memory used", "trainer: GPU utilisation",
                      "trainer: GPU memory used", "Estimated charges this month (account)",
                      "Budget llm-finetune-dev: month-to-date charges against the limit", None]),
    ("inference-prod", ["serving: GPU utilisation", "serving: GPU memory used",
                        "serving: spot interruptions and rebalance recommendations",
                        "Estimated charges this month (account)",
                        "Budget llm-api-prod: month-to-date charges against the limit", None]),
    ("data-platform", ["Estimated charges this month (account)",
                       "Budget foundation-models-storage: month-to-date charges against the limit", None]),
])
def test_each_stack_has_a_dashboard_of_its_own_components(graphs, stack, expected):
    graph, _ = graphs[stack]
    (dashboard,) = graph.of_type("aws:cloudwatch/dashboard:Dashboard")
    titles = [w["properties"].get("title") for w in json.loads(dashboard.inputs["dashboardBody"])["widgets"]]
    assert titles == expected


def test_inference_prod_runs_the_exporter_and_the_operator_objects(graphs):
    graph, _ = graphs["inference-prod"]
    kinds = {r.type for r in graph if r.type.startswith("kubernetes:")}
    assert {"kubernetes:apps/v1:DaemonSet", "kubernetes:monitoring.coreos.com/v1:ServiceMonitor",
            "kubernetes:monitoring.coreos.com/v1:PrometheusRule", "kubernetes:core/v1:ConfigMap"} <= kinds
    rule = graph.of_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule")[0].inputs
    labels = rule["spec"]["groups"][0]["rules"][0]["labels"]
    assert {k: labels[k] for k in ("CostCenter", "Project", "Environment")} == {
        "CostCenter": "ml-serving", "Project": "llm-api", "Environment": "prod"}


@pytest.mark.parametrize("stack", STACKS)
def test_the_policy_packs_pass_it(graphs, policy_packs, stack):
    graph, _ = graphs[stack]
    result = policy_packs.check(graph)
    assert result.mandatory == []
