"""CKV_AIFINOPS_1: taggable AWS resources carry the required cost-allocation tags, with values.

The checkov twin of the aifinops-cost policy `required-cost-tags`, configured by the same
`--policy-pack-config` file (`requiredTags`, `allowedValues`). Reads `tags_all` (a plan's tags with the
provider's default_tags merged in) or `tags`, and an auto scaling group's `tag` blocks that propagate at
launch. It does not see tags a launch template gives the instances of a group: set them on the group too.
"""
from __future__ import annotations

from typing import Any

from aifinops_check_settings import KNOWN_AFTER_APPLY, REQUIRED_TAGS_POLICY, policy_properties, unwrap
from checkov.common.checks_infra.resources_types import resources_types
from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

ASG = "aws_autoscaling_group"


class RequiredCostTags(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure taggable AWS resources carry the required cost-allocation tags (aifinops required-cost-tags)",
            id="CKV_AIFINOPS_1", categories=[CheckCategories.CONVENTION],
            supported_resources=[*resources_types["aws_taggable"], ASG])

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        settings = policy_properties(REQUIRED_TAGS_POLICY)
        if settings is None:
            return CheckResult.UNKNOWN  # disabled in the policy config
        tags = propagated_tags(conf) if self.entity_type == ASG else resource_tags(conf)
        problems = [f"missing required tag '{key}'" if key not in tags else f"tag '{key}' is empty"
                    for key in settings["requiredTags"] if not _has_value(tags.get(key))]
        problems += [f"tag '{key}' is '{tags[key]}', expected one of: {', '.join(values)}"
                     for key, values in settings["allowedValues"].items()
                     if _has_value(tags.get(key)) and tags[key] != KNOWN_AFTER_APPLY and tags[key] not in values]
        self.details.extend(problems)
        return CheckResult.FAILED if problems else CheckResult.PASSED


def resource_tags(conf: dict[str, Any]) -> dict[str, Any]:
    """tags_all when the plan has it (it includes the provider's default_tags), else tags."""
    for key in ("tags_all", "tags"):
        value = unwrap(conf.get(key))
        if isinstance(value, dict) and value:
            return {k: unwrap(v) for k, v in value.items()}
    return {}


def propagated_tags(conf: dict[str, Any]) -> dict[str, Any]:
    """An auto scaling group's tag blocks with propagate_at_launch: only those reach its instances."""
    blocks = conf.get("tag") or []
    tags = {}
    for block in blocks if isinstance(blocks, list) else [blocks]:
        block = unwrap(block)
        if isinstance(block, dict) and unwrap(block.get("propagate_at_launch")) in (True, "true"):
            tags[unwrap(block.get("key"))] = unwrap(block.get("value"))
    return tags


def _has_value(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


check = RequiredCostTags()
