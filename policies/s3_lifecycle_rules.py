"""An S3 bucket's lifecycle rules and versioning, wherever they are configured, for the S3 lifecycle policies.

Rules come from the BucketLifecycleConfiguration resources that refer to the bucket and from the
deprecated inline `lifecycleRules` of the bucket itself (read into the same shape). Anything unknown
during preview counts in the bucket's favour: a policy never fails on a value it cannot see.
"""
from __future__ import annotations

from typing import Any, Mapping

from pulumi_policy import PolicyResource

from .preview_values import UNKNOWN, as_list, dig
from .s3_buckets import BUCKET_KEYS
from .stack_resources import StackResources

LIFECYCLE_TYPES = ("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
                   "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2")
VERSIONING_TYPES = ("aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2")
EXEMPT_TAGS_SCHEMA = {
    "type": "object", "additionalProperties": {"type": "string"},
    "default": {"LifecycleExempt": "true"},
    "description": "Buckets carrying any of these tags are exempt (a value of \"*\" matches any value).",
}


def lifecycle_rules(stack: StackResources, bucket: PolicyResource) -> list[Any]:
    """Every lifecycle rule that applies to the bucket (UNKNOWN for a rule list unknown during preview)."""
    rules: list[Any] = []
    for config in stack.referring(bucket, LIFECYCLE_TYPES, "bucket", BUCKET_KEYS):
        raw = dig(stack.props(config), "rules")
        rules += [UNKNOWN] if raw is UNKNOWN else as_list(raw)
    inline = dig(stack.props(bucket), "lifecycleRules")
    rules += [UNKNOWN] if inline is UNKNOWN else [_from_inline(rule) for rule in as_list(inline)]
    return rules


def _from_inline(rule: Any) -> Any:
    """A deprecated `aws.s3.Bucket.lifecycle_rules` entry in the BucketLifecycleConfiguration rule shape."""
    if not isinstance(rule, Mapping):
        return rule
    enabled = rule.get("enabled")
    noncurrent = dig(rule, "noncurrentVersionExpiration", "days")
    return {
        "id": rule.get("id"),
        "status": UNKNOWN if enabled is UNKNOWN else ("Enabled" if enabled else "Disabled"),
        "filter": {"prefix": rule.get("prefix")} if rule.get("prefix") else {},
        "transitions": rule.get("transitions"),
        "expiration": rule.get("expiration"),
        "noncurrentVersionExpiration": None if noncurrent is None else {"noncurrentDays": noncurrent},
    }


def is_enabled(rule: Any) -> bool:
    return rule is UNKNOWN or dig(rule, "status") in ("Enabled", UNKNOWN)


def acts_on_current_objects(rule: Any) -> bool:
    """The rule moves current objects to another class or deletes them (not just housekeeping)."""
    if rule is UNKNOWN:
        return True
    transitions = dig(rule, "transitions")
    if transitions is UNKNOWN or any(_dated(t) for t in as_list(transitions)):
        return True
    return _dated(dig(rule, "expiration"))


def _dated(action: Any) -> bool:
    if action is UNKNOWN:
        return True
    return isinstance(action, Mapping) and any(action.get(key) not in (None, "") for key in ("days", "date"))


def covers_whole_bucket(rule: Any) -> bool:
    """No prefix, tag or size filter narrows the rule."""
    if rule is UNKNOWN:
        return True
    narrowing = [dig(rule, "prefix"), *_filter_values(dig(rule, "filter"))]
    return all(value in (None, "", {}, []) or value is UNKNOWN for value in narrowing)


def _filter_values(filter_: Any) -> list[Any]:
    if filter_ is UNKNOWN:
        return [UNKNOWN]
    return list(filter_.values()) if isinstance(filter_, Mapping) else []


def scope(rule: Any) -> str:
    """The rule's scope, for messages."""
    prefix = dig(rule, "filter", "prefix") or dig(rule, "filter", "and", "prefix") or dig(rule, "prefix")
    return f"prefix {prefix}" if isinstance(prefix, str) and prefix else "a filtered subset"


def versioning_status(stack: StackResources, bucket: PolicyResource) -> Any:
    """'Enabled', 'Suspended', None (never configured) or UNKNOWN."""
    statuses = [dig(stack.props(config), "versioningConfiguration", "status")
                for config in stack.referring(bucket, VERSIONING_TYPES, "bucket", BUCKET_KEYS)]
    inline = dig(stack.props(bucket), "versioning", "enabled")
    if inline is not None:
        statuses.append(UNKNOWN if inline is UNKNOWN else ("Enabled" if inline else "Suspended"))
    if "Enabled" in statuses:
        return "Enabled"
    if UNKNOWN in statuses:
        return UNKNOWN
    return statuses[0] if statuses else None
