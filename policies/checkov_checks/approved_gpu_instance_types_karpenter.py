"""CKV_AIFINOPS_3: a Karpenter NodePool may only offer approved accelerated instance types.

The Kubernetes side of CKV_AIFINOPS_2 and of the aifinops-cost policy `approved-gpu-instance-types`
(same config, same catalog): `In` requirements on `node.kubernetes.io/instance-type` list types, those on
`karpenter.k8s.aws/instance-family` list families, which pass only when every accelerated size is approved.
"""
from __future__ import annotations

from typing import Any, Iterator

from aifinops_check_settings import APPROVED_TYPES_POLICY, approval_problem, catalog, policy_properties
from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.kubernetes.checks.resource.base_spec_check import BaseK8Check

TYPE_LABELS = ("node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type")
FAMILY_LABEL = "karpenter.k8s.aws/instance-family"


class ApprovedGpuInstanceTypesKarpenter(BaseK8Check):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure Karpenter NodePools offer only approved accelerated instance types "
                 "(aifinops approved-gpu-instance-types)",
            id="CKV_AIFINOPS_3", categories=[CheckCategories.CONVENTION], supported_entities=["NodePool"])

    def scan_spec_conf(self, conf: dict[str, Any]) -> CheckResult:
        settings = policy_properties(APPROVED_TYPES_POLICY)
        found = list(requested_types(conf))
        if settings is None or not found:
            return CheckResult.UNKNOWN  # disabled, or the pool does not restrict types
        approved = frozenset(catalog.normalize_instance_type(t) for t in settings["approvedInstanceTypes"])
        problems = [f"{problem} at {path}" for path, value in found if (problem := approval_problem(value, approved))]
        self.details.extend(problems)
        return CheckResult.FAILED if problems else CheckResult.PASSED


def requested_types(conf: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(path, type or family) for each value of the pool's `In` instance-type and family requirements."""
    requirements = (((conf.get("spec") or {}).get("template") or {}).get("spec") or {}).get("requirements") or []
    for index, requirement in enumerate(requirements if isinstance(requirements, list) else []):
        if not isinstance(requirement, dict) or requirement.get("operator") != "In":
            continue
        if requirement.get("key") in (*TYPE_LABELS, FAMILY_LABEL):
            for position, value in enumerate(requirement.get("values") or []):
                if isinstance(value, str) and value.strip():
                    yield f"spec.template.spec.requirements[{index}].values[{position}]", value.strip()


check = ApprovedGpuInstanceTypesKarpenter()
