"""The inference-prod example stack: reserved baseline with spot burst, WAF and Shield on the ALB, GPU
inference on Kubernetes; it passes the policy packs."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from aifinops.components.gpu_fleet import hourly_cost_range
from aifinops.core import catalog
from aifinops.core.errors import ProgramError
from aifinops.core.values import UNKNOWN_STRING_VALUE as UNKNOWN
from tests.conftest import REPO_ROOT, example_stack_config, only, run_example_stack, tagged_config


# This module reads what components render from ids and ARNs (IAM and resource policies, references),
# so the `preview` fixture gives AWS-shaped values here, as `aifinops preview --mock-outputs` does.
PREVIEW_MOCK_OUTPUTS = True


STACK = "inference-prod"
OUR_POLICIES = {"gpu-fleet-spot-price-cap", "karpenter-gpu-limits", "public-endpoints-rate-limited",
                "gpu-pods-have-limits"}


@pytest.fixture(scope="module")
def stack_run():
    return run_example_stack(STACK)


def test_reserved_baseline_with_spot_burst(stack_run):
    graph, warnings = stack_run
    group = only(graph, "aws:autoscaling/group:Group")
    asg = group.inputs
    reservation = only(graph, "aws:ec2/capacityReservation:CapacityReservation")
    distribution = asg["mixedInstancesPolicy"]["instancesDistribution"]
    assert distribution["onDemandBaseCapacity"] == reservation.inputs["instanceCount"] == asg["minSize"] == 2
    assert distribution["onDemandPercentageAboveBaseCapacity"] == 0  # everything above the base is spot
    # As in a real preview the reservation's id is unknown: the group names it through a dependency.
    assert asg["capacityReservationSpecification"]["capacityReservationTarget"]["capacityReservationIds"] == \
        [UNKNOWN]
    assert reservation.urn in group.property_dependencies["capacityReservationSpecification"]
    assert not [w for w in warnings if "stands empty" in w]  # min size keeps the reservation busy
    types = [o["instanceType"] for o in asg["mixedInstancesPolicy"]["launchTemplate"]["overrides"]]
    expected = hourly_cost_range([catalog.lookup(t) for t in types], 8, 2, 0)
    assert graph.stack_outputs["servingHourlyCostRangeUsd"] == list(expected)


def test_the_alb_is_behind_the_waf_and_shield(stack_run):
    graph, _ = stack_run
    alb = only(graph, "aws:lb/loadBalancer:LoadBalancer")
    assert alb.inputs["internal"] is False and alb.inputs["enableDeletionProtection"] is True
    association = only(graph, "aws:wafv2/webAclAssociation:WebAclAssociation").inputs
    assert association["resourceArn"] == alb.outputs["arn"]
    assert association["webAclArn"] == only(graph, "aws:wafv2/webAcl:WebAcl").outputs["arn"]
    assert only(graph, "aws:shield/protection:Protection").inputs["resourceArn"] == alb.outputs["arn"]
    assert not graph.of_type("aws:shield/subscription:Subscription")
    rules = only(graph, "aws:wafv2/webAcl:WebAcl").inputs["rules"]
    assert [r["statement"]["rateBasedStatement"]["limit"] for r in rules[:2]] == [300, 1000]


def test_a_ddos_on_the_alb_alarms_and_the_response_scales_the_batch_endpoint(stack_run):
    from aifinops.core.automation_settings import DdosResponseSettings, from_env

    graph, _ = stack_run
    alb = only(graph, "aws:lb/loadBalancer:LoadBalancer")
    alarm = next(a for a in graph.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
                 if a.inputs.get("metricName") == "DDoSDetected")
    assert alarm.inputs["dimensions"] == {"ResourceArn": alb.outputs["arn"]}
    topic = next(t for t in graph.of_type("aws:sns/topic:Topic") if t.name == "inference-shield-alerts")
    assert alarm.inputs["alarmActions"] == alarm.inputs["okActions"] == [topic.outputs["arn"]]
    function = next(f for f in graph.of_type("aws:lambda/function:Function") if f.name == "ddos-response-function")
    subscription = next(s for s in graph.of_type("aws:sns/topicSubscription:TopicSubscription")
                        if s.name == "ddos-response-alarms")
    assert (subscription.inputs["topic"], subscription.inputs["endpoint"]) == (topic.outputs["arn"], function.outputs["arn"])
    settings = from_env(DdosResponseSettings, function.inputs["environment"]["variables"])
    assert settings.alarm_names == (alarm.inputs["name"],) and settings.dry_run is True
    endpoint = only(graph, "aws:sagemaker/endpoint:Endpoint")
    assert endpoint.inputs["tags"][settings.non_essential_tag] == settings.non_essential_value
    serving_tags = {t["key"] for t in only(graph, "aws:autoscaling/group:Group").inputs.get("tags") or []}
    assert serving_tags and settings.non_essential_tag not in serving_tags  # the serving fleet is essential


def test_the_batch_endpoint_is_async_and_scales_to_zero(stack_run):
    graph, _ = stack_run
    config = only(graph, "aws:sagemaker/endpointConfiguration:EndpointConfiguration").inputs
    assert config["productionVariants"][0]["instanceType"] == "ml.g5.xlarge"
    assert config["asyncInferenceConfig"]["outputConfig"]["s3OutputPath"] == "s3://llm-api-batch-results/out/"
    assert only(graph, "aws:appautoscaling/target:Target").inputs["minCapacity"] == 0
    assert only(graph, "aws:sagemaker/modelPackageGroup:ModelPackageGroup").inputs["modelPackageGroupName"] == "llm-models"


def test_gpu_inference_runs_on_its_capped_node_pool(stack_run):
    graph, warnings = stack_run
    pool = only(graph, "kubernetes:karpenter.sh/v1:NodePool").inputs["spec"]
    assert pool["limits"] == {"nvidia.com/gpu": "8"}
    spec = only(graph, "kubernetes:apps/v1:Deployment").inputs["spec"]["template"]["spec"]
    assert spec["nodeSelector"] == {"karpenter.sh/nodepool": "llm-gpu"}
    assert not [w for w in warnings if "not pinned by digest" in w]


def test_the_policy_packs_pass_it(stack_run, policy_packs):
    graph, _ = stack_run
    result = policy_packs.check(graph)
    assert result.mandatory == []
    assert not [v for v in result.violations if v.policy in OUR_POLICIES]


def test_without_the_waf_the_alb_fails_the_rate_limit_policy(preview_stack_program, policy_packs):
    config = example_stack_config(STACK)
    config.pop("aifinops:wafRateLimits")
    result = policy_packs.check(preview_stack_program(config, STACK))
    assert {v.policy for v in result.mandatory} == {"public-endpoints-rate-limited"}
    assert [result.graph.resources[v.urn].name for v in result.mandatory] == ["inference-alb"]


def test_aifinops_preview_passes_the_packs_on_it():
    result = subprocess.run([sys.executable, "-m", "aifinops", "preview", "--stack", STACK, "--json"],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    types = [step["newState"]["type"] for step in json.loads(result.stdout)["steps"]]
    for expected in ("aifinops:compute:GpuFleet", "aifinops:edge:WafRateLimit", "aifinops:edge:ShieldProtection",
                     "aifinops:k8s:GpuInference", "aifinops:ml:SageMakerEndpoint", "aifinops:ml:ModelRegistry",
                     "aifinops:automation:DdosCostResponse"):
        assert expected in types


@pytest.mark.parametrize("section, entry, message", [
    ("loadBalancers", {"name": "lb", "scheme": "internal"}, r"loadBalancers\[0\].scheme: unknown setting"),
    ("loadBalancers", {"name": "lb", "allowedCidrs": "0.0.0.0/0"}, r"allowed_cidrs: expected a list"),
    ("wafRateLimits", {"name": "w", "associations": {"alb": "nowhere"}},
     r"wafRateLimits\[0\].associations.alb: expected an ARN or the name of a component built earlier"),
    ("shieldProtections", {"name": "s", "resources": {"alb": "nowhere"}},
     r"shieldProtections\[0\].resources.alb: expected an ARN or the name of a component built earlier"),
    ("gpuFleets", {"name": "f", "instanceTypes": ["g5.xlarge", "g6.xlarge"], "spotPrice": 1},
     r"gpuFleets\[0\].spotPrice: unknown setting"),
    ("gpuFleets", {"name": "f", "instanceTypes": ["g5.xlarge", "g6.xlarge"], "checkpointBucketArn": "nowhere"},
     r"gpuFleets\[0\].checkpointBucketArn: expected an ARN or the name of a component built earlier"),
    ("gpuInferences", {"name": "llm", "image": "repo/x:1", "nodePool": {"gpus": 4}},
     r"gpuInferences\[0\].nodePool.gpus: unknown setting"),
    ("ddosCostResponses", {"name": "d", "shieldProtection": "nowhere"},
     r"ddosCostResponses\[0\].shieldProtection: expected the name of a shieldProtections entry"),
    ("sagemakerEndpoints", {"name": "e", "imageUri": "x", "executionRoleArn": "arn:aws:iam::123456789012:role/r",
                            "instanceType": "ml.p5en.48xlarge"}, r"instance_type: accelerated instance type"),
])
def test_config_mistakes_name_the_setting(preview_stack_program, section, entry, message):
    with pytest.raises(ProgramError, match=message):
        preview_stack_program(tagged_config({section: [entry]}, project="aifinops"))


def test_a_fleet_checkpoints_to_a_tiered_bucket_by_name(preview_stack_program):
    config = tagged_config({"tieredBuckets": [{"name": "ckpt", "presets": ["checkpoints"]}],
                            "gpuFleets": [{"name": "train", "instanceTypes": ["g5.xlarge", "g6.xlarge"],
                                           "checkpointBucketArn": "ckpt"}]}, project="aifinops")
    graph = preview_stack_program(config)
    bucket = next(b for b in graph.of_type("aws:s3/bucket:Bucket") if b.name == "ckpt")
    policy = json.loads(next(p for p in graph.of_type("aws:iam/rolePolicy:RolePolicy")
                             if p.name == "train-checkpoints").inputs["policy"])
    assert f"{bucket.outputs['arn']}/checkpoints/*" in {s["Resource"] for s in policy["Statement"]}
