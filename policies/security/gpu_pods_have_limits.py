"""gpu-pods-have-limits: every container that asks for accelerators sets limits.

Kubernetes schedules extended resources such as `nvidia.com/gpu` by limits (requests must equal them);
a GPU container without limits either fails admission or, with memory unbounded, can take its node (and
the other tenants' GPU jobs) down with it. For every pod spec in a workload (Pod, Deployment,
StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob; any API version), each
container and init container that names an accelerator resource (`nvidia.com/gpu`, MIG profiles,
`amd.com/gpu`, `aws.amazon.com/neuron*`, ...) in requests or limits must:
- set a limit for that resource, equal to its request when both are given;
- set limits for each resource in `requiredLimits` (default: memory).
Unknown values during preview pass.
"""
from __future__ import annotations

import re
from typing import Any, Iterator

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, Severity

from aifinops.core.device_plugins import is_accelerator_resource

from ..config_schema import config_schema, setting
from ..preview_values import UNKNOWN, as_list, dig, is_unknown, plain

NAME = "gpu-pods-have-limits"
WORKLOAD_TYPE = re.compile(
    r"^kubernetes:(core|apps|batch|extensions)/v[\w]+:"
    r"(Pod|Deployment|StatefulSet|DaemonSet|ReplicaSet|ReplicationController|Job|CronJob)$")
SCHEMA = config_schema({
    "requiredLimits": {
        "type": "array", "items": {"type": "string", "minLength": 1}, "uniqueItems": True, "default": ["memory"],
        "description": "Resources that accelerator containers must also limit (besides the accelerators).",
    },
})


def pod_spec(kind: str, props: Any) -> tuple[str, Any]:
    """(path, pod spec) of a workload."""
    if kind == "Pod":
        return "spec", dig(props, "spec")
    if kind == "CronJob":
        return "spec.jobTemplate.spec.template.spec", dig(props, "spec", "jobTemplate", "spec", "template", "spec")
    return "spec.template.spec", dig(props, "spec", "template", "spec")


def containers(path: str, spec: Any) -> Iterator[tuple[str, Any]]:
    for field in ("initContainers", "containers"):
        for index, container in enumerate(as_list(dig(spec, field))):
            yield f"{path}.{field}[{index}]", container


def _quantity(value: Any) -> str:
    """A quantity as Kubernetes writes it: numbers cross gRPC as floats, so 2.0 is "2"."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def _problems(container: Any, required: list[str]) -> list[str]:
    requests, limits = dig(container, "resources", "requests"), dig(container, "resources", "limits")
    if UNKNOWN in (requests, limits):
        return []
    requests = requests if isinstance(requests, dict) else {}
    limits = limits if isinstance(limits, dict) else {}
    accelerators = sorted({name for name in (*requests, *limits) if is_accelerator_resource(name)})
    problems = []
    for name in accelerators:
        if name not in limits:
            problems.append(f"requests {name} without a limit for it")
        elif name in requests and not is_unknown(requests[name]) and not is_unknown(limits[name]) \
                and _quantity(requests[name]) != _quantity(limits[name]):
            problems.append(f"requests {_quantity(requests[name])} {name} but limits it to {_quantity(limits[name])} "
                            f"(they must be equal)")
    if accelerators:
        missing = [name for name in required if name not in limits]
        if missing:
            problems.append(f"uses {', '.join(accelerators)} without limits for {', '.join(missing)}")
    return problems


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    match = WORKLOAD_TYPE.match(args.resource_type)
    if match is None:
        return
    required = list(setting(args, SCHEMA, "requiredLimits"))
    path, spec = pod_spec(match.group(2), plain(args.props))
    if spec is UNKNOWN:
        return
    for where, container in containers(path, spec):
        name = dig(container, "name")
        for problem in _problems(container, required):
            report_violation(f"{args.resource_type} '{args.name}': container '{name}' ({where}) {problem}.", None)


POLICY = ResourceValidationPolicy(
    name=NAME,
    description="Containers that request GPUs or other accelerators set limits for them (and for memory).",
    validate=_validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=SCHEMA,
    severity=Severity.HIGH,
    remediation_steps="Set resources.limits for the accelerator (equal to the request) and for memory; "
                      "aifinops.components.gpu_inference.GpuInference sets requests equal to limits.",
)
