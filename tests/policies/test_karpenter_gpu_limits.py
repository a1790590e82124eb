"""karpenter-gpu-limits through the real Analyzer gRPC path."""
from __future__ import annotations

import json

import pytest

POLICY = "karpenter-gpu-limits"
CONFIG = {"aws:region": "us-east-1"}

NODE_POOL = """
import json
import pulumi_kubernetes as k8s
k8s.apiextensions.CustomResource("pool", api_version="karpenter.sh/{version}", kind="NodePool",
    metadata={{"name": "pool"}}, spec=json.loads('''{spec}'''))
"""


def node_pool(requirements: list, limits: dict | None = None, version: str = "v1") -> str:
    spec = {"template": {"spec": {"requirements": requirements,
                                  "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass",
                                                   "name": "default"}}}}
    if limits is not None:
        spec["limits"] = limits
    return NODE_POOL.format(version=version, spec=json.dumps(spec))


def req(key: str, operator: str, *values: str) -> dict:
    short = {"type": "node.kubernetes.io/instance-type"}.get(key, f"karpenter.k8s.aws/instance-{key}")
    return {"key": short, "operator": operator, **({"values": list(values)} if values else {})}


def test_the_gpu_inference_node_pool_passes_this_and_the_approved_types_policy(check_policies):
    program = """
from aifinops.components.gpu_inference import GpuInference, GpuInferenceArgs, KarpenterNodePoolArgs
GpuInference("llm", GpuInferenceArgs(image="ghcr.io/acme/vllm@sha256:" + "a" * 64,
                                     node_pool=KarpenterNodePoolArgs(gpu_limit=8)))
"""
    result = check_policies(program, CONFIG)
    assert result.of(POLICY) == [] and result.of("approved-gpu-instance-types") == []
    pool = result.graph.of_type("kubernetes:karpenter.sh/v1:NodePool")[0]
    assert pool.inputs["spec"]["limits"] == {"nvidia.com/gpu": "8"}


@pytest.mark.parametrize("version", ["v1", "v1beta1"])
def test_a_gpu_pool_without_a_gpu_cap_fails(check_policies, version):
    result = check_policies(node_pool([req("type", "In", "g5.xlarge", "g6.xlarge")], {"cpu": "1000"}, version), CONFIG)
    assert result.names(POLICY) == {"pool"}
    (message,) = result.messages(POLICY)
    assert "can launch accelerated types (g5.xlarge, g6.xlarge)" in message
    assert "does not cap 'nvidia.com/gpu'" in message


def test_a_pool_that_cannot_launch_accelerators_needs_no_cap(check_policies):
    program = node_pool([req("category", "In", "c", "m", "r")], {"cpu": "1000"})
    assert check_policies(program, CONFIG).of(POLICY) == []


def test_a_pool_without_requirements_must_cap_every_accelerator_it_could_launch(check_policies):
    result = check_policies(node_pool([], {"nvidia.com/gpu": "8"}), CONFIG)
    messages = " ".join(result.messages(POLICY))
    assert "'nvidia.com/gpu'" not in messages
    for resource in ("amd.com/gpu", "aws.amazon.com/neuron", "habana.ai/gaudi"):
        assert f"does not cap '{resource}'" in messages


@pytest.mark.parametrize("requirements, limits", [
    ([req("family", "In", "inf2")], {"aws.amazon.com/neuron": 4}),
    ([req("gpu-manufacturer", "In", "nvidia")], {"nvidia.com/gpu": "16"}),
    ([req("gpu-count", "Gt", "0"), req("gpu-manufacturer", "NotIn", "amd", "qualcomm")], {"nvidia.com/gpu": 16}),
    ([req("gpu-count", "DoesNotExist"), req("accelerator-count", "DoesNotExist"), req("category", "NotIn", "dl")],
     {"cpu": "64"}),
    ([req("category", "NotIn", "g", "gr", "p", "inf", "trn", "dl")], {}),
])
def test_requirements_narrow_what_must_be_capped(check_policies, requirements, limits):
    assert check_policies(node_pool(requirements, limits), CONFIG).of(POLICY) == []


def test_a_cap_must_be_a_whole_number_within_the_configured_maximum(check_policies):
    program = node_pool([req("gpu-manufacturer", "In", "nvidia")], {"nvidia.com/gpu": "1000"})
    result = check_policies(program, CONFIG)
    assert result.names(POLICY) == {"pool"}
    assert "spec.limits['nvidia.com/gpu'] is '1000'; expected a whole number of at most 64" in result.messages(POLICY)[0]
    assert check_policies(program, CONFIG, policy_config={POLICY: {"maxAcceleratorLimit": 1000}}).of(POLICY) == []
    fractional = node_pool([req("gpu-manufacturer", "In", "nvidia")], {"nvidia.com/gpu": "1.5"})
    assert check_policies(fractional, CONFIG).names(POLICY) == {"pool"}


def test_other_custom_resources_are_ignored(check_policies):
    program = """
import pulumi_kubernetes as k8s
k8s.apiextensions.CustomResource("nc", api_version="karpenter.k8s.aws/v1", kind="EC2NodeClass",
    metadata={"name": "default"}, spec={"amiSelectorTerms": [{"alias": "al2023@latest"}]})
"""
    assert check_policies(program, CONFIG).of(POLICY) == []
