"""The CloudWatch agent configuration that GpuInstance and GpuFleet install, and the metric names it emits.

The agent's `nvidia_gpu` section (telegraf's nvidia_smi plugin) publishes `nvidia_smi_<field>` in the
CWAgent namespace, one series per GPU. `append_dimensions` adds InstanceId (and, on a fleet,
AutoScalingGroupName) to every point; `aggregation_dimensions` makes the agent also publish series over
InstanceId alone and, on a fleet, over AutoScalingGroupName alone. Those aggregated series are what the
idle-GPU reaper, GpuFleet's target tracking, the low-utilisation alarms, the dashboard and
`aifinops rightsize` read. Everything here is plain data so the components, the automation and the
tests share one source.

Neuron (Trainium, Inferentia) and Gaudi types have no NVIDIA driver: nothing here collects their
accelerator metrics (see `collects_gpu_metrics`).
"""
from __future__ import annotations

from typing import Any, Iterable

from .catalog import AcceleratorSpec

NAMESPACE = "CWAgent"
METRIC_PREFIX = "nvidia_smi_"
# The nvidia_gpu measurements collected: utilisation (%), memory (MiB), power (W), temperature (C).
MEASUREMENTS = ("utilization_gpu", "utilization_memory", "memory_used", "memory_total", "power_draw",
                "temperature_gpu")
INSTANCE_DIMENSION = "InstanceId"
FLEET_DIMENSION = "AutoScalingGroupName"
COLLECTION_INTERVAL_SECONDS = 60
# The CloudWatchAgentServerPolicy lets the agent read SSM parameters named AmazonCloudWatch-* only.
PARAMETER_PREFIX = "AmazonCloudWatch-"

UTILIZATION_METRIC = METRIC_PREFIX + "utilization_gpu"
MEMORY_USED_METRIC = METRIC_PREFIX + "memory_used"
MEMORY_TOTAL_METRIC = METRIC_PREFIX + "memory_total"


def metric_name(measurement: str) -> str:
    if measurement not in MEASUREMENTS:
        raise ValueError(f"measurement: expected one of {', '.join(MEASUREMENTS)}, got {measurement!r}")
    return METRIC_PREFIX + measurement


def collects_gpu_metrics(spec: AcceleratorSpec) -> bool:
    """Whether the agent's nvidia_gpu section can read this type's accelerators (NVIDIA GPUs only)."""
    return spec.kind == "gpu" and spec.manufacturer == "NVIDIA"


def agent_config(fleet: bool) -> dict[str, Any]:
    """The agent's JSON configuration: nvidia_gpu every minute, per-instance (and per-group) series."""
    append = {INSTANCE_DIMENSION: "${aws:InstanceId}"}
    aggregation = [[INSTANCE_DIMENSION]]
    if fleet:
        append[FLEET_DIMENSION] = "${aws:AutoScalingGroupName}"
        aggregation.append([FLEET_DIMENSION])
    return {
        "agent": {"metrics_collection_interval": COLLECTION_INTERVAL_SECONDS, "run_as_user": "cwagent"},
        "metrics": {
            "namespace": NAMESPACE,
            "append_dimensions": append,
            "aggregation_dimensions": aggregation,
            "metrics_collected": {"nvidia_gpu": {
                "measurement": list(MEASUREMENTS),
                "metrics_collection_interval": COLLECTION_INTERVAL_SECONDS,
            }},
        },
    }


def emitted_series(config: dict[str, Any]) -> set[tuple[str, str, tuple[str, ...]]]:
    """(namespace, metric name, dimension names) of the aggregated series a config makes the agent publish.

    Read from the config itself, so a consumer's metric name or dimension can be checked against it.
    """
    metrics = config["metrics"]
    namespace = metrics.get("namespace", NAMESPACE)
    appended = set(metrics.get("append_dimensions", {}))
    series: set[tuple[str, str, tuple[str, ...]]] = set()
    for measurement in metrics["metrics_collected"].get("nvidia_gpu", {}).get("measurement", []):
        for dimensions in metrics.get("aggregation_dimensions", []):
            if set(dimensions) <= appended:  # the agent can only aggregate on dimensions it attaches
                series.add((namespace, METRIC_PREFIX + measurement, tuple(dimensions)))
    return series


def parameter_name(resource_name: str) -> str:
    """The SSM parameter holding a component's agent config; the prefix is the agent policy's scope."""
    return f"{PARAMETER_PREFIX}aifinops-{resource_name}"


def not_collected_warning(name: str, specs: Iterable[AcceleratorSpec]) -> str:
    kinds = sorted({f"{s.instance_type} ({s.manufacturer} {s.model})" for s in specs})
    return (f"{name}: GPU metrics are not collected for {', '.join(kinds)}: the CloudWatch agent's nvidia_gpu "
            f"section needs NVIDIA GPUs, so no agent, low-utilisation alarm or rightsizing data is set up. "
            f"Publish accelerator metrics with the Neuron SDK's neuron-monitor if you need them.")
