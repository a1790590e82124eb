"""CKV_AIFINOPS_2: accelerated instance types must be on the approved list.

The checkov twin of the aifinops-cost policy `approved-gpu-instance-types`, configured by the same
`--policy-pack-config` file (`approvedInstanceTypes`) and judging with the same catalog
(`aifinops.core.catalog` and its data). Looks at every `instance_type` / `instance_types` setting
at any depth of an AWS resource (instances, launch templates, fleets, auto scaling overrides, EKS node
groups, Batch, SageMaker), so it covers resource types the provider adds later. CPU types pass.
"""
from __future__ import annotations

from typing import Any, Iterator

from aifinops_check_settings import APPROVED_TYPES_POLICY, approval_problem, catalog, policy_properties
from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

INSTANCE_TYPE_KEYS = ("instance_type", "instance_types")


class ApprovedGpuInstanceTypes(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure accelerated instance types are on the approved list (aifinops approved-gpu-instance-types)",
            id="CKV_AIFINOPS_2", categories=[CheckCategories.CONVENTION], supported_resources=["aws_*"])

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        settings = policy_properties(APPROVED_TYPES_POLICY)
        found = list(instance_types(conf, ""))
        if settings is None or not found:
            return CheckResult.UNKNOWN  # disabled, or the resource sets no instance type
        approved = frozenset(catalog.normalize_instance_type(t) for t in settings["approvedInstanceTypes"])
        problems = [f"{problem} at {path}" for path, value in found
                    if (problem := approval_problem(value, approved))]
        self.details.extend(problems)
        return CheckResult.FAILED if problems else CheckResult.PASSED


def instance_types(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(path, type) for every instance type set anywhere in a Terraform resource's configuration."""
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else key
            if key in INSTANCE_TYPE_KEYS:
                yield from ((here, v) for v in _strings(item))
            else:
                yield from instance_types(item, here)
    elif isinstance(value, list):
        for item in value:
            yield from instance_types(item, path)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        if value.strip():
            yield value.strip()
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


check = ApprovedGpuInstanceTypes()
