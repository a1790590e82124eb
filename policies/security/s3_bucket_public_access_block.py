"""s3-bucket-public-access-block: every S3 bucket is covered by a full public access block.

A stack policy: the block is a separate BucketPublicAccessBlock resource that refers to the bucket, with
all four settings true. An AccountPublicAccessBlock with all four settings true covers every bucket.
A setting that is unknown during preview counts as true.
"""
from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, Severity, StackValidationArgs, StackValidationPolicy

from ..preview_values import is_unknown
from ..s3_buckets import BUCKET_KEYS, BUCKET_TYPES
from ..stack_resources import StackResources

NAME = "s3-bucket-public-access-block"
BLOCK_TYPE = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ACCOUNT_BLOCK_TYPE = "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock"
SETTINGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def _validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    stack = StackResources(args.resources)
    if any(not _unset(stack.props(block)) for block in stack.of_type(ACCOUNT_BLOCK_TYPE)):
        return
    for bucket in stack.of_type(*BUCKET_TYPES):
        blocks = stack.referring(bucket, (BLOCK_TYPE,), "bucket", BUCKET_KEYS)
        if not blocks:
            report_violation("No BucketPublicAccessBlock refers to the bucket.", bucket.urn)
            continue
        if any(not _unset(stack.props(block)) for block in blocks):
            continue
        unset = sorted({name for block in blocks for name in _unset(stack.props(block))})
        report_violation(f"Its public access block leaves {', '.join(unset)} "
                         f"not true; all of {', '.join(SETTINGS)} must be true.", bucket.urn)


def _unset(props: Any) -> list[str]:
    """The settings of a public access block that are not true (unknown counts as true)."""
    return [name for name in SETTINGS if not (props.get(name) is True or is_unknown(props.get(name)))]


POLICY = StackValidationPolicy(
    name=NAME,
    description="S3 buckets have a public access block with all four settings enabled.",
    validate=_validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    remediation_steps="Add an aws.s3.BucketPublicAccessBlock for the bucket with blockPublicAcls, "
                      "blockPublicPolicy, ignorePublicAcls and restrictPublicBuckets set to true.",
)
