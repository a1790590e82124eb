"""GpuInference: a GPU model server on Kubernetes that scales with load and cannot scale the bill unbounded.

In its own namespace (Pod Security "restricted"): a hardened Deployment requesting GPUs with matching
limits, probes sized for slow model loads, a Service, an autoscaling/v2 HorizontalPodAutoscaler, a
PodDisruptionBudget that still lets nodes drain, a NetworkPolicy, and optionally a Karpenter NodePool
(karpenter.sh/v1) that only launches approved GPU types and caps the GPUs it will ever run.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s

from aifinops.core import argument_checks as checks
from aifinops.core import catalog
from aifinops.core.device_plugins import NVIDIA_GPU

from .gpu_inference_metrics import GPU_UTILIZATION_METRIC, GpuMetricsArgs, deploy_gpu_metrics, validate_gpu_metrics

DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
_IMAGE = re.compile(r"^[a-z0-9][\w./:-]*(@sha256:[0-9a-f]{64})?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_QUANTITY = re.compile(r"^\d+(\.\d+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")
# quantity suffix -> factor to cores (CPU) or GiB (memory); a bare number of bytes is tiny but valid.
_QUANTITY_SCALE = {"": 1.0, "m": 1e-3, "k": 1e3 / 2**30, "M": 1e6 / 2**30, "G": 1e9 / 2**30, "T": 1e12 / 2**30,
                   "Ki": 1 / 2**20, "Mi": 1 / 2**10, "Gi": 1.0, "Ti": 2.0**10}
_DURATION = re.compile(r"^(\d+h)?(\d+m)?(\d+s)?$")
_HTTP_PATH = re.compile(r"^/[\w./-]*$")
_CIDR = re.compile(r"^[0-9a-fA-F:.]+/\d{1,3}$")
GPU_TAINT = {"key": NVIDIA_GPU, "value": "true", "effect": "NoSchedule"}
DEFAULT_LATENCY_METRIC = "http_request_duration_seconds_p99"
METRICS = ("cpu", "memory", "gpu-utilization", "p99-latency")


@dataclass
class InferenceAutoscaling:
    """The HorizontalPodAutoscaler (autoscaling/v2).

    - min_replicas / max_replicas: default 1 / 4.
    - metric: 'cpu' (default) or 'memory' (target = average utilisation % of requests); 'gpu-utilization'
      (target %, the DCGM exporter's DCGM_FI_DEV_GPU_UTIL through a custom-metrics adapter); 'p99-latency'
      (target in seconds, a per-pod metric named `metric_name`, default http_request_duration_seconds_p99).
    - target: default 70 (percent); for p99-latency, seconds.
    - scale_down_stabilization_seconds: default 300: GPU pods take minutes to come back, so shrink slowly.
    """

    min_replicas: int = 1
    max_replicas: int = 4
    metric: Literal["cpu", "memory", "gpu-utilization", "p99-latency"] = "cpu"
    target: float = 70
    metric_name: Optional[str] = None
    scale_down_stabilization_seconds: int = 300


@dataclass
class KarpenterNodePoolArgs:
    """A Karpenter NodePool (karpenter.sh/v1) for the model server's nodes.

    - instance_types: default four 1-GPU types from the catalog's approved set; NVIDIA GPU types only.
    - capacity_types: default spot then on-demand (Karpenter prefers spot and falls back).
    - gpu_limit: the most nvidia.com/gpu the pool will ever run (default 8); every type must fit in it.
    - consolidation_policy: 'WhenEmptyOrUnderutilized' (default) or 'WhenEmpty'; consolidate_after '5m'.
    - node_class: the EC2NodeClass the nodes use (default 'default'); expire_after: default '720h'.
    Nodes carry the taint nvidia.com/gpu=true:NoSchedule; the model server tolerates it.
    """

    instance_types: Sequence[str] = ("g6.xlarge", "g6.2xlarge", "g5.xlarge", "g5.2xlarge")
    capacity_types: Sequence[str] = ("spot", "on-demand")
    gpu_limit: int = 8
    consolidation_policy: Literal["WhenEmptyOrUnderutilized", "WhenEmpty"] = "WhenEmptyOrUnderutilized"
    consolidate_after: str = "5m"
    node_class: str = "default"
    expire_after: str = "720h"


@dataclass
class GpuInferenceArgs:
    """Arguments of GpuInference. Only `image` is required.

    - image: pin it by digest (`repo@sha256:...`); a fixed tag is accepted with a warning, since a moved
      tag silently changes what runs (and is pulled on every start); no tag or 'latest' is rejected.
    - namespace: default, the component's name; created with Pod Security 'restricted' enforced.
    - port: the server's HTTP port (default 8080); the Service serves it on port 80.
    - gpus_per_pod: default 1. cpu / memory: default '3' / '12Gi', which fit a 4-vCPU, 16 GiB xlarge node
      after the kubelet's reservations. Requests equal limits (Guaranteed QoS: the last pods evicted).
    - shared_memory: /dev/shm size (default '2Gi'); cache_size: an emptyDir at /cache for model files
      (default '50Gi'; HF_HOME points at it). The root filesystem is read-only.
    - health_path / readiness_path: default '/health' both. startup_timeout_seconds: how long a model
      may take to load before the pod is restarted (default 600).
    - autoscaling: default InferenceAutoscaling(). pdb_max_unavailable: default 1 (a PDB that never
      blocks node drains or consolidation).
    - ingress_from_namespaces / ingress_cidrs: who may reach the port; default any source, and only that
      port. allow_egress_https: default True (model downloads); DNS is always allowed, nothing else.
    - node_pool: None (default): schedule on existing GPU nodes.
    - env / args: the container's environment and arguments. run_as_user: default 10001.
    - gpu_metrics: default GpuMetricsArgs(): NVIDIA's DCGM exporter on the GPU nodes, and (with
      prometheus_operator) a ServiceMonitor and the low-utilisation PrometheusRule; with the
      gpu-utilization HPA metric, the prometheus-adapter rule that serves it. None when the cluster
      already runs the exporter and adapter rule (documented prerequisites then).
    """

    image: str
    namespace: Optional[str] = None
    port: int = 8080
    gpus_per_pod: int = 1
    cpu: str = "3"
    memory: str = "12Gi"
    shared_memory: str = "2Gi"
    cache_size: str = "50Gi"
    health_path: str = "/health"
    readiness_path: str = "/health"
    startup_timeout_seconds: int = 600
    autoscaling: InferenceAutoscaling = field(default_factory=InferenceAutoscaling)
    pdb_max_unavailable: int = 1
    ingress_from_namespaces: Sequence[str] = ()
    ingress_cidrs: Sequence[str] = ()
    allow_egress_https: bool = True
    node_pool: Optional[KarpenterNodePoolArgs] = None
    env: Mapping[str, str] = field(default_factory=dict)
    args: Sequence[str] = ()
    run_as_user: int = 10001
    gpu_metrics: Optional[GpuMetricsArgs] = field(default_factory=GpuMetricsArgs)


def is_pinned(image: str) -> bool:
    return bool(DIGEST.search(image))


def validate_quantity(argument: str, value: Any) -> str:
    return checks.text(argument, value, _QUANTITY, "a Kubernetes quantity such as '4', '500m' or '16Gi'")


def quantity_value(quantity: str) -> float:
    """A validated quantity as a number: cores for CPU ('500m' -> 0.5), GiB for memory ('512Mi' -> 0.5)."""
    number, suffix = re.match(r"^(\d+(?:\.\d+)?)(\D*)$", quantity).groups()
    return float(number) * _QUANTITY_SCALE[suffix]


def validate_node_pool_types(argument: str, instance_types: Any) -> list[catalog.AcceleratorSpec]:
    types = checks.string_list(argument, instance_types, min_items=1)
    specs = [catalog.require_accelerated(f"{argument}[{i}]", t) for i, t in enumerate(types)]
    not_nvidia = [s.instance_type for s in specs if s.manufacturer != "NVIDIA"]
    if not_nvidia:
        raise ValueError(f"{argument}: the model server requests {NVIDIA_GPU}, so the pool needs NVIDIA GPU types; "
                         f"got {not_nvidia!r}")
    return specs


class GpuInference(pulumi.ComponentResource):
    """A hardened, autoscaled GPU model server on Kubernetes, optionally with its own Karpenter NodePool."""

    namespace: pulumi.Output[str]
    service_name: pulumi.Output[str]
    image_pinned: bool
    max_gpus: int

    def __init__(self, name: str, args: GpuInferenceArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        if not isinstance(args, GpuInferenceArgs):
            raise ValueError(f"args: expected GpuInferenceArgs, got {type(args).__name__}")
        checks.text("name", name, _DNS_LABEL, "a DNS label (lowercase letters, digits, '-'; at most 63) since it "
                                              "names the Kubernetes objects")
        image = checks.text("image", args.image, _IMAGE, "a container image reference such as "
                                                         "'registry/repo@sha256:<64 hex>' or 'registry/repo:tag'")
        if not is_pinned(image) and (":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")):
            raise ValueError(f"image: {image!r} has no tag or uses 'latest'; expected a digest (repo@sha256:...) "
                             f"or at least a fixed tag")
        namespace = name if args.namespace is None else checks.text(
            "namespace", args.namespace, _DNS_LABEL, "a DNS label (lowercase letters, digits, '-')")
        port = checks.whole_number("port", args.port, 1024, 65535)  # non-root cannot bind below 1024
        gpus = checks.whole_number("gpus_per_pod", args.gpus_per_pod, 1, 16)
        for argument in ("cpu", "memory", "shared_memory", "cache_size"):
            validate_quantity(argument, getattr(args, argument))
        for argument in ("health_path", "readiness_path"):
            checks.text(argument, getattr(args, argument), _HTTP_PATH, "an HTTP path starting with '/'")
        startup = checks.whole_number("startup_timeout_seconds", args.startup_timeout_seconds, 10, 3600)
        scaling = self._validate_autoscaling(args.autoscaling)
        max_unavailable = checks.whole_number("pdb_max_unavailable", args.pdb_max_unavailable, 1)
        from_namespaces = checks.string_list("ingress_from_namespaces", args.ingress_from_namespaces)
        for i, ns in enumerate(from_namespaces):
            checks.text(f"ingress_from_namespaces[{i}]", ns, _DNS_LABEL, "a namespace name")
        cidrs = checks.string_list("ingress_cidrs", args.ingress_cidrs)
        for i, cidr in enumerate(cidrs):
            checks.text(f"ingress_cidrs[{i}]", cidr, _CIDR, "a CIDR block such as '10.0.0.0/16'")
        checks.flag("allow_egress_https", args.allow_egress_https)
        if not isinstance(args.env, Mapping) or not all(isinstance(k, str) and isinstance(v, str)
                                                        for k, v in args.env.items()):
            raise ValueError(f"env: expected a mapping of variable names to string values, got {args.env!r}")
        if isinstance(args.args, (str, bytes)) or not all(isinstance(a, str) for a in args.args):
            raise ValueError(f"args: expected a list of strings, got {args.args!r}")
        run_as_user = checks.whole_number("run_as_user", args.run_as_user, 1, 2**31 - 1)
        pool = self._validate_node_pool(args, gpus, scaling)
        gpu_metrics = validate_gpu_metrics("gpu_metrics", args.gpu_metrics)

        super().__init__("aifinops:k8s:GpuInference", name, None, opts)
        if not is_pinned(image):
            pulumi.log.warn(f"{name}: image {image!r} is not pinned by digest; a moved tag changes what runs "
                            f"without a diff. Use {image.rsplit(':', 1)[0]}@sha256:<digest>.", resource=self)
        child = pulumi.ResourceOptions(parent=self)
        labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": "aifinops"}
        ns = k8s.core.v1.Namespace(f"{name}-namespace", metadata={"name": namespace, "labels": {
            "pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "latest",
        }}, opts=child)
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=[ns])
        meta = {"name": name, "namespace": namespace, "labels": labels}

        node_pool_name = f"{name}-gpu"
        if pool is not None:
            self._node_pool(node_pool_name, pool, child)
        service_account = k8s.core.v1.ServiceAccount(f"{name}-service-account", metadata=meta,
                                                     automount_service_account_token=False, opts=in_ns)
        pod_spec = self._pod_spec(name, args, image, port, gpus, startup, run_as_user,
                                  node_pool_name if pool is not None else None)
        deployment = k8s.apps.v1.Deployment(f"{name}-deployment", metadata=meta, spec={
            "replicas": scaling.min_replicas,
            "revisionHistoryLimit": 3,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels, **self._checkov_annotations(image)}, "spec": pod_spec},
        }, opts=pulumi.ResourceOptions(parent=self, depends_on=[ns, service_account],
                                       ignore_changes=["spec.replicas"]))  # the HPA owns replicas
        service = k8s.core.v1.Service(f"{name}-service", metadata=meta, spec={
            "type": "ClusterIP", "selector": labels,
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]}, opts=in_ns)
        k8s.autoscaling.v2.HorizontalPodAutoscaler(f"{name}-hpa", metadata=meta, spec={
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": scaling.min_replicas, "maxReplicas": scaling.max_replicas,
            "metrics": [_hpa_metric(scaling)],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": scaling.scale_down_stabilization_seconds,
                                       "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}},
        }, opts=pulumi.ResourceOptions(parent=self, depends_on=[deployment]))
        k8s.policy.v1.PodDisruptionBudget(f"{name}-pdb", metadata=meta, spec={
            "maxUnavailable": max_unavailable, "selector": {"matchLabels": labels}}, opts=in_ns)
        k8s.networking.v1.NetworkPolicy(f"{name}-network-policy", metadata=meta, spec=_network_policy(
            labels, port, from_namespaces, cidrs, args.allow_egress_https), opts=in_ns)

        self.gpu_metrics = None
        if gpu_metrics is not None:
            self.gpu_metrics = deploy_gpu_metrics(name, namespace, gpu_metrics, pool.instance_types if pool else (),
                                                  scaling.metric == "gpu-utilization", self, in_ns)
        elif scaling.metric == "gpu-utilization":
            pulumi.log.warn(f"{name}: the HPA scales on {GPU_UTILIZATION_METRIC} and gpu_metrics is None: the cluster "
                            f"must already run the DCGM exporter and a prometheus-adapter rule serving it, or the "
                            f"HPA has no metric", resource=self)
        self.namespace = ns.metadata.name
        self.service_name = service.metadata.name
        self.image_pinned = is_pinned(image)
        self.max_gpus = scaling.max_replicas * gpus
        self.register_outputs({"namespace": self.namespace, "serviceName": self.service_name,
                               "imagePinned": self.image_pinned, "maxGpus": self.max_gpus,
                               "gpuMetricsNamespace": self.gpu_metrics and self.gpu_metrics.exporter_namespace,
                               "prometheusAdapterConfigMap": self.gpu_metrics and self.gpu_metrics.adapter_config_map})

    # -- validation -------------------------------------------------------------------------------
    @staticmethod
    def _validate_autoscaling(scaling: Any) -> InferenceAutoscaling:
        if not isinstance(scaling, InferenceAutoscaling):
            raise ValueError(f"autoscaling: expected InferenceAutoscaling, got {scaling!r}")
        low = checks.whole_number("autoscaling.min_replicas", scaling.min_replicas, 1)
        checks.whole_number("autoscaling.max_replicas", scaling.max_replicas, low, 1000)
        metric = checks.one_of("autoscaling.metric", scaling.metric, METRICS)
        if metric == "p99-latency":
            checks.number_in_range("autoscaling.target", scaling.target, 0.001, 600)
        else:
            checks.number_in_range("autoscaling.target", scaling.target, 1, 100)
        if scaling.metric_name is not None:
            if metric != "p99-latency":
                raise ValueError(f"autoscaling.metric_name: only used with metric 'p99-latency', got metric "
                                 f"{metric!r} and metric_name {scaling.metric_name!r}")
            checks.text("autoscaling.metric_name", scaling.metric_name, re.compile(r"^[A-Za-z_:][\w:]*$"),
                        "a metric name such as 'http_request_duration_seconds_p99'")
        checks.whole_number("autoscaling.scale_down_stabilization_seconds",
                            scaling.scale_down_stabilization_seconds, 0, 3600)
        return scaling

    @staticmethod
    def _validate_node_pool(args: GpuInferenceArgs, gpus_per_pod: int, scaling: InferenceAutoscaling
                            ) -> Optional[KarpenterNodePoolArgs]:
        pool = args.node_pool
        if pool is None:
            return None
        if not isinstance(pool, KarpenterNodePoolArgs):
            raise ValueError(f"node_pool: expected KarpenterNodePoolArgs or None, got {pool!r}")
        specs = validate_node_pool_types("node_pool.instance_types", pool.instance_types)
        capacity = checks.string_list("node_pool.capacity_types", pool.capacity_types, min_items=1)
        for i, kind in enumerate(capacity):
            checks.one_of(f"node_pool.capacity_types[{i}]", kind, ("spot", "on-demand", "reserved"))
        limit = checks.whole_number("node_pool.gpu_limit", pool.gpu_limit, 1)
        too_big = [f"{s.instance_type} ({s.count} GPUs)" for s in specs if s.count > limit]
        if too_big:
            raise ValueError(f"node_pool.gpu_limit: {limit} is below the GPUs of {', '.join(too_big)}, which could "
                             f"then never launch; expected at least {max(s.count for s in specs)} or smaller types")
        small = [f"{s.instance_type} ({s.count} GPUs)" for s in specs if s.count < gpus_per_pod]
        if small:
            raise ValueError(f"node_pool.instance_types: {', '.join(small)} cannot hold a pod of gpus_per_pod "
                             f"{gpus_per_pod}")
        cores, memory_gib = quantity_value(args.cpu), quantity_value(args.memory)
        if not any((s.vcpus or 0) >= cores and (s.memory_gib or 0) >= memory_gib for s in specs):
            raise ValueError(f"cpu / memory: a pod requesting {args.cpu} CPU and {args.memory} fits none of "
                             f"node_pool.instance_types {[s.instance_type for s in specs]!r}; expected smaller "
                             f"requests or larger types")
        if scaling.max_replicas * gpus_per_pod > limit:
            raise ValueError(f"node_pool.gpu_limit: {limit} GPUs cannot hold autoscaling.max_replicas "
                             f"({scaling.max_replicas}) x gpus_per_pod ({gpus_per_pod}); expected at least "
                             f"{scaling.max_replicas * gpus_per_pod}, or fewer replicas (the rest would stay Pending)")
        checks.one_of("node_pool.consolidation_policy", pool.consolidation_policy,
                      ("WhenEmptyOrUnderutilized", "WhenEmpty"))
        for argument in ("consolidate_after", "expire_after"):
            value = getattr(pool, argument)
            if value != "Never":
                checks.text(f"node_pool.{argument}", value, _DURATION, "a duration such as '5m' or '720h', or 'Never'")
        checks.text("node_pool.node_class", pool.node_class, _DNS_LABEL, "an EC2NodeClass name")
        return pool

    # -- children ---------------------------------------------------------------------------------
    @staticmethod
    def _node_pool(pool_name: str, pool: KarpenterNodePoolArgs, opts: pulumi.ResourceOptions) -> None:
        k8s.apiextensions.CustomResource(f"{pool_name}-node-pool", api_version="karpenter.sh/v1", kind="NodePool",
                                         metadata={"name": pool_name}, spec=karpenter_node_pool_spec(pool), opts=opts)

    @staticmethod
    def _checkov_annotations(image: str) -> dict[str, str]:
        # A digest never moves, so IfNotPresent is right and saves pulling a multi-GB image on every start.
        return {"annotations": {"checkov.io/skip1": "CKV_K8S_15=image pinned by digest"}} if is_pinned(image) else {}

    @staticmethod
    def _pod_spec(name: str, args: GpuInferenceArgs, image: str, port: int, gpus: int, startup: int,
                  run_as_user: int, node_pool_name: Optional[str]) -> dict[str, Any]:
        resources = {"cpu": args.cpu, "memory": args.memory, NVIDIA_GPU: str(gpus)}
        probe = {"httpGet": {"path": args.health_path, "port": "http"}}
        container = {
            "name": "server",
            "image": image,
            "imagePullPolicy": "IfNotPresent" if is_pinned(image) else "Always",
            "args": list(args.args),
            "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
            "env": [{"name": "HF_HOME", "value": "/cache"}, *({"name": k, "value": v} for k, v in args.env.items())],
            "resources": {"requests": dict(resources), "limits": dict(resources)},
            "startupProbe": {**probe, "periodSeconds": 10, "failureThreshold": math.ceil(startup / 10)},
            "livenessProbe": {**probe, "periodSeconds": 15, "failureThreshold": 3},
            "readinessProbe": {"httpGet": {"path": args.readiness_path, "port": "http"}, "periodSeconds": 5},
            "securityContext": {
                "runAsNonRoot": True, "runAsUser": run_as_user, "runAsGroup": run_as_user,
                "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"},
            },
            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}, {"name": "dshm", "mountPath": "/dev/shm"},
                             {"name": "cache", "mountPath": "/cache"}],
        }
        spec: dict[str, Any] = {
            "serviceAccountName": name,
            "automountServiceAccountToken": False,
            "securityContext": {"runAsNonRoot": True, "runAsUser": run_as_user, "runAsGroup": run_as_user,
                                "fsGroup": run_as_user, "seccompProfile": {"type": "RuntimeDefault"}},
            "terminationGracePeriodSeconds": 60,
            "containers": [container],
            "tolerations": [{"key": NVIDIA_GPU, "operator": "Exists", "effect": "NoSchedule"}],
            "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
                        {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": args.shared_memory}},
                        {"name": "cache", "emptyDir": {"sizeLimit": args.cache_size}}],
        }
        if node_pool_name is not None:
            spec["nodeSelector"] = {"karpenter.sh/nodepool": node_pool_name}
        return spec


def karpenter_node_pool_spec(pool: KarpenterNodePoolArgs) -> dict[str, Any]:
    return {
        "template": {"spec": {
            "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": pool.node_class},
            "requirements": [
                {"key": "karpenter.sh/capacity-type", "operator": "In", "values": list(pool.capacity_types)},
                {"key": "node.kubernetes.io/instance-type", "operator": "In",
                 "values": [catalog.normalize_instance_type(t) for t in pool.instance_types]},
            ],
            "taints": [GPU_TAINT],
            "expireAfter": pool.expire_after,
        }},
        "disruption": {"consolidationPolicy": pool.consolidation_policy, "consolidateAfter": pool.consolidate_after},
        "limits": {NVIDIA_GPU: str(pool.gpu_limit)},
    }


def _hpa_metric(scaling: InferenceAutoscaling) -> dict[str, Any]:
    if scaling.metric in ("cpu", "memory"):
        return {"type": "Resource", "resource": {"name": scaling.metric, "target": {
            "type": "Utilization", "averageUtilization": int(scaling.target)}}}
    if scaling.metric == "gpu-utilization":
        return {"type": "Pods", "pods": {"metric": {"name": GPU_UTILIZATION_METRIC},
                                         "target": {"type": "AverageValue", "averageValue": str(int(scaling.target))}}}
    return {"type": "Pods", "pods": {"metric": {"name": scaling.metric_name or DEFAULT_LATENCY_METRIC},
                                     "target": {"type": "AverageValue",
                                                "averageValue": f"{round(scaling.target * 1000)}m"}}}


def _network_policy(labels: dict[str, str], port: int, from_namespaces: Sequence[str], cidrs: Sequence[str],
                    allow_https: bool) -> dict[str, Any]:
    peers = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}} for ns in from_namespaces]
    peers += [{"ipBlock": {"cidr": cidr}} for cidr in cidrs]
    ingress: dict[str, Any] = {"ports": [{"protocol": "TCP", "port": port}]}
    if peers:
        ingress["from"] = peers
    dns = {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}],
           "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}
    egress = [dns] + ([{"ports": [{"protocol": "TCP", "port": 443}]}] if allow_https else [])
    return {"podSelector": {"matchLabels": labels}, "policyTypes": ["Ingress", "Egress"],
            "ingress": [ingress], "egress": egress}
