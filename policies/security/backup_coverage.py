"""backup-coverage: every bucket, EBS volume or EFS file system tagged as holding data is backed up.

A stack policy. A data resource (one carrying the configured tag) must be selected by an
aws.backup.Selection whose plan is in the stack. A selection picks a resource as AWS Backup does:
by any of its `selectionTags`, or by `resources` (ARNs, wildcards, or a reference to the resource);
then all of its `conditions` must hold and `notResources` must not name it. Unknown values during
preview count as a match.
"""
from __future__ import annotations

import fnmatch
from typing import Any, Mapping

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from ..config_schema import config_schema, setting
from ..preview_values import UNKNOWN, as_list, dig
from ..s3_buckets import BUCKET_TYPES
from ..stack_resources import StackResources
from ..tag_matching import tag_matches, tags_of

NAME = "backup-coverage"
PLAN_TYPE = "aws:backup/plan:Plan"
SELECTION_TYPE = "aws:backup/selection:Selection"
DATA_TYPES = (*BUCKET_TYPES, "aws:ebs/volume:Volume", "aws:efs/fileSystem:FileSystem")
RESOURCE_TAG_PREFIX = "aws:ResourceTag/"
SCHEMA = config_schema({
    "tagKey": {"type": "string", "minLength": 1, "default": "DataClass",
               "description": "The tag that marks a resource as holding data."},
    "tagValue": {"type": "string", "minLength": 1, "default": "*",
                 "description": "The value of that tag that marks data (\"*\": any value)."},
    "resourceTypes": {"type": "array", "items": {"type": "string"}, "uniqueItems": True, "default": list(DATA_TYPES),
                      "description": "The resource types checked."},
})


def _validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    tag_key, tag_value = setting(args, SCHEMA, "tagKey"), setting(args, SCHEMA, "tagValue")
    stack = StackResources(args.resources)
    plans = stack.of_type(PLAN_TYPE)
    selections = [s for s in stack.of_type(SELECTION_TYPE)
                  if any(stack.refers_to(s, "planId", plan, ("id",)) for plan in plans)]
    for resource in stack.of_type(*setting(args, SCHEMA, "resourceTypes")):
        tags = tags_of(stack, resource)
        if tags is UNKNOWN or not isinstance(tags, Mapping) or not tag_matches(tags, tag_key, tag_value) \
                or tags.get(tag_key) is UNKNOWN:
            continue
        if any(_selects(stack, selection, resource, tags) for selection in selections):
            continue
        report_violation(f"It is tagged {tag_key}={tags[tag_key]} (holds data) but no backup selection of a plan in "
                         f"the stack picks it{_hint(stack, selections)}.", resource.urn)


def _selects(stack: StackResources, selection: PolicyResource, resource: PolicyResource,
             tags: Mapping[str, Any]) -> bool:
    props = stack.props(selection)
    by_tag = _any_tag(dig(props, "selectionTags"), tags)
    by_resource = _names(stack, selection, "resources", resource, wildcard_may_match_unknown=True)
    if not (by_tag or by_resource):
        return False
    # An exclusion counts only when it surely names the resource: a wildcard cannot be matched to an ARN
    # that is not made yet, so it excludes nothing here (a miss is reported, never a silent pass).
    if _names(stack, selection, "notResources", resource, wildcard_may_match_unknown=False) is True:
        return False
    return all(_condition_holds(condition, tags) for condition in as_list(dig(props, "conditions")))


def _any_tag(selection_tags: Any, tags: Mapping[str, Any]) -> bool:
    if selection_tags is UNKNOWN:
        return True
    return any(entry is UNKNOWN or (dig(entry, "type") in ("STRINGEQUALS", UNKNOWN)
                                    and _tag_equals(tags, dig(entry, "key"), dig(entry, "value")))
               for entry in as_list(selection_tags))


def _tag_equals(tags: Mapping[str, Any], key: Any, value: Any) -> bool:
    if key is UNKNOWN or value is UNKNOWN:
        return True
    return key in tags and (tags[key] is UNKNOWN or tags[key] == value)


def _names(stack: StackResources, selection: PolicyResource, prop: str, resource: PolicyResource,
           wildcard_may_match_unknown: bool) -> bool:
    """The selection's `prop` names the resource: a reference to it, its ARN, a matching wildcard, or unknown."""
    if stack.refers_to(selection, prop, resource, ("arn",)):
        return True
    # During preview an ARN of a resource being created is unknown. When the property depends on other
    # resources, its unknown values are theirs (refers_to has checked those); only an unknown with no
    # dependency behind it could be anything.
    unknown_could_be_anything = not selection.property_dependencies.get(prop)
    patterns = dig(stack.props(selection), prop)
    if patterns is UNKNOWN:
        return unknown_could_be_anything
    arn = dig(stack.props(resource), "arn")
    for pattern in as_list(patterns):
        if pattern is UNKNOWN and unknown_could_be_anything or pattern == "*":
            return True
        if wildcard_may_match_unknown and isinstance(pattern, str) and "*" in pattern and arn is UNKNOWN \
                and _service_could_match(pattern, resource.resource_type):
            return True  # the ARN is made at create time; a wildcard over its service may well match it
        if isinstance(pattern, str) and isinstance(arn, str) and "*" in pattern and fnmatch.fnmatchcase(arn, pattern):
            return True
    return False


# The service an ARN names, for the resource types whose module name differs from it.
_ARN_SERVICES = {"ebs": "ec2", "efs": "elasticfilesystem", "fsx": "fsx", "rds": "rds", "dynamodb": "dynamodb"}


def _service_could_match(pattern: str, resource_type: str) -> bool:
    """Whether an ARN pattern (arn:partition:service:...) can cover resources of this type at all."""
    parts = pattern.split(":")
    if len(parts) < 3:
        return fnmatch.fnmatchcase("arn", parts[0])
    module = resource_type.split(":")[1].split("/")[0] if resource_type.count(":") >= 2 else ""
    return fnmatch.fnmatchcase(_ARN_SERVICES.get(module, module), parts[2])


def _condition_holds(condition: Any, tags: Mapping[str, Any]) -> bool:
    """Every test of an aws.backup.Selection condition block on resource tags holds."""
    if condition is UNKNOWN:
        return True
    tests = {"stringEquals": lambda v, want: v == want, "stringLikes": fnmatch.fnmatchcase,
             "stringNotEquals": lambda v, want: v != want,
             "stringNotLikes": lambda v, want: not fnmatch.fnmatchcase(v, want)}
    for kind, test in tests.items():
        for entry in as_list(dig(condition, kind)):
            key, want = dig(entry, "key"), dig(entry, "value")
            if UNKNOWN in (entry, key, want) or not isinstance(key, str) or not key.startswith(RESOURCE_TAG_PREFIX):
                continue  # unknown, or not about tags: cannot fail it here
            value = tags.get(key[len(RESOURCE_TAG_PREFIX):])
            if value is UNKNOWN:
                continue
            if not test(value if isinstance(value, str) else "", want):
                return False
    return True


def _hint(stack: StackResources, selections: list[PolicyResource]) -> str:
    pairs = sorted({f"{dig(e, 'key')}={dig(e, 'value')}" for s in selections
                    for e in as_list(dig(stack.props(s), "selectionTags")) if isinstance(dig(e, "key"), str)})
    if pairs:
        return f"; tag it {' or '.join(pairs)}, or add its ARN to a selection's resources"
    return "; add a backup plan (aifinops.components.backup_plan.BackupPlan) that selects it by tag or ARN"


POLICY = StackValidationPolicy(
    name=NAME,
    description="Buckets, EBS volumes and EFS file systems tagged as holding data are selected by a backup plan "
                "in the stack.",
    validate=_validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=SCHEMA,
    severity=Severity.HIGH,
    remediation_steps="Add a aifinops.components.backup_plan.BackupPlan whose selection_tags the resource carries (default "
                      "Backup=true), or list the resource's ARN in its resources.",
)
