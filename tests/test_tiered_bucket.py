"""TieredBucket: secure defaults, lifecycle tiers and presets, logging, replication, warnings, bad arguments."""
from __future__ import annotations

import json

import pytest

from aifinops.components.tiered_bucket import AccessLogs, Replication, TieredBucket, TieredBucketArgs
from aifinops.core import lifecycle
from aifinops.core.errors import ProgramError
from aifinops.core.lifecycle import LifecycleRule, Transition
from tests.conftest import only, tagged_config


# This module reads what components render from ids and ARNs (IAM and resource policies, references),
# so the `preview` fixture gives AWS-shaped values here, as `aifinops preview --mock-outputs` does.
PREVIEW_MOCK_OUTPUTS = True


PROGRAM = """
import pulumi
from aifinops.core.lifecycle import LifecycleRule, Transition
from aifinops.components.tiered_bucket import AccessLogs, Replication, TieredBucket, TieredBucketArgs
from aifinops.components.tagging import register_cost_tags
register_cost_tags(pulumi.Config().require_object("costTags"))
data = TieredBucket("data", TieredBucketArgs({args}))
pulumi.export("arn", data.arn)
pulumi.export("name", data.bucket_name)
"""
KEY = "arn:aws:kms:us-east-1:123456789012:key/1111"
REPLICA_KEY = "arn:aws:kms:us-west-2:123456789012:key/2222"


def build(preview, args: str = ""):
    return preview(PROGRAM.format(args=args), tagged_config())


def lifecycle_rules(graph, name: str = "data-lifecycle") -> dict[str, dict]:
    config = next(r for r in graph.of_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
                  if r.name == name)
    return {rule["id"]: rule for rule in config.inputs["rules"]}


def test_defaults_are_private_encrypted_versioned_and_tiered(preview):
    graph = build(preview)
    component = only(graph, "aifinops:storage:TieredBucket")
    bucket = only(graph, "aws:s3/bucket:Bucket")
    assert {r.parent for r in graph.custom_resources()} == {component.urn}
    assert bucket.inputs["tags"]["CostCenter"] == "ml" and bucket.inputs["forceDestroy"] is False
    bucket_id = bucket.outputs["id"]
    for type_token in ("aws:s3/bucketVersioning:BucketVersioning",
                       "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                       "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
                       "aws:s3/bucketOwnershipControls:BucketOwnershipControls", "aws:s3/bucketPolicy:BucketPolicy",
                       "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"):
        assert only(graph, type_token).inputs["bucket"] == bucket_id, type_token
    assert only(graph, "aws:s3/bucketVersioning:BucketVersioning").inputs["versioningConfiguration"] == {"status": "Enabled"}
    encryption = only(graph, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert encryption.inputs["rules"] == [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]
    block = only(graph, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                          "restrictPublicBuckets"))
    ownership = only(graph, "aws:s3/bucketOwnershipControls:BucketOwnershipControls").inputs
    assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    assert not graph.of_type("aws:s3/bucketLogging:BucketLogging")
    assert not graph.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig")
    assert graph.stack_outputs["arn"] == bucket.outputs["arn"] and graph.stack_outputs["name"] == bucket_id
    assert component.outputs["monthlyIngestGb"] == 1000 and component.outputs["averageObjectMb"] == 64


def test_bucket_policy_denies_requests_without_tls_after_the_public_access_block(preview):
    graph = build(preview)
    arn = only(graph, "aws:s3/bucket:Bucket").outputs["arn"]
    policy = only(graph, "aws:s3/bucketPolicy:BucketPolicy")
    statement, = json.loads(policy.inputs["policy"])["Statement"]
    assert statement["Effect"] == "Deny" and statement["Principal"] == "*" and statement["Action"] == "s3:*"
    assert statement["Resource"] == [arn, f"{arn}/*"]
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert only(graph, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").urn in policy.dependencies


def test_default_lifecycle_tiers_whole_bucket_and_cleans_up(preview):
    graph = build(preview)
    rules = lifecycle_rules(graph)
    assert set(rules) == {"training-data", "housekeeping"}
    tiers = rules["training-data"]
    assert tiers["status"] == "Enabled" and tiers["filter"] == {} and "expiration" not in tiers
    assert tiers["transitions"] == [{"days": 30, "storageClass": "STANDARD_IA"}, {"days": 90, "storageClass": "GLACIER_IR"},
                                    {"days": 365, "storageClass": "DEEP_ARCHIVE"}]
    housekeeping = rules["housekeeping"]
    assert housekeeping["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7}
    assert housekeeping["noncurrentVersionExpiration"] == {"noncurrentDays": 30}
    assert housekeeping["expiration"] == {"expiredObjectDeleteMarker": True}
    config = only(graph, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    assert only(graph, "aws:s3/bucketVersioning:BucketVersioning").urn in config.dependencies
    # What the cost estimator reads back is what the component meant.
    assert lifecycle.rules_from_inputs(config.inputs["rules"]) == [LifecycleRule("training-data")]


def test_kms_key_gives_sse_kms_with_a_bucket_key(preview):
    graph = build(preview, f"kms_key_arn='{KEY}'")
    encryption = only(graph, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert encryption.inputs["rules"] == [{"applyServerSideEncryptionByDefault": {
        "sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY}, "bucketKeyEnabled": True}]


def test_checkpoint_preset_and_prefix_rules(preview):
    graph = build(preview, "presets=['checkpoints'], checkpoint_retention_days=14, noncurrent_version_expiration_days=3, "
                           "noncurrent_versions_to_keep=2, abort_incomplete_multipart_days=2, "
                           "rules=[LifecycleRule('final', prefix='final/', transitions=[Transition(0, 'GLACIER_IR')])]")
    rules = lifecycle_rules(graph)
    assert list(rules) == ["checkpoints", "final", "housekeeping"]
    assert rules["checkpoints"] == {"id": "checkpoints", "status": "Enabled", "filter": {"prefix": "checkpoints/"},
                                    "expiration": {"days": 14}}
    assert rules["final"]["filter"] == {"prefix": "final/"}
    assert rules["final"]["transitions"] == [{"days": 0, "storageClass": "GLACIER_IR"}]
    assert rules["housekeeping"]["noncurrentVersionExpiration"] == {"noncurrentDays": 3, "newerNoncurrentVersions": 2}
    assert rules["housekeeping"]["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 2}


def test_intelligent_tiering_preset_and_opting_out_of_tiers(preview):
    rules = lifecycle_rules(build(preview, "presets=['intelligent-tiering']"))
    assert rules["intelligent-tiering"]["transitions"] == [{"days": 0, "storageClass": "INTELLIGENT_TIERING"}]
    assert "training-data" not in rules
    assert set(lifecycle_rules(build(preview, "rules=[]"))) == {"housekeeping"}


def test_unversioned_bucket_keeps_multipart_cleanup_only(preview):
    graph = build(preview, "versioning=False")
    assert not graph.of_type("aws:s3/bucketVersioning:BucketVersioning")
    assert lifecycle_rules(graph)["housekeeping"] == {
        "id": "housekeeping", "status": "Enabled", "filter": {},
        "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7}}


def test_access_logs_go_to_the_target_partitioned_by_event_time(preview):
    graph = build(preview, "access_logs=AccessLogs('central-logs')")
    logging_config = only(graph, "aws:s3/bucketLogging:BucketLogging").inputs
    assert logging_config["targetBucket"] == "central-logs" and logging_config["targetPrefix"] == "data/"
    assert logging_config["targetObjectKeyFormat"] == {"partitionedPrefix": {"partitionDateSource": "EventTime"}}
    custom = build(preview, "access_logs=AccessLogs('central-logs', target_prefix='s3/data/')")
    assert only(custom, "aws:s3/bucketLogging:BucketLogging").inputs["targetPrefix"] == "s3/data/"


def test_replication_to_another_region_with_least_privilege(preview):
    graph = build(preview, f"kms_key_arn='{KEY}', bucket_name='team-data', "
                           f"replication=Replication(region='us-west-2', kms_key_arn='{REPLICA_KEY}')")
    source = next(r for r in graph.of_type("aws:s3/bucket:Bucket") if r.name == "data")
    replica = next(r for r in graph.of_type("aws:s3/bucket:Bucket") if r.name == "data-replica")
    assert replica.inputs["region"] == "us-west-2" and replica.inputs["bucket"] == "team-data-replica"
    assert replica.inputs["tags"] == source.inputs["tags"]
    replica_versioning = next(r for r in graph.of_type("aws:s3/bucketVersioning:BucketVersioning")
                              if r.name == "data-replica-versioning")
    assert replica_versioning.inputs["region"] == "us-west-2"
    replica_encryption = next(r for r in graph.of_type(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
        if r.name == "data-replica-encryption")
    assert replica_encryption.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"] == REPLICA_KEY
    config = only(graph, "aws:s3/bucketReplicationConfig:BucketReplicationConfig")
    rule, = config.inputs["rules"]
    assert rule["destination"] == {"bucket": replica.outputs["arn"], "storageClass": "STANDARD",
                                   "encryptionConfiguration": {"replicaKmsKeyId": REPLICA_KEY}}
    assert rule["sourceSelectionCriteria"] == {"sseKmsEncryptedObjects": {"status": "Enabled"}}
    assert rule["deleteMarkerReplication"] == {"status": "Disabled"} and rule["filter"] == {}
    versionings = {r.urn for r in graph.of_type("aws:s3/bucketVersioning:BucketVersioning")}
    assert versionings <= set(config.dependencies)
    role = only(graph, "aws:iam/role:Role")
    assert config.inputs["role"] == role.outputs["arn"]
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {"Service": "s3.amazonaws.com"}
    statements = json.loads(only(graph, "aws:iam/rolePolicy:RolePolicy").inputs["policy"])["Statement"]
    granted = {(a, s["Resource"]) for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert ("s3:ReplicateObject", f"{replica.outputs['arn']}/*") in granted
    assert ("kms:Decrypt", KEY) in granted and ("kms:Encrypt", REPLICA_KEY) in granted
    assert not any(action in ("s3:*", "*") or resource == "*" for action, resource in granted)
    # The replica follows the same lifecycle.
    assert lifecycle_rules(graph, "data-replica-lifecycle") == lifecycle_rules(graph)


def warning_messages(graph) -> list[str]:
    """What the program warned about: preview diagnostics, as `aifinops preview` shows them."""
    return [d["message"].rstrip("\n") for d in graph.diagnostics if d["severity"] == "warning"]


def test_replica_arriving_colder_gets_the_transitions_s3_can_still_make(preview):
    graph = build(preview, "presets=['checkpoints'], replication=Replication(region='eu-west-1', "
                           "storage_class='GLACIER_IR', tags={'Replica': 'true'})")
    replica = next(r for r in graph.of_type("aws:s3/bucket:Bucket") if r.name == "data-replica")
    assert replica.inputs["tags"]["Replica"] == "true" and "Backup" not in replica.inputs["tags"]
    assert only(graph, "aws:s3/bucketReplicationConfig:BucketReplicationConfig").inputs["rules"][0]["destination"][
        "storageClass"] == "GLACIER_IR"
    # Checkpoints expire at day 30: in GLACIER_IR that is 60 days short of its minimum.
    warnings = [m for m in warning_messages(graph) if "replica lifecycle rule 'checkpoints'" in m]
    assert len(warnings) == 1 and "early-deletion fee of $" in warnings[0]


def test_cost_warnings_are_logged_naming_the_rule_and_dollars(preview):
    graph = build(preview, "rules=[LifecycleRule('scratch', transitions=[Transition(30, 'STANDARD_IA')], "
                           "expiration_days=45)]")
    messages = warning_messages(graph)
    expected = lifecycle.cost_warnings(
        [LifecycleRule("scratch", transitions=[Transition(30, "STANDARD_IA")], expiration_days=45)], 1000, 64)
    assert [w.message for w in expected] == [m for m in messages if "lifecycle rule" in m]
    assert "lifecycle rule 'scratch'" in expected[0].message and "$" in expected[0].message


def test_no_warning_for_the_defaults(preview):
    graph = build(preview)
    assert not [m for m in warning_messages(graph) if "lifecycle rule" in m]


@pytest.mark.parametrize("kwargs, message", [
    (dict(bucket_name="Data_Bucket"), "bucket_name: expected a bucket name of 3-63 lowercase letters"),
    (dict(bucket_name="ab"), "bucket_name: expected a bucket name"),
    (dict(bucket_name="a..b"), "bucket_name: expected a bucket name"),
    (dict(bucket_name="192.168.1.1"), "bucket_name: expected a bucket name"),
    (dict(bucket_name="xn--data"), "bucket_name: S3 reserves names starting with xn--"),
    (dict(bucket_name="data-s3alias"), "S3 reserves names"),
    (dict(kms_key_arn="alias/data"), r"kms_key_arn: expected an ARN of the kms service \(arn:aws:kms:...\), got 'alias/data'"),
    (dict(kms_key_arn="arn:aws:s3:::bucket"), "kms_key_arn: expected an ARN of the kms service"),
    (dict(versioning="yes"), "versioning: expected true or false, got 'yes'"),
    (dict(presets=["hot"]), r"presets\[0\]: expected one of"),
    (dict(checkpoint_retention_days=0), "checkpoint_retention_days: expected a whole number of at least 1 days, got 0"),
    (dict(rules=[LifecycleRule("r", transitions=[Transition(7, "STANDARD_IA")])]),
     r"rules\[0\].transitions\[0\].days: S3 moves objects to STANDARD_IA only after 30 days, got 7"),
    (dict(rules=[LifecycleRule("housekeeping", transitions=[], expiration_days=3)]),
     "'housekeeping' is already used by the component"),
    (dict(presets=["checkpoints"], rules=[LifecycleRule("checkpoints", transitions=[], expiration_days=3)]),
     "'checkpoints' is already used by the component"),
    (dict(rules=LifecycleRule("r")), "rules: expected a list of LifecycleRule"),
    (dict(noncurrent_version_expiration_days=0), "noncurrent_version_expiration_days: expected a whole number of at least 1"),
    (dict(noncurrent_versions_to_keep=101), "noncurrent_versions_to_keep: expected a whole number from 1 to 100"),
    (dict(abort_incomplete_multipart_days=0.5), "abort_incomplete_multipart_days: expected a whole number"),
    (dict(access_logs="logs"), "access_logs: expected AccessLogs or None, got 'logs'"),
    (dict(access_logs=AccessLogs("Logs!")), "access_logs.target_bucket: expected a bucket name"),
    (dict(access_logs=AccessLogs(3)), "access_logs.target_bucket: expected a bucket name, got 3"),
    (dict(access_logs=AccessLogs("logs", target_prefix="data")),
     "access_logs.target_prefix: expected a key prefix ending in '/', got 'data'"),
    (dict(replication={"region": "us-west-2"}), "replication: expected Replication or None"),
    (dict(replication=Replication(region="west")), "replication.region: expected an AWS region name such as 'us-west-2', got 'west'"),
    (dict(replication=Replication(region="us-west-2", storage_class="GLACIER_DEEP")),
     "replication.storage_class: expected one of 'STANDARD'"),
    (dict(versioning=False, replication=Replication(region="us-west-2")),
     "replication: S3 replication needs versioning; got versioning=False"),
    (dict(kms_key_arn=KEY, replication=Replication(region="us-west-2")),
     "replication.kms_key_arn: the source bucket uses SSE-KMS, so replicas need a KMS key in us-west-2; got None"),
    (dict(replication=Replication(region="us-west-2", kms_key_arn=KEY)),
     "replication.kms_key_arn: expected an ARN in region us-west-2"),
    (dict(replication=Replication(region="us-west-2", tags={"A": 1})), "replication.tags: expected a mapping"),
    (dict(bucket_name="d" * 60, replication=Replication(region="us-west-2")),
     r"bucket_name \(its replica is named '<bucket_name>-replica'\): expected a bucket name"),
    (dict(monthly_ingest_gb=0), "monthly_ingest_gb: expected a number above 0 GB, got 0"),
    (dict(average_object_mb="big"), "average_object_mb: expected a number above 0 MB, got 'big'"),
    (dict(force_destroy=1), "force_destroy: expected true or false, got 1"),
    (dict(tags={"Team": None}), "tags: expected a mapping of string tag keys"),
])
def test_bad_arguments_fail_before_anything_is_registered(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TieredBucket("bad", TieredBucketArgs(**kwargs))


def test_args_must_be_tiered_bucket_args():
    with pytest.raises(ValueError, match="args: expected TieredBucketArgs, got dict"):
        TieredBucket("bad", {"versioning": True})


def test_a_bad_rule_in_a_program_names_the_line(preview):
    with pytest.raises(ProgramError, match=r"stacks/__main__.py:7: ValueError: rules\[0\].transitions\[0\]"):
        build(preview, "rules=[LifecycleRule('r', transitions=[Transition(1, 'ONEZONE_IA')])]")
