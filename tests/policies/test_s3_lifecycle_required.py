"""s3-lifecycle-required through the real gRPC path."""
from aifinops.core.values import UNKNOWN_STRING_VALUE
from tests.conftest import DEFAULT_COST_TAGS, tagged_config

POLICY = "s3-lifecycle-required"
REGION = {"aws:region": "us-east-1"}

PROGRAM = f"""
import pulumi
import pulumi_aws as aws
from aifinops.components.tiered_bucket import TieredBucket, TieredBucketArgs
TAGS = {DEFAULT_COST_TAGS!r}

TieredBucket("tiered")
TieredBucket("tiered-opt-out", TieredBucketArgs(rules=[]))  # housekeeping only

bare = aws.s3.Bucket("bare", tags=TAGS)

cleanup = aws.s3.Bucket("cleanup-only", tags=TAGS)
aws.s3.BucketLifecycleConfiguration("cleanup-only-lifecycle", bucket=cleanup.id, rules=[{{
    "id": "mpu", "status": "Enabled", "filter": {{}},
    "abort_incomplete_multipart_upload": {{"days_after_initiation": 7}},
    "noncurrent_version_expiration": {{"noncurrent_days": 30}}}}])

disabled = aws.s3.Bucket("disabled", tags=TAGS)
aws.s3.BucketLifecycleConfiguration("disabled-lifecycle", bucket=disabled.id, rules=[{{
    "id": "off", "status": "Disabled", "filter": {{}}, "expiration": {{"days": 30}}}}])

expiring = aws.s3.Bucket("expiring", bucket="scratch-data", tags=TAGS)
# Refers to the bucket by its name, not by an output: matched by value.
aws.s3.BucketLifecycleConfiguration("expiring-lifecycle", bucket="scratch-data", rules=[{{
    "id": "tmp", "status": "Enabled", "filter": {{"prefix": "tmp/"}}, "expiration": {{"days": 7}}}}])

aws.s3.Bucket("inline", tags=TAGS, lifecycle_rules=[{{
    "enabled": True, "transitions": [{{"days": 0, "storage_class": "GLACIER_IR"}}]}}])
aws.s3.Bucket("exempt", tags={{**TAGS, "LifecycleExempt": "true"}})
aws.s3.Bucket("team-exempt", tags={{**TAGS, "Retention": "legal-hold"}})
"""


def test_buckets_without_a_rule_for_current_data_fail(check_policies):
    result = check_policies(PROGRAM, REGION)
    assert result.names(POLICY) == {"tiered-opt-out", "bare", "cleanup-only", "disabled", "team-exempt"}
    by_name = {result.graph.resources[v.urn].name: v.detail for v in result.of(POLICY)}
    assert by_name["bare"].startswith("No BucketLifecycleConfiguration refers to the bucket, so its data stays "
                                      "in S3 Standard for good")
    assert by_name["cleanup-only"].startswith("Its lifecycle rules only clean up")
    assert by_name["tiered-opt-out"].startswith("Its lifecycle rules only clean up")
    assert by_name["disabled"].startswith("Its lifecycle rules are all disabled")
    assert "Exempt it with a tag (LifecycleExempt=true)" in by_name["bare"]
    assert all(v.is_mandatory for v in result.of(POLICY))


def test_exempting_tags_are_configurable(check_policies):
    result = check_policies(PROGRAM, REGION, policy_config={POLICY: {"exemptTags": {"Retention": "*"}}})
    assert "team-exempt" not in result.names(POLICY)
    assert "exempt" in result.names(POLICY)  # the default exemption is replaced, not added to


def test_provider_default_tags_can_exempt(check_policies):
    program = """
import pulumi_aws as aws
aws.s3.Bucket("archive")
"""
    config = {**REGION, "aws:defaultTags": {"tags": {"LifecycleExempt": "true"}}}
    assert check_policies(program, config).of(POLICY) == []
    assert check_policies(program, REGION).names(POLICY) == {"archive"}


def test_the_example_components_pass(check_policies):
    program = """
import pulumi
from aifinops.components.tiered_bucket import TieredBucket, TieredBucketArgs, Replication
from aifinops.components.tagging import register_cost_tags
register_cost_tags(pulumi.Config().require_object("costTags"))
TieredBucket("datasets")
TieredBucket("checkpoints", TieredBucketArgs(presets=["checkpoints"], replication=Replication(region="us-west-2")))
TieredBucket("shared", TieredBucketArgs(presets=["intelligent-tiering"]))
"""
    result = check_policies(program, tagged_config())
    assert result.of(POLICY) == []


def test_values_unknown_during_preview_do_not_fail(check_policies):
    # hostedZoneId is computed by AWS: anything derived from it is unknown, as in a real preview.
    program = f"""
import pulumi
import pulumi_aws as aws
b = aws.s3.Bucket("later", tags={DEFAULT_COST_TAGS!r})
later = b.hosted_zone_id.apply(lambda _: 30)
aws.s3.BucketLifecycleConfiguration("later-lifecycle", bucket=pulumi.Output.all(b.id, later).apply(lambda v: v[0]),
    rules=[{{"id": "x", "status": "Enabled", "filter": {{}}, "expiration": {{"days": later}}}}])
"""
    result = check_policies(program, REGION)
    assert result.of(POLICY) == [] and [v for v in result.advisory if v.policy == POLICY] == []
    config = result.graph.of_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")[0]
    assert config.inputs["bucket"] == UNKNOWN_STRING_VALUE  # truly unknown, as in a real preview
