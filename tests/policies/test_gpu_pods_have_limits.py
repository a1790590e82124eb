"""gpu-pods-have-limits through the real Analyzer gRPC path."""
from __future__ import annotations

import json

import pytest

POLICY = "gpu-pods-have-limits"
CONFIG = {"aws:region": "us-east-1"}

DEPLOYMENT = """
import json
import pulumi_kubernetes as k8s
k8s.apps.v1.Deployment("web", metadata={{"name": "web", "namespace": "ml"}}, spec={{
    "selector": {{"matchLabels": {{"app": "web"}}}},
    "template": {{"metadata": {{"labels": {{"app": "web"}}}}, "spec": {{"containers": [
        {{"name": "server", "image": "repo/server:1", "resources": json.loads('''{resources}''')}}]}}}}}})
"""


def deployment(requests: dict | None = None, limits: dict | None = None) -> str:
    resources = {k: v for k, v in (("requests", requests), ("limits", limits)) if v is not None}
    return DEPLOYMENT.format(resources=json.dumps(resources))


def test_gpu_inference_sets_gpu_and_memory_limits(check_policies):
    program = """
from aifinops.components.gpu_inference import GpuInference, GpuInferenceArgs
GpuInference("llm", GpuInferenceArgs(image="ghcr.io/acme/vllm@sha256:" + "b" * 64, gpus_per_pod=2))
"""
    result = check_policies(program, CONFIG)
    assert result.of(POLICY) == []
    container = result.graph.of_type("kubernetes:apps/v1:Deployment")[0].inputs["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "2"


def test_a_gpu_request_without_limits_fails(check_policies):
    result = check_policies(deployment(requests={"nvidia.com/gpu": 1, "memory": "8Gi"}), CONFIG)
    assert result.names(POLICY) == {"web"}
    messages = result.messages(POLICY)
    assert any("container 'server' (spec.template.spec.containers[0]) requests nvidia.com/gpu without a limit" in m
               for m in messages)
    assert any("without limits for memory" in m for m in messages)


def test_request_and_limit_must_match(check_policies):
    result = check_policies(deployment(requests={"nvidia.com/gpu": 2}, limits={"nvidia.com/gpu": 1, "memory": "8Gi"}),
                            CONFIG)
    assert "requests 2 nvidia.com/gpu but limits it to 1 (they must be equal)" in result.messages(POLICY)[0]


def test_memory_limit_is_required_unless_configured_away(check_policies):
    program = deployment(limits={"nvidia.com/mig-1g.10gb": 1})
    result = check_policies(program, CONFIG)
    assert "uses nvidia.com/mig-1g.10gb without limits for memory" in result.messages(POLICY)[0]
    assert check_policies(program, CONFIG, policy_config={POLICY: {"requiredLimits": []}}).of(POLICY) == []


def test_cpu_only_pods_are_not_this_policys_concern(check_policies):
    assert check_policies(deployment(requests={"cpu": "1"}), CONFIG).of(POLICY) == []


@pytest.mark.parametrize("resource, path", [
    ('k8s.core.v1.Pod("res", metadata={"name": "res"}, spec={"containers": [CONTAINER]})', "spec.containers[0]"),
    ('k8s.batch.v1.CronJob("res", metadata={"name": "res"}, spec={"schedule": "0 * * * *", "jobTemplate": {"spec": '
     '{"template": {"spec": {"restartPolicy": "Never", "containers": [CONTAINER]}}}}})',
     "spec.jobTemplate.spec.template.spec.containers[0]"),
    ('k8s.apps.v1.StatefulSet("res", metadata={"name": "res"}, spec={"serviceName": "res", "selector": {"matchLabels": '
     '{"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"initContainers": [CONTAINER], '
     '"containers": [{"name": "ok", "image": "repo/x:1"}]}}})', "spec.template.spec.initContainers[0]"),
])
def test_every_workload_kind_and_init_containers_are_checked(check_policies, resource, path):
    program = ('import pulumi_kubernetes as k8s\n'
               'CONTAINER = {"name": "gpu", "image": "repo/x:1", "resources": {"requests": {"amd.com/gpu": 1}}}\n'
               f'{resource}\n')
    result = check_policies(program, CONFIG)
    assert result.names(POLICY) == {"res"}
    assert f"container 'gpu' ({path}) requests amd.com/gpu without a limit" in result.messages(POLICY)[0]
