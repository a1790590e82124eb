"""GPU metrics for GpuInference: NVIDIA's DCGM exporter, Prometheus Operator objects, the adapter rule.

- The DCGM exporter DaemonSet (a pinned release) runs on the GPU nodes only (node affinity on the
  catalog's NVIDIA instance types, or the component's Karpenter pool) in its own namespace, with a
  ClusterIP Service on port 9400. It runs as root without any capability: it reads the kubelet's
  pod-resources socket (a hostPath, so the namespace enforces Pod Security "privileged") to label each
  GPU's series with the pod using it. Profiling metrics (DCGM_FI_PROF_*) would need SYS_ADMIN and are
  not collected; DCGM_FI_DEV_GPU_UTIL and the memory metrics need none.
- With the Prometheus Operator: a ServiceMonitor that scrapes it, and a PrometheusRule with the seed's
  alert, GPU utilisation below 50% for 10 minutes, labelled with the stack's cost tags.
- When the HPA scales on gpu-utilization: a ConfigMap holding the prometheus-adapter rule that serves
  DCGM_FI_DEV_GPU_UTIL per pod through the custom metrics API. Point the prometheus-adapter chart at it
  (`rules.existing=<name>-prometheus-adapter-rules`, in the adapter's namespace).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s
import yaml

from aifinops.core import argument_checks as checks
from aifinops.core import catalog
from aifinops.core.device_plugins import NVIDIA_GPU

from .tagging import registered_cost_tags

# NVIDIA's DCGM exporter, pinned to a release (DCGM 4.2.3, exporter 4.1.3); pin a digest with exporter_image.
DCGM_EXPORTER_IMAGE = "nvcr.io/nvidia/k8s/dcgm-exporter:4.2.3-4.1.3-ubuntu22.04"
GPU_UTILIZATION_METRIC = "DCGM_FI_DEV_GPU_UTIL"
METRICS_PORT = 9400
POD_RESOURCES_DIR = "/var/lib/kubelet/pod-resources"
_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_IMAGE = re.compile(r"^[a-z0-9][\w./:-]*(@sha256:[0-9a-f]{64})?$")  # registry[:port]/repo[:tag][@digest]
_LABEL_NAME = re.compile(r"[^A-Za-z0-9_]")
# Scraped by the ServiceMonitor: the pod labels come as exported_namespace / exported_pod.
POD_LABELS = {"namespace": "exported_namespace", "pod": "exported_pod"}

CHECKOV_SKIPS = {
    "CKV_K8S_23": "the exporter reads the kubelet pod-resources socket, which only root may open",
    "CKV_K8S_40": "runs as root (uid 0) to read the kubelet pod-resources socket",
    "CKV_K8S_43": "pinned to an NVIDIA release tag; pass exporter_image with @sha256 to pin the digest",
}


@dataclass
class GpuMetricsArgs:
    """GPU metrics of a GpuInference (default on; None when the cluster already runs them, e.g. the GPU
    Operator's exporter, whose metric names are the same).

    - deploy_exporter: default True: the DCGM exporter DaemonSet and Service, in namespace
      `exporter_namespace` (default '<name>-gpu-metrics'). exporter_image: default DCGM_EXPORTER_IMAGE.
    - prometheus_operator: default False. True adds a ServiceMonitor and a PrometheusRule
      (monitoring.coreos.com/v1); the Prometheus Operator's CRDs must exist.
    - low_utilisation_percent / low_utilisation_minutes: the alert (default below 50% for 10 minutes).
    - cost_tags: labels on the alert; default the stack's cost tags (register_cost_tags).
    - adapter_namespace: where prometheus-adapter runs (default 'monitoring'); the adapter rule's
      ConfigMap goes there when the HPA scales on gpu-utilization.
    """

    deploy_exporter: bool = True
    exporter_image: str = DCGM_EXPORTER_IMAGE
    exporter_namespace: Optional[str] = None
    prometheus_operator: bool = False
    low_utilisation_percent: float = 50.0
    low_utilisation_minutes: int = 10
    cost_tags: Optional[Mapping[str, str]] = None
    adapter_namespace: str = "monitoring"


def validate_gpu_metrics(argument: str, metrics: Any) -> Optional[GpuMetricsArgs]:
    if metrics is None:
        return None
    if not isinstance(metrics, GpuMetricsArgs):
        raise ValueError(f"{argument}: expected GpuMetricsArgs or None, got {metrics!r}")
    for flag in ("deploy_exporter", "prometheus_operator"):
        checks.flag(f"{argument}.{flag}", getattr(metrics, flag))
    checks.text(f"{argument}.exporter_image", metrics.exporter_image, _IMAGE,
                "an image reference with a fixed tag or digest")
    if "@sha256:" not in metrics.exporter_image and (
            ":" not in metrics.exporter_image.rsplit("/", 1)[-1] or metrics.exporter_image.endswith(":latest")):
        raise ValueError(f"{argument}.exporter_image: {metrics.exporter_image!r} is not pinned; expected a release "
                         f"tag or a digest")
    for name in ("exporter_namespace", "adapter_namespace"):
        value = getattr(metrics, name)
        if value is not None:
            checks.text(f"{argument}.{name}", value, _DNS_LABEL, "a namespace name")
    checks.number_in_range(f"{argument}.low_utilisation_percent", metrics.low_utilisation_percent, 0, 100,
                           low_inclusive=False)
    checks.whole_number(f"{argument}.low_utilisation_minutes", metrics.low_utilisation_minutes, 1, 24 * 60, "minutes")
    if metrics.cost_tags is not None and (not isinstance(metrics.cost_tags, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metrics.cost_tags.items())):
        raise ValueError(f"{argument}.cost_tags: expected a mapping of tag keys to string values, "
                         f"got {metrics.cost_tags!r}")
    return metrics


def label_name(tag_key: str) -> str:
    """A Prometheus label name for a tag key ('aws:x-y' -> 'aws_x_y')."""
    name = _LABEL_NAME.sub("_", tag_key)
    return name if not name[:1].isdigit() else f"_{name}"


def low_utilisation_rule(workload: str, namespace: str, percent: float, minutes: int,
                         cost_tags: Mapping[str, str]) -> dict[str, Any]:
    """The PrometheusRule spec: one alert per pod whose GPUs average below `percent` for `minutes`."""
    selector = f'{POD_LABELS["namespace"]}="{namespace}"'
    by = f'{POD_LABELS["namespace"]}, {POD_LABELS["pod"]}'
    return {"groups": [{"name": f"{workload}-gpu-utilisation", "rules": [{
        "alert": "GpuUnderutilised",
        "expr": f"avg by ({by}) ({GPU_UTILIZATION_METRIC}{{{selector}}}) < {percent:g}",
        "for": f"{minutes}m",
        "labels": {"severity": "warning", "workload": workload, **{label_name(k): v for k, v in cost_tags.items()}},
        "annotations": {
            "summary": f"GPU utilisation of {{{{ $labels.{POD_LABELS['pod']} }}}} below {percent:g}% for {minutes} minutes",
            "description": "Paid-for GPUs are mostly idle: lower the replica count or the HPA target, or move to "
                           "a smaller GPU type.",
        },
    }]}]}


def adapter_rules() -> dict[str, Any]:
    """prometheus-adapter config: DCGM_FI_DEV_GPU_UTIL per pod, as the HPA's `Pods` metric reads it."""
    return {"rules": [{
        "seriesQuery": f'{GPU_UTILIZATION_METRIC}{{{POD_LABELS["namespace"]}!="",{POD_LABELS["pod"]}!=""}}',
        "resources": {"overrides": {POD_LABELS["namespace"]: {"resource": "namespace"},
                                    POD_LABELS["pod"]: {"resource": "pod"}}},
        "name": {"matches": f"^{GPU_UTILIZATION_METRIC}$", "as": GPU_UTILIZATION_METRIC},
        "metricsQuery": "avg(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)",
    }]}


def nvidia_instance_types(pool_types: Sequence[str]) -> list[str]:
    """The node types the exporter runs on: the pool's, else every NVIDIA type in the catalog."""
    if pool_types:
        return [catalog.normalize_instance_type(t) for t in pool_types]
    return [t for t in catalog.accelerated_types() if catalog.lookup(t).manufacturer == "NVIDIA"]


def exporter_pod_spec(name: str, image: str, instance_types: Sequence[str]) -> dict[str, Any]:
    container = {
        "name": "dcgm-exporter",
        "image": image,
        "imagePullPolicy": "IfNotPresent" if "@sha256:" in image else "Always",
        "env": [{"name": "DCGM_EXPORTER_KUBERNETES", "value": "true"},
                {"name": "DCGM_EXPORTER_LISTEN", "value": f":{METRICS_PORT}"},
                # The NVIDIA container runtime mounts every GPU without a nvidia.com/gpu request, which
                # would take a GPU away from the model server.
                {"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"}],
        "ports": [{"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"}],
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}},
        "livenessProbe": {"httpGet": {"path": "/health", "port": METRICS_PORT}, "initialDelaySeconds": 45,
                          "periodSeconds": 15},
        "readinessProbe": {"httpGet": {"path": "/health", "port": METRICS_PORT}, "initialDelaySeconds": 45,
                           "periodSeconds": 10},
        "securityContext": {"runAsNonRoot": False, "runAsUser": 0, "readOnlyRootFilesystem": True,
                            "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "volumeMounts": [{"name": "pod-resources", "mountPath": POD_RESOURCES_DIR, "readOnly": True},
                         {"name": "tmp", "mountPath": "/tmp"}],
    }
    return {
        "serviceAccountName": name,
        "automountServiceAccountToken": False,
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "priorityClassName": "system-node-critical",
        "containers": [container],
        "tolerations": [{"key": NVIDIA_GPU, "operator": "Exists", "effect": "NoSchedule"}],
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{
            "matchExpressions": [{"key": "node.kubernetes.io/instance-type", "operator": "In",
                                  "values": list(instance_types)}]}]}}},
        "volumes": [{"name": "pod-resources", "hostPath": {"path": POD_RESOURCES_DIR, "type": "Directory"}},
                    {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
    }


@dataclass
class DeployedGpuMetrics:
    exporter_namespace: Optional[str] = None
    adapter_config_map: Optional[str] = None
    adapter_rules_yaml: Optional[str] = None
    kinds: list[str] = field(default_factory=list)


def deploy_gpu_metrics(name: str, workload_namespace: str, metrics: GpuMetricsArgs, pool_types: Sequence[str],
                       hpa_reads_gpu: bool, parent: pulumi.Resource,
                       in_workload_namespace: pulumi.ResourceOptions) -> DeployedGpuMetrics:
    """The exporter (namespace, service account, DaemonSet, Service), the Operator objects, the adapter rule."""
    child = pulumi.ResourceOptions(parent=parent)
    result = DeployedGpuMetrics()
    exporter_ns = metrics.exporter_namespace or f"{name}-gpu-metrics"
    labels = {"app.kubernetes.io/name": f"{name}-dcgm-exporter", "app.kubernetes.io/managed-by": "aifinops"}
    meta = {"name": f"{name}-dcgm-exporter", "namespace": exporter_ns, "labels": labels}
    if metrics.deploy_exporter:
        ns = k8s.core.v1.Namespace(f"{name}-gpu-metrics-namespace", metadata={"name": exporter_ns, "labels": {
            "pod-security.kubernetes.io/enforce": "privileged",  # the pod-resources hostPath
            "pod-security.kubernetes.io/warn": "restricted"}}, opts=child)
        in_ns = pulumi.ResourceOptions(parent=parent, depends_on=[ns])
        account = k8s.core.v1.ServiceAccount(f"{name}-dcgm-exporter", metadata=meta,
                                             automount_service_account_token=False, opts=in_ns)
        skips = {k: v for k, v in CHECKOV_SKIPS.items() if k != "CKV_K8S_43" or "@sha256:" not in metrics.exporter_image}
        annotations = {f"checkov.io/skip{i}": f"{check}={reason}" for i, (check, reason) in
                       enumerate(sorted(skips.items()), start=1)}
        if "@sha256:" in metrics.exporter_image:
            annotations[f"checkov.io/skip{len(annotations) + 1}"] = "CKV_K8S_15=image pinned by digest"
        # checkov reads skips from the DaemonSet's annotations and from its pod template's (the Pod it counts).
        k8s.apps.v1.DaemonSet(f"{name}-dcgm-exporter", metadata={**meta, "annotations": annotations}, spec={
            "selector": {"matchLabels": labels},
            "updateStrategy": {"type": "RollingUpdate"},
            "template": {"metadata": {"labels": labels, "annotations": annotations},
                         "spec": exporter_pod_spec(meta["name"], metrics.exporter_image,
                                                   nvidia_instance_types(pool_types))},
        }, opts=pulumi.ResourceOptions(parent=parent, depends_on=[ns, account]))
        k8s.core.v1.Service(f"{name}-dcgm-exporter", metadata=meta, spec={
            "type": "ClusterIP", "selector": labels,
            "ports": [{"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics", "protocol": "TCP"}]},
            opts=in_ns)
        # Only the metrics port is reachable; the exporter itself needs no network (DCGM runs in-process).
        k8s.networking.v1.NetworkPolicy(f"{name}-dcgm-exporter", metadata=meta, spec={
            "podSelector": {"matchLabels": labels}, "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"ports": [{"protocol": "TCP", "port": METRICS_PORT}]}], "egress": []}, opts=in_ns)
        result.exporter_namespace = exporter_ns
        result.kinds += ["Namespace", "ServiceAccount", "DaemonSet", "Service", "NetworkPolicy"]
    if metrics.prometheus_operator:
        if metrics.deploy_exporter:
            k8s.apiextensions.CustomResource(
                f"{name}-dcgm-exporter-monitor", api_version="monitoring.coreos.com/v1", kind="ServiceMonitor",
                metadata=meta, spec={"selector": {"matchLabels": labels},
                                     "namespaceSelector": {"matchNames": [exporter_ns]},
                                     "endpoints": [{"port": "metrics", "interval": "15s"}]}, opts=child)
            result.kinds.append("ServiceMonitor")
        cost_tags = metrics.cost_tags if metrics.cost_tags is not None else registered_cost_tags()
        k8s.apiextensions.CustomResource(
            f"{name}-gpu-utilisation-rule", api_version="monitoring.coreos.com/v1", kind="PrometheusRule",
            metadata={"name": f"{name}-gpu-utilisation", "namespace": workload_namespace,
                      "labels": {"app.kubernetes.io/managed-by": "aifinops"}},
            spec=low_utilisation_rule(name, workload_namespace, metrics.low_utilisation_percent,
                                      metrics.low_utilisation_minutes, cost_tags), opts=in_workload_namespace)
        result.kinds.append("PrometheusRule")
    if hpa_reads_gpu:
        rules_yaml = yaml.safe_dump(adapter_rules(), sort_keys=False)
        config_map = f"{name}-prometheus-adapter-rules"
        k8s.core.v1.ConfigMap(f"{name}-prometheus-adapter-rules", metadata={
            "name": config_map, "namespace": metrics.adapter_namespace,
            "labels": {"app.kubernetes.io/managed-by": "aifinops"}}, data={"config.yaml": rules_yaml}, opts=child)
        result.adapter_config_map = config_map
        result.adapter_rules_yaml = rules_yaml
        result.kinds.append("ConfigMap")
    return result
