"""karpenter-gpu-limits: every Karpenter NodePool that can launch accelerated instances caps them.

Karpenter launches whatever pending pods need; a NodePool whose requirements admit GPU types and whose
`spec.limits` does not cap the accelerator resource will buy as many GPU nodes as pods ask for (one bad
HPA or a stuck job and the bill follows). The accelerated types a pool can launch are worked out from
`spec.template.spec.requirements[]` on the keys Karpenter uses for instance selection:
`node.kubernetes.io/instance-type`, `karpenter.k8s.aws/instance-family`, `instance-category`,
`instance-gpu-count`, `instance-gpu-manufacturer`, `instance-accelerator-count` and
`instance-accelerator-manufacturer` (operators In, NotIn, Exists, DoesNotExist, Gt, Lt). Requirements
on other keys narrow nothing here, so a pool with none can launch every accelerated type. For each
manufacturer it can launch, `spec.limits` must cap the device plugin's resource (`nvidia.com/gpu`,
`aws.amazon.com/neuron`, ...) with a whole number no larger than `maxAcceleratorLimit`.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Optional

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, Severity

from aifinops.core import catalog
from aifinops.core.device_plugins import resource_for

from ..config_schema import config_schema, setting
from ..instance_type_locations import KARPENTER_FAMILY_LABEL, KARPENTER_NODEPOOL_TYPES, KARPENTER_TYPE_LABELS
from ..preview_values import UNKNOWN, as_list, dig, is_unknown, plain

NAME = "karpenter-gpu-limits"
SCHEMA = config_schema({
    "maxAcceleratorLimit": {
        "type": "integer", "minimum": 1, "default": 64,
        "description": "The largest accelerator cap a NodePool may set (64 GPUs: eight 8-GPU nodes).",
    },
})
Spec = catalog.AcceleratorSpec


def _category(spec: Spec) -> str:
    return re.match(r"[a-z]+", spec.family).group(0)


def _gpu_count(spec: Spec) -> Optional[int]:
    return spec.count if spec.kind == "gpu" else None  # Karpenter sets instance-gpu-* on GPUs only


def _accelerator_count(spec: Spec) -> Optional[int]:
    return spec.count if spec.kind in ("inferentia", "trainium") else None


def _lower(value: Optional[str]) -> Optional[str]:
    return value.lower() if value else None


# requirement key -> the value Karpenter gives an instance type for it (None: the label is absent).
LABEL_VALUES: dict[str, Callable[[Spec], Any]] = {
    **{key: (lambda spec: spec.instance_type) for key in KARPENTER_TYPE_LABELS},
    KARPENTER_FAMILY_LABEL: lambda spec: spec.family,
    "karpenter.k8s.aws/instance-category": _category,
    "karpenter.k8s.aws/instance-gpu-count": _gpu_count,
    "karpenter.k8s.aws/instance-gpu-manufacturer": lambda spec: _lower(spec.manufacturer) if spec.kind == "gpu" else None,
    "karpenter.k8s.aws/instance-accelerator-count": _accelerator_count,
    "karpenter.k8s.aws/instance-accelerator-manufacturer":
        lambda spec: "aws" if spec.kind in ("inferentia", "trainium") else None,
}


def _admits(requirement: Any, spec: Spec) -> bool:
    """Whether a requirement lets Karpenter pick this type; unknown or unreadable requirements admit it."""
    key, operator, values = dig(requirement, "key"), dig(requirement, "operator"), dig(requirement, "values")
    if key not in LABEL_VALUES or UNKNOWN in (key, operator, values) or is_unknown(operator):
        return True
    label = LABEL_VALUES[key](spec)
    wanted = [str(v) for v in as_list(values) if not is_unknown(v)]
    if operator == "Exists":
        return label is not None
    if operator == "DoesNotExist":
        return label is None
    if operator == "In":
        return label is not None and str(label) in wanted
    if operator == "NotIn":
        return label is None or str(label) not in wanted
    if operator in ("Gt", "Lt") and wanted:
        try:
            bound, number = int(wanted[0]), int(label)
        except (TypeError, ValueError):
            return False  # Gt/Lt need the label to exist as a number
        return number > bound if operator == "Gt" else number < bound
    return True


def launchable_accelerated_types(props: Any) -> list[Spec]:
    requirements = dig(props, "spec", "template", "spec", "requirements")
    if requirements is UNKNOWN:
        return []  # nothing to decide during preview
    specs = [catalog.lookup(t) for t in catalog.accelerated_types()]
    return [s for s in specs if all(_admits(r, s) for r in as_list(requirements))]


def _whole_number(value: Any) -> Optional[int]:
    """A quantity that is a whole count: 8, 8.0 (numbers cross gRPC as floats) or "8"."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and float(value).is_integer():
        return int(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in KARPENTER_NODEPOOL_TYPES:
        return
    props = plain(args.props)
    maximum = int(setting(args, SCHEMA, "maxAcceleratorLimit"))
    by_resource: dict[str, list[str]] = {}
    for spec in launchable_accelerated_types(props):
        resource = resource_for(spec)
        if resource:
            by_resource.setdefault(resource, []).append(spec.instance_type)
    limits = dig(props, "spec", "limits")
    if limits is UNKNOWN:
        return
    for resource, types in sorted(by_resource.items()):
        examples = ", ".join(types[:4]) + (f" and {len(types) - 4} more" if len(types) > 4 else "")
        value = dig(limits, resource)
        if is_unknown(value):
            continue
        if value is None:
            report_violation(f"Karpenter NodePool '{args.name}': can launch accelerated types ({examples}) but "
                             f"spec.limits does not cap '{resource}'; add spec.limits['{resource}'] or restrict "
                             f"the pool's instance types.", None)
            continue
        number = _whole_number(value)
        if number is None or number > maximum:
            report_violation(f"Karpenter NodePool '{args.name}': spec.limits['{resource}'] is {value!r}; expected a "
                             f"whole number of at most {maximum} (maxAcceleratorLimit).", None)


POLICY = ResourceValidationPolicy(
    name=NAME,
    description="Karpenter NodePools that can launch accelerated instances cap their accelerators in spec.limits.",
    validate=_validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=SCHEMA,
    severity=Severity.HIGH,
    remediation_steps="Set spec.limits of the NodePool, e.g. {'nvidia.com/gpu': 8}, or restrict its requirements "
                      "so it cannot launch accelerated types (karpenter.k8s.aws/instance-category NotIn [g, p, inf, "
                      "trn, dl]).",
)
