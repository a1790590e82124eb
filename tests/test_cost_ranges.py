"""Groups that scale are priced at their desired size and at their maximum: auto scaling groups (GpuFleet's
at its spot share), EKS node groups, Karpenter NodePools; budgets show their headroom at both."""
from __future__ import annotations

from statistics import mean

import pytest

from aifinops.core import catalog
from aifinops.core.estimate import estimate
from aifinops.core.estimate.budgets import covered_resources, read_budgets
from aifinops.core.estimate.infracost_json import estimate_document
from aifinops import cost_estimate
from aifinops.cost_estimate import cost_document, cost_views, estimate_and_document
from tests.conftest import tagged_config

PREVIEW_MOCK_OUTPUTS = True
HOURS = 730
TABLE = catalog.price_table("us-east-1")
G5 = TABLE.on_demand_usd("g5.xlarge")  # $1.006/h

GROUP = """
import pulumi_aws as aws
template = aws.ec2.LaunchTemplate("lt", instance_type="g5.xlarge", image_id="ami-1")
aws.autoscaling.Group("asg", min_size=1, max_size=4, desired_capacity=1, availability_zones=["us-east-1a"],
                      launch_template={"id": template.id, "version": "$Latest"})
aws.budgets.Budget("team", budget_type="COST", limit_amount="2000", limit_unit="USD", time_unit="MONTHLY")
"""


def run(preview, program: str):
    graph = preview(program, tagged_config())
    return graph, estimate(cost_views(graph), stack=graph.stack)


def by_name(result, name: str):
    return next(r for r in result.resources if r.name == name)


def spot_usd(instance_type: str) -> float:
    return TABLE.on_demand_usd(instance_type) * (1 - TABLE.spot_discount(instance_type))


def test_an_auto_scaling_group_is_priced_at_desired_capacity_and_at_max_size(preview):
    graph, result = run(preview, GROUP)
    group = by_name(result, "asg")
    assert group.monthly_usd == pytest.approx(HOURS * G5)  # 1 x 730 h x $1.006 = $734.38
    assert group.max_monthly_usd == pytest.approx(4 * HOURS * G5)  # 4 x 730 h x $1.006 = $2,937.52
    (at_max,) = group.lines_at_maximum
    assert at_max.quantity == 4 * HOURS and "maxSize" in at_max.assumption
    assert result.max_monthly_usd == pytest.approx(result.monthly_usd + 3 * HOURS * G5)
    document = estimate_document(result)
    asg = next(r for r in document["projects"][0]["breakdown"]["resources"] if r["name"] == "asg")
    assert (asg["monthlyCost"], asg["maxMonthlyCost"]) == ("734.38", "2937.52")
    assert asg["maxCostComponents"][0]["monthlyQuantity"] == "2920"
    assert float(document["maxTotalMonthlyCost"]) == pytest.approx(result.max_monthly_usd, abs=1e-6)


def test_a_group_at_its_maximum_has_no_range(preview):
    _, result = run(preview, GROUP.replace("desired_capacity=1", "desired_capacity=4"))
    group = by_name(result, "asg")
    assert not group.has_range and group.max_monthly_usd == group.monthly_usd


def test_budget_headroom_at_desired_and_at_maximum_and_the_gate_accessor(preview):
    graph, result = run(preview, GROUP)
    (budget,) = cost_document(graph, result)["budgets"]
    assert budget["monthlyLimit"] == "2000" and budget["covers"] == "all spend"
    assert budget["headroom"] == "1265.62"  # $2,000 - $734.38
    assert budget["maxHeadroom"] == "-937.52"  # $2,000 - $2,937.52: over at maximum scale
    (scope,) = read_budgets(cost_views(graph))
    at_maximum = sum(usd for _, usd in covered_resources(scope, result.at_maximum()))
    assert at_maximum == pytest.approx(4 * HOURS * G5)


def test_the_estimate_and_its_document_share_one_set_of_cost_views(preview, monkeypatch):
    graph, result = run(preview, GROUP)
    built = []
    monkeypatch.setattr(cost_estimate, "cost_views", lambda g: built.append(g) or cost_views(g))
    estimate, document = estimate_and_document(graph)
    assert built == [graph]
    assert document == cost_document(graph, result)  # what each built its own views for
    assert estimate.monthly_usd == result.monthly_usd


def test_gpu_fleet_is_priced_at_its_spot_share_at_desired_and_at_maximum(preview):
    program = """
import pulumi
from aifinops.components.gpu_fleet import GpuFleet, GpuFleetArgs
from aifinops.components.tagging import register_cost_tags
register_cost_tags(pulumi.Config().require_object("costTags"))
GpuFleet("fleet", GpuFleetArgs(instance_types=["g5.xlarge", "g6.xlarge"], min_size=2, max_size=6, desired_capacity=2,
                               on_demand_base_capacity=1, detailed_monitoring=False))
"""
    _, result = run(preview, program)
    group = by_name(result, "fleet-asg")
    spot = mean(spot_usd(t) for t in ("g5.xlarge", "g6.xlarge"))
    lines = {line.description: line for line in group.lines}
    # desired 2: the on-demand base of 1 (the first type), the one above it on spot
    assert lines["g5.xlarge on-demand"].quantity == HOURS and lines["g5.xlarge on-demand"].unit_usd == G5
    spot_line = lines["mean of g5.xlarge, g6.xlarge spot"]
    assert spot_line.quantity == HOURS and spot_line.unit_usd == pytest.approx(spot, abs=1e-6)
    # at max 6: still 1 on demand, 5 on spot
    at_max = {line.description: line for line in group.lines_at_maximum}
    assert at_max["g5.xlarge on-demand"].quantity == HOURS
    assert at_max["mean of g5.xlarge, g6.xlarge spot"].quantity == 5 * HOURS
    compute = [line for line in group.lines_at_maximum if line.unit == "instance-hours"]
    assert sum(line.monthly_usd for line in compute) == pytest.approx(HOURS * (G5 + 5 * spot), abs=0.01)


def test_a_karpenter_node_pool_is_priced_at_its_pods_and_at_its_gpu_limit(preview):
    program = """
from aifinops.components.gpu_inference import *
GpuInference("llm", GpuInferenceArgs(image="ghcr.io/acme/vllm@sha256:" + "c" * 64,
    autoscaling=InferenceAutoscaling(min_replicas=2, max_replicas=4),
    node_pool=KarpenterNodePoolArgs(instance_types=["g6.xlarge", "g5.xlarge"], gpu_limit=6)))
"""
    _, result = run(preview, program)
    pool = by_name(result, "llm-gpu-node-pool")
    assert pool.status == "priced"
    # spot first: the cheapest type per GPU on spot, both types having 1 GPU
    chosen = min(("g6.xlarge", "g5.xlarge"), key=spot_usd)
    (line,) = pool.lines
    assert line.description == f"{chosen} spot" and line.quantity == 2 * HOURS  # HPA minReplicas 2 x 1 GPU
    assert line.unit_usd == pytest.approx(spot_usd(chosen), abs=1e-6)
    (at_max,) = pool.lines_at_maximum
    assert at_max.quantity == 6 * HOURS and "limits.nvidia.com/gpu 6" in at_max.assumption


def test_a_node_pool_without_a_gpu_limit_or_hpa_says_it_has_no_maximum(preview):
    program = """
import pulumi_kubernetes as k8s
k8s.apiextensions.CustomResource("pool", api_version="karpenter.sh/v1", kind="NodePool", metadata={"name": "pool"},
    spec={"template": {"spec": {"requirements": [
        {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["g5.xlarge"]}]}}})
"""
    _, result = run(preview, program)
    pool = by_name(result, "pool")
    assert pool.status == "priced" and pool.monthly_usd == 0 and not pool.has_range
    assert pool.unbounded and result.unbounded == [pool]
    assert "no maximum" in pool.note and "without bound" in pool.note
    document = estimate_document(result)
    (listed,) = document["projects"][0]["breakdown"]["resources"]
    assert listed["maxMonthlyCost"] is None and listed["unbounded"] is True
    assert [r["name"] for r in document["unboundedResources"]] == ["pool"]
