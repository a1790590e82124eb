"""s3-versioning-with-noncurrent-expiry: a versioned bucket expires its non-current versions.

Versioning keeps every overwritten or deleted object: without a whole-bucket rule that expires
non-current versions, each checkpoint overwrite adds to the bill for good. A stack policy: versioning and
lifecycle are separate resources that refer to the bucket (inline `versioning`/`lifecycleRules` count too).
"""
from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, Severity, StackValidationArgs, StackValidationPolicy

from ..config_schema import config_schema, setting
from ..preview_values import UNKNOWN, dig
from ..s3_buckets import BUCKET_TYPES
from ..s3_lifecycle_rules import (
    EXEMPT_TAGS_SCHEMA,
    covers_whole_bucket,
    is_enabled,
    lifecycle_rules,
    scope,
    versioning_status,
)
from ..stack_resources import StackResources
from ..tag_matching import exempt, tags_of

NAME = "s3-versioning-with-noncurrent-expiry"
SCHEMA = config_schema({
    "maxNoncurrentDays": {
        "type": "integer", "minimum": 1, "default": 365,
        "description": "The longest a non-current version may be kept, in days.",
    },
    "exemptTags": EXEMPT_TAGS_SCHEMA,
})


def _validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    max_days = setting(args, SCHEMA, "maxNoncurrentDays")
    exempt_tags = setting(args, SCHEMA, "exemptTags")
    stack = StackResources(args.resources)
    for bucket in stack.of_type(*BUCKET_TYPES):
        if versioning_status(stack, bucket) != "Enabled" or exempt(tags_of(stack, bucket), exempt_tags):
            continue
        expiring = [rule for rule in lifecycle_rules(stack, bucket) if is_enabled(rule) and
                    (rule is UNKNOWN or dig(rule, "noncurrentVersionExpiration", "noncurrentDays") is not None)]
        whole = [rule for rule in expiring if covers_whole_bucket(rule)]
        days = [UNKNOWN if rule is UNKNOWN else dig(rule, "noncurrentVersionExpiration", "noncurrentDays")
                for rule in whole]
        if any(d is UNKNOWN or (isinstance(d, (int, float)) and d <= max_days) for d in days):
            continue
        if whole:
            detail = f"Non-current versions are kept {min(days):g} days, more than the {max_days:g} allowed"
        elif expiring:
            detail = (f"Non-current versions expire only under {', '.join(sorted({scope(r) for r in expiring}))}; "
                      f"the rest of the bucket keeps them for good")
        else:
            detail = "The bucket is versioned but no enabled lifecycle rule expires non-current versions"
        report_violation(f"{detail}. Expire them bucket-wide within {max_days:g} days.", bucket.urn)


POLICY = StackValidationPolicy(
    name=NAME,
    description="Versioned S3 buckets expire non-current versions, so versioning does not grow the bill without bound.",
    validate=_validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=SCHEMA,
    severity=Severity.MEDIUM,
    remediation_steps="Use aifinops.components.tiered_bucket.TieredBucket (non-current versions expire after 30 days), or add "
                      "a lifecycle rule with no filter and a noncurrentVersionExpiration to the bucket's "
                      "aws.s3.BucketLifecycleConfiguration.",
)
