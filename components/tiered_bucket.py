"""TieredBucket: an S3 bucket for datasets and checkpoints that is private, encrypted and tiered by age.

Everything S3 can get wrong by default is set: versioning with non-current versions expiring, default
encryption, a full public access block, BucketOwnerEnforced ownership, a TLS-only bucket policy, aborted
multipart uploads, and lifecycle tiers that move data down to cheaper storage classes as it ages. The
lifecycle math (what S3 accepts, what a rule costs) lives in `aifinops.core.lifecycle`.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from aifinops.core import lifecycle
from aifinops.core.argument_checks import arn_in_region, aws_region, flag, one_of, positive_number, whole_number
from aifinops.core.lifecycle import LifecycleRule

from .checkov_suppressions import suppress_checkov
from .gpu_instance import validate_tags

HOUSEKEEPING_RULE_ID = "housekeeping"
MAX_NEWER_NONCURRENT_VERSIONS = 100  # S3's limit for NewerNoncurrentVersions
# Classes a replica can arrive in (S3 replication's destination storage classes, less the legacy ones).
REPLICA_STORAGE_CLASSES = ("STANDARD", *lifecycle.TRANSITION_TARGETS)
BUCKET_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
BUCKET_NAME_RESERVED = (("xn--", "sthree-", "amzn-s3-demo-"), ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"))

_BUCKET = "aws:s3/bucket:Bucket"
for _check, _reason in (
    ("CKV2_AWS_62", "datasets and checkpoints have no consumer for S3 event notifications; a component that needs "
                    "them adds a BucketNotification next to the bucket"),
    ("CKV_AWS_18", "server access logs need a separate target bucket and cost per request logged, so they are "
                   "opt-in through access_logs (CloudTrail data events are the usual audit trail)"),
    ("CKV_AWS_144", "a second copy of every training dataset doubles the storage bill; cross-region replication "
                    "is opt-in through replication, and BackupPlan covers recovery"),
    ("CKV_AWS_145", "the bucket uses SSE-S3 unless kms_key_arn is given (SSE-KMS with a bucket key then): a "
                    "customer key adds per-request KMS cost that public or derived training data does not need"),
):
    suppress_checkov(component_type="aifinops:storage:TieredBucket", resource_type=_BUCKET, check_id=_check,
                     reason=_reason)


@dataclass
class AccessLogs:
    """Server access logs for the bucket, delivered to `target_bucket` (a bucket name).

    target_prefix: default "<component name>/". Logs are partitioned by event time (for Athena). The
    target must let the S3 logging service (logging.s3.amazonaws.com) write to it.
    """

    target_bucket: pulumi.Input[str]
    target_prefix: Optional[str] = None


@dataclass
class Replication:
    """Replicate every new object to a bucket the component creates in `region`.

    kms_key_arn: a KMS key in `region` for the replica; required when the source bucket uses SSE-KMS,
    else the replica uses SSE-S3. storage_class: the class replicas arrive in (default STANDARD); the
    replica gets the source's lifecycle, less the transitions S3 cannot make from that class.
    tags: the replica bucket's tags; default None, the source bucket's (give others to keep a replica
    out of a backup selection by tag). Delete markers are not replicated, so a delete in the source does
    not reach the replica.
    """

    region: str
    kms_key_arn: Optional[pulumi.Input[str]] = None
    storage_class: str = "STANDARD"
    tags: Optional[Mapping[str, str]] = None


@dataclass
class TieredBucketArgs:
    """Arguments of TieredBucket. Nothing is required.

    - bucket_name: default, named by the provider from the component name.
    - kms_key_arn: SSE-KMS with an S3 bucket key (fewer KMS calls); default None, SSE-S3 (AES256).
    - versioning: default True. Non-current versions expire after `noncurrent_version_expiration_days`
      (default 30), keeping the newest `noncurrent_versions_to_keep` (default None: none kept longer).
    - rules / presets: lifecycle rules for current objects. presets (default none) are named rule sets
      from `lifecycle.PRESETS` ("training-data", "intelligent-tiering", "checkpoints", "model-artifacts":
      everything under models/ moves to GLACIER_IR after 60 days, so with a monthly release the latest two
      versions stay hot; nothing is deleted); rules are added
      after them. With neither, the whole bucket follows the training-data path: STANDARD, STANDARD_IA at
      30 days, GLACIER_IR at 90, DEEP_ARCHIVE at 365. rules=[] with no presets: no tiering at all.
    - checkpoint_retention_days: how long the "checkpoints" preset keeps checkpoints (default 30).
    - abort_incomplete_multipart_days: default 7.
    - access_logs: default None (no server access logs). replication: default None.
    - monthly_ingest_gb / average_object_mb: how much data a rule receives a month (default 1000 GB) in
      objects of what size (default 64 MB, a typical dataset shard or checkpoint file); lifecycle cost
      warnings state their extra cost in dollars at this volume, and the cost estimate reads them.
    - force_destroy: default False; the bucket cannot be deleted while it holds objects.
    - tags: extra tags for the bucket (and its replica), e.g. DataClass and Backup; cost tags come from the
      stack's cost-tag transform.
    - policy_statements: extra bucket-policy statements (IAM JSON as dicts; values may be Outputs), next to
      the TLS-only deny; a statement without a Resource applies to the bucket and its objects. Default none.
      S3 keeps one policy per bucket, so a component that needs a service to write here passes them.
    """

    bucket_name: Optional[str] = None
    kms_key_arn: Optional[pulumi.Input[str]] = None
    versioning: bool = True
    rules: Optional[list[LifecycleRule]] = None
    presets: list[str] = field(default_factory=list)
    checkpoint_retention_days: int = 30
    noncurrent_version_expiration_days: int = 30
    noncurrent_versions_to_keep: Optional[int] = None
    abort_incomplete_multipart_days: int = 7
    access_logs: Optional[AccessLogs] = None
    replication: Optional[Replication] = None
    monthly_ingest_gb: float = 1000.0
    average_object_mb: float = 64.0
    force_destroy: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)
    policy_statements: Sequence[Mapping[str, Any]] = ()


def validate_bucket_name(argument: str, value: Any) -> Optional[str]:
    """S3's general-purpose bucket naming rules."""
    if value is None:
        return None
    expected = "3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit"
    if not isinstance(value, str) or not BUCKET_NAME_PATTERN.match(value) or ".." in value \
            or re.fullmatch(r"\d+\.\d+\.\d+\.\d+", value):
        raise ValueError(f"{argument}: expected a bucket name of {expected}, got {value!r}")
    prefixes, suffixes = BUCKET_NAME_RESERVED
    if value.startswith(prefixes) or value.endswith(suffixes):
        raise ValueError(f"{argument}: S3 reserves names starting with {', '.join(prefixes)} or ending with "
                         f"{', '.join(suffixes)}, got {value!r}")
    return value


def lifecycle_rules_of(args: TieredBucketArgs) -> list[LifecycleRule]:
    """The bucket's lifecycle rules for current objects: presets, then rules, else the default path."""
    retention = whole_number("checkpoint_retention_days", args.checkpoint_retention_days, 1, unit="days")
    presets = lifecycle.preset_rules(args.presets, retention)
    if args.rules is None:
        return presets or lifecycle.preset_rules(["training-data"], retention)
    reserved = (HOUSEKEEPING_RULE_ID, *(rule.id for rule in presets))
    return presets + lifecycle.validate_rules(args.rules, "rules", reserved_ids=reserved)


def lifecycle_rule_inputs(rules: Sequence[LifecycleRule]) -> list[dict[str, Any]]:
    """LifecycleRules as aws.s3.BucketLifecycleConfiguration rules."""
    inputs = []
    for rule in rules:
        entry: dict[str, Any] = {"id": rule.id, "status": "Enabled",
                                 "filter": {"prefix": rule.prefix} if rule.prefix else {}}
        if rule.transitions:
            entry["transitions"] = [{"days": int(t.days), "storage_class": t.storage_class} for t in rule.transitions]
        if rule.expiration_days is not None:
            entry["expiration"] = {"days": int(rule.expiration_days)}
        inputs.append(entry)
    return inputs


def housekeeping_rule(versioned: bool, noncurrent_days: int, versions_to_keep: Optional[int],
                      abort_days: int) -> dict[str, Any]:
    """Whole-bucket cleanup: abort stale multipart uploads; expire non-current versions and lone delete markers."""
    rule: dict[str, Any] = {"id": HOUSEKEEPING_RULE_ID, "status": "Enabled", "filter": {},
                            "abort_incomplete_multipart_upload": {"days_after_initiation": abort_days}}
    if versioned:
        rule["noncurrent_version_expiration"] = {"noncurrent_days": noncurrent_days,
                                                 "newer_noncurrent_versions": versions_to_keep}
        rule["expiration"] = {"expired_object_delete_marker": True}
    return rule


def tls_only_policy(bucket_arn: str, statements: Sequence[Mapping[str, Any]] = ()) -> str:
    """Deny every request that does not use TLS; then the extra statements."""
    resources = [bucket_arn, f"{bucket_arn}/*"]
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": resources,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }, *({"Resource": resources, **statement} for statement in statements)]})


def validate_policy_statements(argument: str, value: Any) -> list[Mapping[str, Any]]:
    if isinstance(value, (str, Mapping)) or not isinstance(value, Sequence) or not all(
            isinstance(s, Mapping) and s.get("Effect") in ("Allow", "Deny") and "Action" in s for s in value):
        raise ValueError(f"{argument}: expected a list of IAM policy statements (dicts with Effect and Action), "
                         f"got {value!r}")
    return list(value)


def encryption_rule(kms_key_arn: Optional[pulumi.Input[str]]) -> dict[str, Any]:
    if kms_key_arn is None:
        return {"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}
    return {"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": kms_key_arn},
            "bucket_key_enabled": True}


@dataclass
class _SecureBucket:
    bucket: aws.s3.Bucket
    versioning: Optional[aws.s3.BucketVersioning]


def secure_bucket(name: str, *, bucket_name: Optional[str], region: Optional[str],
                  kms_key_arn: Optional[pulumi.Input[str]], versioned: bool, rules: list[dict[str, Any]],
                  force_destroy: bool, tags: Mapping[str, str], parent: pulumi.Resource,
                  policy_statements: Sequence[Mapping[str, Any]] = ()) -> _SecureBucket:
    """A bucket with encryption, public access block, owner-enforced ownership, TLS-only policy, lifecycle."""
    opts = pulumi.ResourceOptions(parent=parent)
    bucket = aws.s3.Bucket(name, bucket=bucket_name, region=region, force_destroy=force_destroy,
                           tags=dict(tags) or None, opts=opts)
    versioning = None
    if versioned:
        versioning = aws.s3.BucketVersioning(f"{name}-versioning", bucket=bucket.id, region=region,
                                             versioning_configuration={"status": "Enabled"}, opts=opts)
    aws.s3.BucketServerSideEncryptionConfiguration(f"{name}-encryption", bucket=bucket.id, region=region,
                                                   rules=[encryption_rule(kms_key_arn)], opts=opts)
    public_access = aws.s3.BucketPublicAccessBlock(
        f"{name}-public-access-block", bucket=bucket.id, region=region, block_public_acls=True,
        block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True, opts=opts)
    aws.s3.BucketOwnershipControls(f"{name}-ownership", bucket=bucket.id, region=region,
                                   rule={"object_ownership": "BucketOwnerEnforced"}, opts=opts)
    # S3 rejects a bucket policy written while the public access block is still being applied.
    aws.s3.BucketPolicy(f"{name}-tls-only", bucket=bucket.id, region=region, policy=pulumi.Output.all(
        bucket.arn, pulumi.Output.from_input(list(policy_statements))).apply(lambda v: tls_only_policy(*v)),
                        opts=pulumi.ResourceOptions(parent=parent, depends_on=[public_access]))
    # Rules on non-current versions need versioning in place first.
    aws.s3.BucketLifecycleConfiguration(f"{name}-lifecycle", bucket=bucket.id, region=region, rules=rules,
                                        opts=pulumi.ResourceOptions(parent=parent,
                                                                    depends_on=[versioning] if versioning else None))
    return _SecureBucket(bucket, versioning)


def replication_policy(source_arn: str, replica_arn: str, source_key: Optional[str], replica_key: Optional[str]) -> str:
    """Least privilege for S3 replication: read versions from the source, write replicas to the replica."""
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"], "Resource": source_arn},
        {"Effect": "Allow", "Action": ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl",
                                       "s3:GetObjectVersionTagging"], "Resource": f"{source_arn}/*"},
        {"Effect": "Allow", "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
         "Resource": f"{replica_arn}/*"},
    ]
    if source_key:
        statements.append({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": source_key})
    if replica_key:
        statements.append({"Effect": "Allow", "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
                           "Resource": replica_key})
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def validate_access_logs(argument: str, logs: Any) -> Optional[AccessLogs]:
    if logs is None:
        return None
    if not isinstance(logs, AccessLogs):
        raise ValueError(f"{argument}: expected AccessLogs or None, got {logs!r}")
    if isinstance(logs.target_bucket, str):
        validate_bucket_name(f"{argument}.target_bucket", logs.target_bucket)
    elif not isinstance(logs.target_bucket, pulumi.Output):
        raise ValueError(f"{argument}.target_bucket: expected a bucket name, got {logs.target_bucket!r}")
    prefix = logs.target_prefix
    if prefix is not None and (not isinstance(prefix, str) or not prefix.endswith("/")):
        raise ValueError(f"{argument}.target_prefix: expected a key prefix ending in '/', got {logs.target_prefix!r}")
    return logs


def validate_replication(argument: str, replication: Any, source_kms_key: Any,
                         versioned: bool) -> Optional[Replication]:
    if replication is None:
        return None
    if not isinstance(replication, Replication):
        raise ValueError(f"{argument}: expected Replication or None, got {replication!r}")
    region = aws_region(f"{argument}.region", replication.region)
    one_of(f"{argument}.storage_class", replication.storage_class, REPLICA_STORAGE_CLASSES)
    if not versioned:
        raise ValueError(f"{argument}: S3 replication needs versioning; got versioning=False")
    if replication.kms_key_arn is None and source_kms_key is not None:
        raise ValueError(f"{argument}.kms_key_arn: the source bucket uses SSE-KMS, so replicas need a KMS key in "
                         f"{region}; got None")
    if replication.kms_key_arn is not None:
        arn_in_region(f"{argument}.kms_key_arn", replication.kms_key_arn, "kms", region)
    if replication.tags is not None:
        validate_tags(f"{argument}.tags", replication.tags)
    return replication


class TieredBucket(pulumi.ComponentResource):
    """An S3 bucket for training data or checkpoints: private, encrypted, versioned, tiered by age."""

    bucket_name: pulumi.Output[str]
    arn: pulumi.Output[str]
    replica_arn: Optional[pulumi.Output[str]]
    lifecycle_rules: list[LifecycleRule]
    cost_warnings: list[lifecycle.CostWarning]

    def __init__(self, name: str, args: Optional[TieredBucketArgs] = None,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        # Validate everything before registering anything.
        args = TieredBucketArgs() if args is None else args
        if not isinstance(args, TieredBucketArgs):
            raise ValueError(f"args: expected TieredBucketArgs, got {type(args).__name__}")
        bucket_name = validate_bucket_name("bucket_name", args.bucket_name)
        arn_in_region("kms_key_arn", args.kms_key_arn, "kms", None)
        flag("versioning", args.versioning)
        rules = lifecycle_rules_of(args)
        noncurrent_days = whole_number("noncurrent_version_expiration_days", args.noncurrent_version_expiration_days,
                                       1, unit="days")
        keep = args.noncurrent_versions_to_keep
        if keep is not None:
            keep = whole_number("noncurrent_versions_to_keep", keep, 1, MAX_NEWER_NONCURRENT_VERSIONS, unit="versions")
        abort_days = whole_number("abort_incomplete_multipart_days", args.abort_incomplete_multipart_days, 1,
                                  unit="days")
        logs = validate_access_logs("access_logs", args.access_logs)
        replication = validate_replication("replication", args.replication, args.kms_key_arn, args.versioning)
        if replication is not None and bucket_name is not None:
            validate_bucket_name("bucket_name (its replica is named '<bucket_name>-replica')", f"{bucket_name}-replica")
        ingest = positive_number("monthly_ingest_gb", args.monthly_ingest_gb, "GB")
        object_mb = positive_number("average_object_mb", args.average_object_mb, "MB")
        flag("force_destroy", args.force_destroy)
        tags = validate_tags("tags", args.tags)
        statements = validate_policy_statements("policy_statements", args.policy_statements)
        warnings = lifecycle.cost_warnings(rules, ingest, object_mb)
        replica_rules: list[LifecycleRule] = []
        if replication is not None:
            replica_rules = lifecycle.rules_for_arrival(rules, replication.storage_class)
            if replication.storage_class != lifecycle.STANDARD:
                warnings += lifecycle.cost_warnings(replica_rules, ingest, object_mb, replication.storage_class,
                                                    label="replica lifecycle rule")

        super().__init__("aifinops:storage:TieredBucket", name, None, opts)
        housekeeping = housekeeping_rule(args.versioning, noncurrent_days, keep, abort_days)
        primary = secure_bucket(name, bucket_name=bucket_name, region=None, kms_key_arn=args.kms_key_arn,
                                versioned=args.versioning, rules=[*lifecycle_rule_inputs(rules), housekeeping],
                                force_destroy=args.force_destroy, tags=tags, parent=self,
                                policy_statements=statements)
        bucket = primary.bucket
        child = pulumi.ResourceOptions(parent=self)
        if logs is not None:
            aws.s3.BucketLogging(f"{name}-access-logs", bucket=bucket.id, target_bucket=logs.target_bucket,
                                 target_prefix=logs.target_prefix or f"{name}/",
                                 target_object_key_format={
                                     "partitioned_prefix": {"partition_date_source": "EventTime"}},
                                 opts=child)
        self.replica_arn = None
        if replication is not None:
            self.replica_arn = self._replicate(name, bucket_name, primary, replication, replica_rules, housekeeping,
                                               args, tags)
        for warning in warnings:
            pulumi.log.warn(warning.message, resource=self)

        self.bucket_name = bucket.bucket
        self.arn = bucket.arn
        self.lifecycle_rules = rules
        self.cost_warnings = warnings
        self.register_outputs({"bucketName": bucket.bucket, "arn": bucket.arn, "replicaArn": self.replica_arn,
                               "monthlyIngestGb": ingest, "averageObjectMb": object_mb})

    def _replicate(self, name: str, bucket_name: Optional[str], primary: _SecureBucket, replication: Replication,
                   replica_rules: list[LifecycleRule], housekeeping: dict[str, Any], args: TieredBucketArgs,
                   tags: Mapping[str, str]) -> pulumi.Output[str]:
        replica = secure_bucket(f"{name}-replica", bucket_name=f"{bucket_name}-replica" if bucket_name else None,
                                region=replication.region, kms_key_arn=replication.kms_key_arn, versioned=True,
                                rules=[*lifecycle_rule_inputs(replica_rules), housekeeping],
                                force_destroy=args.force_destroy,
                                tags=tags if replication.tags is None else dict(replication.tags), parent=self)
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(f"{name}-replication-role", assume_role_policy=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
                           "Action": "sts:AssumeRole"}],
        }), opts=child)
        aws.iam.RolePolicy(f"{name}-replication", role=role.id, policy=pulumi.Output.all(
            primary.bucket.arn, replica.bucket.arn, args.kms_key_arn, replication.kms_key_arn,
        ).apply(lambda values: replication_policy(*values)), opts=child)
        destination: dict[str, Any] = {"bucket": replica.bucket.arn, "storage_class": replication.storage_class}
        rule: dict[str, Any] = {"id": "replicate-everything", "status": "Enabled", "filter": {},
                                "delete_marker_replication": {"status": "Disabled"}, "destination": destination}
        if replication.kms_key_arn is not None:
            destination["encryption_configuration"] = {"replica_kms_key_id": replication.kms_key_arn}
        if args.kms_key_arn is not None:
            rule["source_selection_criteria"] = {"sse_kms_encrypted_objects": {"status": "Enabled"}}
        # Both buckets must be versioned before S3 accepts a replication configuration.
        aws.s3.BucketReplicationConfig(f"{name}-replication-config", bucket=primary.bucket.id, role=role.arn,
                                       rules=[rule], opts=pulumi.ResourceOptions(
                                           parent=self, depends_on=[primary.versioning, replica.versioning]))
        return replica.bucket.arn
