"""GpuInference: the hardened pod, HPA v2, PDB, NetworkPolicy, the Karpenter NodePool, and every bad argument."""
from __future__ import annotations

import pytest

from aifinops.components.gpu_inference import (
    GpuInference,
    GpuInferenceArgs,
    InferenceAutoscaling,
    KarpenterNodePoolArgs,
    is_pinned,
)
from tests.conftest import only, tagged_config, warnings_of

PINNED = "ghcr.io/acme/vllm@sha256:" + "c" * 64
PROGRAM = """
import pulumi
from aifinops.components.gpu_inference import *
app = GpuInference("llm", GpuInferenceArgs({args}))
pulumi.export("maxGpus", app.max_gpus)
pulumi.export("namespace", app.namespace)
"""


def build(preview, args: str = f"image={PINNED!r}"):
    graph = preview(PROGRAM.format(args=args), tagged_config())
    kinds = {r.type.split(":")[-1]: r for r in graph if r.type.startswith("kubernetes:") and r.custom}
    return graph, kinds


def pod_spec(kinds) -> dict:
    return kinds["Deployment"].inputs["spec"]["template"]["spec"]


def test_defaults_harden_the_pod_and_set_gpu_requests_equal_to_limits(preview):
    graph, kinds = build(preview)
    assert kinds["Namespace"].inputs["metadata"]["name"] == "llm"
    assert kinds["Namespace"].inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    spec = pod_spec(kinds)
    (container,) = spec["containers"]
    assert container["resources"]["requests"] == container["resources"]["limits"] == {
        "cpu": "3", "memory": "12Gi", "nvidia.com/gpu": "1"}
    security = container["securityContext"]
    assert security["runAsNonRoot"] is True and security["runAsUser"] == 10001
    assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"} == spec["securityContext"]["seccompProfile"]
    assert spec["automountServiceAccountToken"] is False
    assert kinds["ServiceAccount"].inputs["automountServiceAccountToken"] is False
    assert spec["serviceAccountName"] == kinds["ServiceAccount"].inputs["metadata"]["name"]
    # A read-only root needs writable scratch space: /tmp, shared memory for the framework, a model cache.
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert mounts == {"/tmp", "/dev/shm", "/cache"}
    assert {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "2Gi"}} in spec["volumes"]
    assert container["image"] == PINNED and container["imagePullPolicy"] == "IfNotPresent"
    assert kinds["Deployment"].inputs["spec"]["template"]["metadata"]["annotations"] == {
        "checkov.io/skip1": "CKV_K8S_15=image pinned by digest"}
    assert container["startupProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["startupProbe"]["failureThreshold"] * container["startupProbe"]["periodSeconds"] >= 600
    assert container["livenessProbe"]["httpGet"]["path"] == container["readinessProbe"]["httpGet"]["path"] == "/health"
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]
    assert "nodeSelector" not in spec and "NodePool" not in kinds
    for kind in ("Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy"):
        assert kinds[kind].inputs["metadata"]["namespace"] == "llm"
    assert graph.stack_outputs["maxGpus"] == 4 and graph.stack_outputs["namespace"] == "llm"
    assert warnings_of(graph) == []  # pinned by digest: nothing to warn about


def test_hpa_v2_pdb_and_service_defaults(preview):
    _, kinds = build(preview)
    hpa = kinds["HorizontalPodAutoscaler"]
    assert hpa.type == "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
    spec = hpa.inputs["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "llm"}
    assert (spec["minReplicas"], spec["maxReplicas"]) == (1, 4)
    assert spec["metrics"] == [{"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": 70}}}]
    assert spec["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300
    pdb = kinds["PodDisruptionBudget"].inputs["spec"]
    assert pdb["maxUnavailable"] == 1 and "minAvailable" not in pdb  # never blocks drains or consolidation
    labels = kinds["Deployment"].inputs["spec"]["selector"]["matchLabels"]
    assert pdb["selector"]["matchLabels"] == labels == kinds["Service"].inputs["spec"]["selector"]
    assert kinds["Service"].inputs["spec"]["ports"][0]["targetPort"] == "http"


@pytest.mark.parametrize("autoscaling, metric", [
    ("InferenceAutoscaling(metric='memory', target=80)",
     {"type": "Resource", "resource": {"name": "memory", "target": {"type": "Utilization", "averageUtilization": 80}}}),
    ("InferenceAutoscaling(metric='gpu-utilization', target=60)",
     {"type": "Pods", "pods": {"metric": {"name": "DCGM_FI_DEV_GPU_UTIL"},
                               "target": {"type": "AverageValue", "averageValue": "60"}}}),
    ("InferenceAutoscaling(metric='p99-latency', target=0.75)",
     {"type": "Pods", "pods": {"metric": {"name": "http_request_duration_seconds_p99"},
                               "target": {"type": "AverageValue", "averageValue": "750m"}}}),
    ("InferenceAutoscaling(metric='p99-latency', target=2, metric_name='vllm:e2e_request_latency_p99')",
     {"type": "Pods", "pods": {"metric": {"name": "vllm:e2e_request_latency_p99"},
                               "target": {"type": "AverageValue", "averageValue": "2000m"}}}),
])
def test_hpa_scales_on_memory_gpu_utilisation_or_latency(preview, autoscaling, metric):
    _, kinds = build(preview, f"image={PINNED!r}, autoscaling={autoscaling}")
    assert kinds["HorizontalPodAutoscaler"].inputs["spec"]["metrics"] == [metric]


def test_network_policy_admits_the_port_only_and_egress_to_dns_and_https(preview):
    _, kinds = build(preview)
    policy = kinds["NetworkPolicy"].inputs["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert policy["ingress"] == [{"ports": [{"protocol": "TCP", "port": 8080}]}]
    dns, https = policy["egress"]
    assert {p["port"] for p in dns["ports"]} == {53}
    assert dns["to"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}]
    assert https == {"ports": [{"protocol": "TCP", "port": 443}]}
    _, narrowed = build(preview, f"image={PINNED!r}, ingress_from_namespaces=['gateway'], "
                                 f"ingress_cidrs=['10.0.0.0/16'], allow_egress_https=False")
    narrowed_policy = narrowed["NetworkPolicy"].inputs["spec"]
    assert narrowed_policy["ingress"][0]["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "gateway"}}},
        {"ipBlock": {"cidr": "10.0.0.0/16"}}]
    assert len(narrowed_policy["egress"]) == 1


def test_karpenter_node_pool_caps_gpus_and_taints_what_the_pods_tolerate(preview):
    _, kinds = build(preview, f"image={PINNED!r}, gpus_per_pod=1, "
                              f"node_pool=KarpenterNodePoolArgs(gpu_limit=6, capacity_types=['spot', 'on-demand'])")
    pool = kinds["NodePool"]
    assert pool.type == "kubernetes:karpenter.sh/v1:NodePool"
    assert pool.inputs["apiVersion"] == "karpenter.sh/v1" and pool.inputs["metadata"]["name"] == "llm-gpu"
    spec = pool.inputs["spec"]
    requirements = {r["key"]: r for r in spec["template"]["spec"]["requirements"]}
    assert requirements["karpenter.sh/capacity-type"]["values"] == ["spot", "on-demand"]
    assert requirements["node.kubernetes.io/instance-type"]["values"] == ["g6.xlarge", "g6.2xlarge", "g5.xlarge",
                                                                          "g5.2xlarge"]
    assert spec["limits"] == {"nvidia.com/gpu": "6"}
    assert spec["disruption"] == {"consolidationPolicy": "WhenEmptyOrUnderutilized", "consolidateAfter": "5m"}
    (taint,) = spec["template"]["spec"]["taints"]
    tolerations = pod_spec(kinds)["tolerations"]
    assert any(t["key"] == taint["key"] and t["effect"] == taint["effect"] for t in tolerations)
    assert pod_spec(kinds)["nodeSelector"] == {"karpenter.sh/nodepool": "llm-gpu"}


def test_a_tagged_image_is_accepted_with_a_warning_and_always_pulled(preview):
    graph, kinds = build(preview, "image='ghcr.io/acme/vllm:0.6.3'")
    (warning,) = [d for d in graph.diagnostics if d["severity"] == "warning"]
    assert "is not pinned by digest" in warning["message"]
    assert "ghcr.io/acme/vllm@sha256:<digest>" in warning["message"]
    assert warning["urn"] == only(graph, "aifinops:k8s:GpuInference").urn
    container = pod_spec(kinds)["containers"][0]
    assert container["imagePullPolicy"] == "Always"
    assert "annotations" not in kinds["Deployment"].inputs["spec"]["template"]["metadata"]
    assert is_pinned(PINNED) and not is_pinned("ghcr.io/acme/vllm:0.6.3")


@pytest.mark.parametrize("kwargs, message", [
    (dict(image="ghcr.io/acme/vllm"), "image: 'ghcr.io/acme/vllm' has no tag or uses 'latest'"),
    (dict(image="ghcr.io/acme/vllm:latest"), "image: 'ghcr.io/acme/vllm:latest' has no tag or uses 'latest'"),
    (dict(image="has spaces:1"), "image: expected a container image reference"),
    (dict(image=PINNED, namespace="ML_Team"), "namespace: expected a DNS label"),
    (dict(image=PINNED, port=80), "port: expected a whole number from 1024 to 65535, got 80"),
    (dict(image=PINNED, gpus_per_pod=0), "gpus_per_pod: expected a whole number from 1 to 16, got 0"),
    (dict(image=PINNED, cpu="four"), "cpu: expected a Kubernetes quantity"),
    (dict(image=PINNED, memory="16GB"), "memory: expected a Kubernetes quantity"),
    (dict(image=PINNED, shared_memory=""), "shared_memory: expected a Kubernetes quantity"),
    (dict(image=PINNED, cache_size="lots"), "cache_size: expected a Kubernetes quantity"),
    (dict(image=PINNED, health_path="health"), "health_path: expected an HTTP path"),
    (dict(image=PINNED, readiness_path="/ready?x=1"), "readiness_path: expected an HTTP path"),
    (dict(image=PINNED, startup_timeout_seconds=5), "startup_timeout_seconds: expected a whole number from 10 to 3600"),
    (dict(image=PINNED, autoscaling={"min_replicas": 1}), "autoscaling: expected InferenceAutoscaling"),
    (dict(image=PINNED, autoscaling=InferenceAutoscaling(min_replicas=0)), "autoscaling.min_replicas: expected a whole number of at least 1"),
    (dict(image=PINNED, autoscaling=InferenceAutoscaling(min_replicas=3, max_replicas=2)), "autoscaling.max_replicas: expected a whole number from 3"),
    (dict(image=PINNED, autoscaling=InferenceAutoscaling(metric="qps")), "autoscaling.metric: expected one of 'cpu'"),
    (dict(image=PINNED, autoscaling=InferenceAutoscaling(target=150)), r"autoscaling.target: expected a number in \[1, 100\]"),
    (dict(image=PINNED, autoscaling=InferenceAutoscaling(metric="p99-latency", target=0)), r"autoscaling.target: expected a number in \[0.001, 600\]"),
    (dict(image=PINNED, autoscaling=InferenceAutoscaling(metric_name="latency")), "autoscaling.metric_name: only used with metric 'p99-latency'"),
    (dict(image=PINNED, autoscaling=InferenceAutoscaling(metric="p99-latency", metric_name="p99 latency")), "autoscaling.metric_name: expected a metric name"),
    (dict(image=PINNED, autoscaling=InferenceAutoscaling(scale_down_stabilization_seconds=-1)), "autoscaling.scale_down_stabilization_seconds"),
    (dict(image=PINNED, pdb_max_unavailable=0), "pdb_max_unavailable: expected a whole number of at least 1"),
    (dict(image=PINNED, ingress_from_namespaces=["Gateway"]), r"ingress_from_namespaces\[0\]: expected a namespace name"),
    (dict(image=PINNED, ingress_cidrs=["10.0.0.0"]), r"ingress_cidrs\[0\]: expected a CIDR block"),
    (dict(image=PINNED, allow_egress_https="no"), "allow_egress_https: expected true or false"),
    (dict(image=PINNED, env={"MODEL": 7}), "env: expected a mapping of variable names to string values"),
    (dict(image=PINNED, args="--model x"), "args: expected a list of strings"),
    (dict(image=PINNED, run_as_user=0), "run_as_user: expected a whole number from 1"),
    (dict(image=PINNED, node_pool={"gpu_limit": 8}), "node_pool: expected KarpenterNodePoolArgs"),
    (dict(image=PINNED, node_pool=KarpenterNodePoolArgs(instance_types=[])), "node_pool.instance_types: expected a list of non-empty strings with at least 1"),
    (dict(image=PINNED, node_pool=KarpenterNodePoolArgs(instance_types=["m5.large"])), r"node_pool.instance_types\[0\]: 'm5.large' is not an accelerated"),
    (dict(image=PINNED, node_pool=KarpenterNodePoolArgs(instance_types=["inf2.xlarge"])), "node_pool.instance_types: the model server requests nvidia.com/gpu"),
    (dict(image=PINNED, node_pool=KarpenterNodePoolArgs(capacity_types=["preemptible"])), r"node_pool.capacity_types\[0\]: expected one of 'spot'"),
    (dict(image=PINNED, node_pool=KarpenterNodePoolArgs(gpu_limit=0)), "node_pool.gpu_limit: expected a whole number of at least 1"),
    (dict(image=PINNED, node_pool=KarpenterNodePoolArgs(instance_types=["g5.12xlarge"], gpu_limit=2)),
     r"node_pool.gpu_limit: 2 is below the GPUs of g5.12xlarge \(4 GPUs\)"),
    (dict(image=PINNED, gpus_per_pod=4, node_pool=KarpenterNodePoolArgs(instance_types=["g5.xlarge", "g5.12xlarge"], gpu_limit=16)),
     r"node_pool.instance_types: g5.xlarge \(1 GPUs\) cannot hold a pod of gpus_per_pod 4"),
    (dict(image=PINNED, memory="20Gi", node_pool=KarpenterNodePoolArgs(instance_types=["g5.xlarge", "g6.xlarge"])),
     r"cpu / memory: a pod requesting 3 CPU and 20Gi fits none of node_pool.instance_types"),
    (dict(image=PINNED, cpu="6000m", node_pool=KarpenterNodePoolArgs(instance_types=["g5.xlarge"])),
     "cpu / memory: a pod requesting 6000m CPU"),
    (dict(image=PINNED, node_pool=KarpenterNodePoolArgs(gpu_limit=3)),
     r"node_pool.gpu_limit: 3 GPUs cannot hold autoscaling.max_replicas \(4\) x gpus_per_pod \(1\)"),
    (dict(image=PINNED, node_pool=KarpenterNodePoolArgs(consolidation_policy="Always")), "node_pool.consolidation_policy: expected one of"),
    (dict(image=PINNED, node_pool=KarpenterNodePoolArgs(consolidate_after="5 minutes")), "node_pool.consolidate_after: expected a duration"),
    (dict(image=PINNED, node_pool=KarpenterNodePoolArgs(expire_after="30d")), "node_pool.expire_after: expected a duration"),
    (dict(image=PINNED, node_pool=KarpenterNodePoolArgs(node_class="Default")), "node_pool.node_class: expected an EC2NodeClass name"),
])
def test_bad_arguments_fail_before_anything_is_registered(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GpuInference("llm", GpuInferenceArgs(**kwargs))


def test_the_name_must_be_a_dns_label():
    with pytest.raises(ValueError, match="name: expected a DNS label"):
        GpuInference("LLM_server", GpuInferenceArgs(image=PINNED))


def test_args_must_be_gpu_inference_args():
    with pytest.raises(ValueError, match="args: expected GpuInferenceArgs, got dict"):
        GpuInference("llm", {"image": PINNED})  # type: ignore[arg-type]
