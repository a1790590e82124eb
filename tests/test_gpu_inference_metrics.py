"""GpuInference's GPU metrics: the DCGM exporter, the Prometheus Operator objects, the prometheus-adapter rule
that feeds the HPA's gpu-utilization metric, and checkov on all of it."""
from __future__ import annotations

import pytest
import yaml

from aifinops.checkov.run import scan_graphs
from aifinops.components.gpu_inference_metrics import DCGM_EXPORTER_IMAGE, label_name
from aifinops.core import catalog
from aifinops.core.errors import ProgramError
from tests.conftest import DEFAULT_COST_TAGS, tagged_config, warnings_of

PINNED = "ghcr.io/acme/vllm@sha256:" + "c" * 64
PROGRAM = """
import pulumi
from aifinops.components.gpu_inference import *
from aifinops.components.gpu_inference_metrics import GpuMetricsArgs
from aifinops.components.tagging import register_cost_tags
register_cost_tags(pulumi.Config().require_object("costTags"))
GpuInference("llm", GpuInferenceArgs(image={image!r}, {args}))
"""
GPU_SCALING = "autoscaling=InferenceAutoscaling(metric='gpu-utilization', target=70)"
POOL = "node_pool=KarpenterNodePoolArgs(instance_types=['g6.xlarge', 'g5.xlarge'])"


def build(preview, args: str = ""):
    graph = preview(PROGRAM.format(image=PINNED, args=args), tagged_config())
    by_name = {r.name: r for r in graph if r.type.startswith("kubernetes:") and r.custom}
    return graph, by_name


def test_the_exporter_runs_pinned_on_the_gpu_nodes_only(preview):
    graph, objects = build(preview, POOL)
    namespace = objects["llm-gpu-metrics-namespace"].inputs["metadata"]
    assert namespace["name"] == "llm-gpu-metrics"
    assert namespace["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    daemonsets = [r for r in graph.of_type("kubernetes:apps/v1:DaemonSet")]
    assert len(daemonsets) == 1
    daemonset = daemonsets[0].inputs
    spec = daemonset["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert container["image"] == DCGM_EXPORTER_IMAGE == "nvcr.io/nvidia/k8s/dcgm-exporter:4.2.3-4.1.3-ubuntu22.04"
    assert container["imagePullPolicy"] == "Always"  # a tag, not a digest
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"name": "pod-resources", "hostPath": {"path": "/var/lib/kubelet/pod-resources", "type": "Directory"}} \
        in spec["volumes"]
    assert {e["name"]: e["value"] for e in container["env"]}["DCGM_EXPORTER_KUBERNETES"] == "true"
    assert "nvidia.com/gpu" not in container["resources"]["limits"]  # never takes a GPU from the model server
    terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [{"matchExpressions": [{"key": "node.kubernetes.io/instance-type", "operator": "In",
                                            "values": ["g6.xlarge", "g5.xlarge"]}]}]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]
    services = [s.inputs for s in graph.of_type("kubernetes:core/v1:Service")
                if s.inputs["metadata"]["namespace"] == "llm-gpu-metrics"]
    assert services[0]["spec"]["ports"] == [{"name": "metrics", "port": 9400, "targetPort": "metrics",
                                             "protocol": "TCP"}]
    assert services[0]["spec"]["selector"] == daemonset["spec"]["selector"]["matchLabels"]
    # No Prometheus Operator by default: no ServiceMonitor or PrometheusRule; the HPA scales on CPU: no adapter rule.
    assert not [r for r in graph if "monitoring.coreos.com" in r.type]
    assert not graph.of_type("kubernetes:core/v1:ConfigMap")


def test_without_a_pool_the_exporter_follows_every_nvidia_type_in_the_catalog(preview):
    graph, _ = build(preview)
    spec = graph.of_type("kubernetes:apps/v1:DaemonSet")[0].inputs["spec"]["template"]["spec"]
    values = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"][0]["matchExpressions"][0]["values"]
    assert "p5.48xlarge" in values and "g4dn.xlarge" in values
    assert "inf2.xlarge" not in values and "trn1.2xlarge" not in values
    assert set(values) == {t for t in catalog.accelerated_types() if catalog.lookup(t).manufacturer == "NVIDIA"}


def test_the_operator_objects_carry_the_seed_alert_and_the_cost_tags(preview):
    graph, objects = build(preview, "gpu_metrics=GpuMetricsArgs(prometheus_operator=True)")
    monitor = objects["llm-dcgm-exporter-monitor"].inputs
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1" and monitor["kind"] == "ServiceMonitor"
    service = next(s.inputs for s in graph.of_type("kubernetes:core/v1:Service")
                   if s.inputs["metadata"]["namespace"] == "llm-gpu-metrics")
    assert monitor["spec"]["selector"]["matchLabels"] == service["metadata"]["labels"]
    assert monitor["spec"]["endpoints"] == [{"port": "metrics", "interval": "15s"}]
    rule = objects["llm-gpu-utilisation-rule"].inputs
    assert rule["kind"] == "PrometheusRule" and rule["metadata"]["namespace"] == "llm"
    (alert,) = rule["spec"]["groups"][0]["rules"]
    assert alert["expr"] == ('avg by (exported_namespace, exported_pod) '
                             '(DCGM_FI_DEV_GPU_UTIL{exported_namespace="llm"}) < 50')
    assert alert["for"] == "10m"
    assert {k: alert["labels"][k] for k in DEFAULT_COST_TAGS} == DEFAULT_COST_TAGS


def test_the_adapter_rule_serves_the_metric_the_hpa_reads(preview):
    graph, objects = build(preview, GPU_SCALING)
    hpa = graph.of_type("kubernetes:autoscaling/v2:HorizontalPodAutoscaler")[0].inputs
    hpa_metric = hpa["spec"]["metrics"][0]["pods"]["metric"]["name"]
    config_map = objects["llm-prometheus-adapter-rules"].inputs
    assert config_map["metadata"] == {"name": "llm-prometheus-adapter-rules", "namespace": "monitoring",
                                      "labels": {"app.kubernetes.io/managed-by": "aifinops"}}
    (rule,) = yaml.safe_load(config_map["data"]["config.yaml"])["rules"]
    assert rule["name"]["as"] == hpa_metric == "DCGM_FI_DEV_GPU_UTIL"
    assert rule["seriesQuery"].startswith("DCGM_FI_DEV_GPU_UTIL{")
    assert rule["resources"]["overrides"] == {"exported_namespace": {"resource": "namespace"},
                                              "exported_pod": {"resource": "pod"}}
    assert rule["metricsQuery"] == "avg(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)"
    component = graph.of_type("aifinops:k8s:GpuInference")[0]
    assert component.outputs["prometheusAdapterConfigMap"] == "llm-prometheus-adapter-rules"


def test_opting_out_with_a_gpu_hpa_warns_that_the_cluster_must_provide_the_metric(preview):
    graph, objects = build(preview, f"{GPU_SCALING}, gpu_metrics=None")
    assert not graph.of_type("kubernetes:apps/v1:DaemonSet") and not graph.of_type("kubernetes:core/v1:ConfigMap")
    assert any("gpu_metrics is None: the cluster must already run the DCGM exporter" in w for w in warnings_of(graph))


def test_checkov_passes_the_component_with_every_skip_explained(preview):
    graph, _ = build(preview, f"{GPU_SCALING}, {POOL}, gpu_metrics=GpuMetricsArgs(prometheus_operator=True)")
    (scan,) = scan_graphs([graph])
    assert scan.scanned.get("kubernetes", 0) > 0
    assert not [f"{f.check_id} {f.checkov_resource}" for f in scan.failed]
    skipped = {(f.check_id, f.suppression_reason) for f in scan.suppressed if "dcgm" in f.checkov_resource}
    assert {c for c, _ in skipped} >= {"CKV_K8S_23", "CKV_K8S_40", "CKV_K8S_43"}
    assert all(reason for _, reason in skipped)


def test_a_digest_pinned_exporter_drops_the_digest_skip(preview):
    digest = "nvcr.io/nvidia/k8s/dcgm-exporter@sha256:" + "a" * 64
    graph, _ = build(preview, f"gpu_metrics=GpuMetricsArgs(exporter_image={digest!r})")
    template = graph.of_type("kubernetes:apps/v1:DaemonSet")[0].inputs["spec"]["template"]
    assert template["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    skips = " ".join(template["metadata"]["annotations"].values())
    assert "CKV_K8S_43" not in skips and "CKV_K8S_15=image pinned by digest" in skips


@pytest.mark.parametrize("args, message", [
    ("gpu_metrics=GpuMetricsArgs(exporter_image='nvcr.io/nvidia/k8s/dcgm-exporter:latest')",
     "gpu_metrics.exporter_image: 'nvcr.io/nvidia/k8s/dcgm-exporter:latest' is not pinned"),
    ("gpu_metrics=GpuMetricsArgs(low_utilisation_percent=120)", "gpu_metrics.low_utilisation_percent"),
    ("gpu_metrics=GpuMetricsArgs(adapter_namespace='Monitoring')", "gpu_metrics.adapter_namespace"),
    ("gpu_metrics=True", "gpu_metrics: expected GpuMetricsArgs or None, got True"),
])
def test_bad_arguments_are_rejected_before_anything_is_registered(preview, args, message):
    with pytest.raises(ProgramError, match=message):
        build(preview, args)


def test_tag_keys_become_prometheus_label_names():
    assert label_name("CostCenter") == "CostCenter" and label_name("aws:team-name") == "aws_team_name"
    assert label_name("1st") == "_1st"


def test_the_estimate_charges_the_operator_objects_nothing_and_leaves_the_exporter_to_the_nodes(preview):
    from aifinops.core.estimate import FREE, UNPRICED, estimate
    from aifinops.cost_estimate import cost_views

    graph, _ = build(preview, "gpu_metrics=GpuMetricsArgs(prometheus_operator=True)")
    status = {(r.type.rsplit(":", 1)[-1], r.name): r.status
              for r in estimate(cost_views(graph), None, stack=graph.stack).resources}
    assert status[("ServiceMonitor", "llm-dcgm-exporter-monitor")] == FREE
    assert status[("PrometheusRule", "llm-gpu-utilisation-rule")] == FREE
    assert status[("DaemonSet", "llm-dcgm-exporter")] == UNPRICED  # it runs on the nodes, priced with them
