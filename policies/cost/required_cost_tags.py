"""required-cost-tags: every taggable AWS resource carries the cost-allocation tags, with values.

A stack policy, because tags can come from other resources: an auto scaling group's instances get the
`instance` tag specifications of its launch template. Tags from the provider's `defaultTags` count
(see `aifinops.core.tags` for the exact rules). Resource types that cannot carry tags are never
flagged; a tag value that is unknown during preview counts as present.
"""
from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, Severity, StackValidationArgs, StackValidationPolicy

from aifinops.core.required_tags import REQUIRED_COST_TAGS_POLICY, REQUIRED_COST_TAGS_PROPERTIES
from aifinops.core.tags import (ASG_TYPE, LAUNCH_TEMPLATE_TYPE, effective_tags, is_known_aws_type, is_taggable,
                                tag_shapes_source)

from ..config_schema import config_schema, setting
from ..preview_values import UNKNOWN, is_unknown
from ..stack_resources import StackResources

NAME = REQUIRED_COST_TAGS_POLICY
SCHEMA = config_schema(REQUIRED_COST_TAGS_PROPERTIES)
# How an auto scaling group names its launch template: directly, or in a mixed instances policy.
_LAUNCH_TEMPLATE_REFERENCES = ("launchTemplate", "mixedInstancesPolicy")


def _validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    required: list[str] = setting(args, SCHEMA, "requiredTags")
    allowed: dict[str, list[str]] = setting(args, SCHEMA, "allowedValues")
    stack = StackResources(args.resources)
    for resource in stack.resources:
        if not resource.resource_type.startswith("aws:"):
            continue
        if not is_known_aws_type(resource.resource_type):
            # Fail closed: a type newer than the table cannot be said to need no tags.
            report_violation(f"{resource.resource_type} is not in aifinops's table of AWS resource types "
                             f"({tag_shapes_source()}), so whether it carries cost tags cannot be told; "
                             f"update aifinops (or regenerate the table with python -m aifinops.taggable_types)",
                             resource.urn)
            continue
        if not is_taggable(resource.resource_type):
            continue
        template = _launch_template_props(stack, resource)
        tags = effective_tags(resource.resource_type, stack.props(resource), stack.provider_props(resource), template)
        if tags is UNKNOWN:
            continue
        problems = _missing(tags, required) + _disallowed(tags, allowed)
        if problems:
            where = ("its tags with propagateAtLaunch: true and its launch template's instance tags"
                     if resource.resource_type == ASG_TYPE else "its tags and its provider's defaultTags")
            report_violation(f"{'; '.join(problems)} (looked in {where}).", resource.urn)


def _launch_template_props(stack: StackResources, resource: Any) -> Any:
    if resource.resource_type != ASG_TYPE:
        return None
    for template in stack.of_type(LAUNCH_TEMPLATE_TYPE):
        if any(stack.refers_to(resource, prop, template, ("id", "name", "arn")) for prop in _LAUNCH_TEMPLATE_REFERENCES):
            return stack.props(template)
    return None


def _missing(tags: dict[str, Any], required: list[str]) -> list[str]:
    absent = [key for key in required if tags.get(key) is None]
    empty = [key for key in required if tags.get(key) is not None and not is_unknown(tags[key])
             and (not isinstance(tags[key], str) or not tags[key].strip())]
    problems = [f"missing required tag{'s' if len(absent) > 1 else ''} {', '.join(absent)}"] if absent else []
    problems += [f"tag {key} is empty" for key in empty]
    return problems


def _disallowed(tags: dict[str, Any], allowed: dict[str, list[str]]) -> list[str]:
    problems = []
    for key, values in allowed.items():
        value = tags.get(key)
        if isinstance(value, str) and not is_unknown(value) and value.strip() and value not in values:
            problems.append(f"tag {key} is '{value}', expected one of: {', '.join(values)}")
    return problems


POLICY = StackValidationPolicy(
    name=NAME,
    description="Every taggable AWS resource carries the required cost-allocation tags, with non-empty values.",
    validate=_validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=SCHEMA,
    severity=Severity.HIGH,
    remediation_steps="Set the tags on the resource, in the AWS provider's defaultTags, or (for an auto scaling "
                      "group) as tags with propagateAtLaunch: true or in its launch template's instance tag "
                      "specifications. In aifinops stacks, set costTags in the stack config.",
)
