"""s3-bucket-server-side-encryption: every S3 bucket has default server-side encryption configured.

A stack policy: encryption is a separate BucketServerSideEncryptionConfiguration resource that refers
to the bucket (the deprecated inline `serverSideEncryptionConfiguration` also counts). An algorithm that
is unknown during preview counts as configured.
"""
from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, Severity, StackValidationArgs, StackValidationPolicy

from ..config_schema import config_schema, setting
from ..preview_values import UNKNOWN, as_list, dig
from ..s3_buckets import BUCKET_KEYS, BUCKET_TYPES
from ..stack_resources import StackResources

NAME = "s3-bucket-server-side-encryption"
ENCRYPTION_TYPES = ("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2")
SCHEMA = config_schema({
    "allowedAlgorithms": {
        "type": "array", "items": {"type": "string", "enum": ["AES256", "aws:kms", "aws:kms:dsse"]},
        "minItems": 1, "uniqueItems": True,
        "default": ["AES256", "aws:kms", "aws:kms:dsse"],
        "description": "Default-encryption algorithms that count (set [\"aws:kms\", \"aws:kms:dsse\"] to require KMS).",
    },
})


def _validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    allowed: list[str] = setting(args, SCHEMA, "allowedAlgorithms")
    stack = StackResources(args.resources)
    for bucket in stack.of_type(*BUCKET_TYPES):
        algorithms = _inline_algorithms(stack.props(bucket))
        for config in stack.referring(bucket, ENCRYPTION_TYPES, "bucket", BUCKET_KEYS):
            rules = dig(stack.props(config), "rules")
            algorithms += [UNKNOWN] if rules is UNKNOWN else [
                dig(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm") for rule in as_list(rules)]
        if any(a is UNKNOWN or a in allowed for a in algorithms):
            continue
        found = [a for a in algorithms if isinstance(a, str)]
        detail = (f"its default encryption uses {', '.join(found)}, expected one of {', '.join(allowed)}" if found
                  else "no BucketServerSideEncryptionConfiguration refers to the bucket")
        report_violation(f"{detail[0].upper()}{detail[1:]}.", bucket.urn)


def _inline_algorithms(props: Any) -> list[Any]:
    inline = dig(props, "serverSideEncryptionConfiguration")
    if inline is None:
        return []
    return [dig(inline, "rule", "applyServerSideEncryptionByDefault", "sseAlgorithm")]


POLICY = StackValidationPolicy(
    name=NAME,
    description="S3 buckets have default server-side encryption configured.",
    validate=_validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=SCHEMA,
    severity=Severity.HIGH,
    remediation_steps="Add an aws.s3.BucketServerSideEncryptionConfiguration for the bucket (aws:kms with a "
                      "customer key where the data is sensitive).",
)
