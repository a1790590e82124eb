"""s3-lifecycle-required: every S3 bucket has a lifecycle rule that transitions or expires current data.

A stack policy: lifecycle is a separate BucketLifecycleConfiguration that refers to the bucket (the
deprecated inline `lifecycleRules` count too). Rules that only abort multipart uploads or expire
non-current versions do not count: current data would stay in S3 Standard for good. Buckets carrying an
exempting tag are skipped.
"""
from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, Severity, StackValidationArgs, StackValidationPolicy

from ..config_schema import config_schema, setting
from ..s3_buckets import BUCKET_TYPES
from ..s3_lifecycle_rules import EXEMPT_TAGS_SCHEMA, acts_on_current_objects, is_enabled, lifecycle_rules
from ..stack_resources import StackResources
from ..tag_matching import exempt, tags_of

NAME = "s3-lifecycle-required"
SCHEMA = config_schema({"exemptTags": EXEMPT_TAGS_SCHEMA})


def _validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    exempt_tags = setting(args, SCHEMA, "exemptTags")
    stack = StackResources(args.resources)
    for bucket in stack.of_type(*BUCKET_TYPES):
        if exempt(tags_of(stack, bucket), exempt_tags):
            continue
        rules = lifecycle_rules(stack, bucket)
        if any(is_enabled(rule) and acts_on_current_objects(rule) for rule in rules):
            continue
        if not rules:
            detail = "No BucketLifecycleConfiguration refers to the bucket"
        elif not any(is_enabled(rule) for rule in rules):
            detail = "Its lifecycle rules are all disabled"
        else:
            detail = ("Its lifecycle rules only clean up (multipart uploads, non-current versions); none moves "
                      "current objects to a cheaper storage class or expires them")
        exemption = ", ".join(f"{k}={v}" for k, v in exempt_tags.items()) or "none configured"
        report_violation(f"{detail}, so its data stays in S3 Standard for good. Exempt it with a tag "
                         f"({exemption}) if that is intended.", bucket.urn)


POLICY = StackValidationPolicy(
    name=NAME,
    description="S3 buckets have a lifecycle rule that transitions current objects to cheaper storage or expires them.",
    validate=_validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=SCHEMA,
    severity=Severity.MEDIUM,
    remediation_steps="Use aifinops.components.tiered_bucket.TieredBucket (STANDARD_IA at 30 days, GLACIER_IR at 90, "
                      "DEEP_ARCHIVE at 365 by default), or add an aws.s3.BucketLifecycleConfiguration with transitions "
                      "or an expiration for the bucket.",
)
