"""approved-gpu-instance-types: accelerated instance types must be on the approved list.

Wherever an instance type can be set (see `aifinops.policies.instance_type_locations`), a type the shared catalog
(`aifinops.core.catalog`) knows as accelerated (GPU, Trainium, Inferentia, Gaudi) must be approved. SageMaker
`ml.` types are compared without the prefix. A whole family (Batch, Karpenter) is approved only when
every accelerated size in it is. A type the catalog does not list is judged by its family
(`catalog.classify`: p6e-gb200 and a future p7 are accelerated); one it cannot classify at all is a
violation saying so, until approved by name. CPU types, and values unknown during preview, pass.
"""
from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, Severity

from aifinops.core import catalog

from ..config_schema import config_schema, setting
from ..instance_type_locations import instance_type_settings
from ..preview_values import is_unknown

NAME = "approved-gpu-instance-types"
SCHEMA = config_schema({
    "approvedInstanceTypes": {
        "type": "array", "items": {"type": "string", "minLength": 1}, "uniqueItems": True,
        "default": list(catalog.DEFAULT_APPROVED_INSTANCE_TYPES),
        "description": "Accelerated instance types that may be used (SageMaker ml. names accepted).",
    },
})


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    approved = [catalog.normalize_instance_type(t) for t in setting(args, SCHEMA, "approvedInstanceTypes")]
    for found in instance_type_settings(args.resource_type, args.props):
        if not isinstance(found.value, str) or is_unknown(found.value):
            continue
        problem = catalog.approval_problem(found.value, approved, found.is_family, found.path)
        if problem:
            report_violation(f"{problem}; approved types: {', '.join(approved) or '(none)'}.", None)


POLICY = ResourceValidationPolicy(
    name=NAME,
    description="Accelerated (GPU, Trainium, Inferentia, Gaudi) instance types must be on the approved list.",
    validate=_validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=SCHEMA,
    severity=Severity.HIGH,
    remediation_steps="Use an approved instance type, or add the type to approvedInstanceTypes in the "
                      "aifinops-cost policy config after the owning team has approved its cost.",
)
