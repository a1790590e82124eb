"""s3-versioning-with-noncurrent-expiry through the real gRPC path."""
from tests.conftest import DEFAULT_COST_TAGS

POLICY = "s3-versioning-with-noncurrent-expiry"
REGION = {"aws:region": "us-east-1"}

PROGRAM = f"""
import pulumi_aws as aws
from aifinops.components.tiered_bucket import TieredBucket, TieredBucketArgs
TAGS = {DEFAULT_COST_TAGS!r}

def bucket(name, status=None, rules=None, **extra):
    b = aws.s3.Bucket(name, tags={{**TAGS, **extra.pop("tags", {{}})}}, **extra)
    if status:
        aws.s3.BucketVersioning(f"{{name}}-versioning", bucket=b.id, versioning_configuration={{"status": status}})
    if rules:
        aws.s3.BucketLifecycleConfiguration(f"{{name}}-lifecycle", bucket=b.id, rules=rules)
    return b

NONCURRENT = lambda days, **filter: {{"id": "nc", "status": "Enabled", "filter": filter,
                                      "noncurrent_version_expiration": {{"noncurrent_days": days}}}}
TieredBucket("tiered")
TieredBucket("tiered-unversioned", TieredBucketArgs(versioning=False))
bucket("unversioned")
bucket("suspended", "Suspended")
bucket("versioned-no-lifecycle", "Enabled")
bucket("versioned-tiers-only", "Enabled", [{{"id": "t", "status": "Enabled", "filter": {{}},
                                            "transitions": [{{"days": 30, "storage_class": "STANDARD_IA"}}]}}])
bucket("prefix-only", "Enabled", [NONCURRENT(7, prefix="checkpoints/")])
bucket("kept-too-long", "Enabled", [NONCURRENT(3650)])
bucket("disabled-rule", "Enabled", [{{**NONCURRENT(7), "status": "Disabled"}}])
bucket("whole-bucket", "Enabled", [NONCURRENT(90)])
bucket("inline", versioning={{"enabled": True}},
       lifecycle_rules=[{{"enabled": True, "noncurrent_version_expiration": {{"days": 30}}}}])
bucket("inline-missing", versioning={{"enabled": True}})
bucket("object-lock", "Enabled", tags={{"LifecycleExempt": "true"}})
"""
FAILING = {"versioned-no-lifecycle", "versioned-tiers-only", "prefix-only", "kept-too-long", "disabled-rule",
           "inline-missing"}


def test_versioned_buckets_must_expire_noncurrent_versions_bucket_wide(check_policies):
    result = check_policies(PROGRAM, REGION)
    assert result.names(POLICY) == FAILING
    by_name = {result.graph.resources[v.urn].name: v.detail for v in result.of(POLICY)}
    assert by_name["versioned-no-lifecycle"].startswith(
        "The bucket is versioned but no enabled lifecycle rule expires non-current versions")
    assert by_name["prefix-only"].startswith("Non-current versions expire only under prefix checkpoints/; "
                                             "the rest of the bucket keeps them for good")
    assert by_name["kept-too-long"].startswith("Non-current versions are kept 3650 days, more than the 365 allowed")
    assert all(detail.endswith("Expire them bucket-wide within 365 days.") for detail in by_name.values())
    assert all(v.is_mandatory for v in result.of(POLICY))


def test_the_longest_noncurrent_retention_is_configurable(check_policies):
    result = check_policies(PROGRAM, REGION, policy_config={POLICY: {"maxNoncurrentDays": 60}})
    # TieredBucket keeps non-current versions 30 days: still fine; 90 days is now too long.
    assert result.names(POLICY) == FAILING | {"whole-bucket"}
    assert "kept 90 days, more than the 60 allowed" in " ".join(result.messages(POLICY))


def test_values_unknown_during_preview_do_not_fail(check_policies):
    program = f"""
import pulumi_aws as aws
b = aws.s3.Bucket("later", tags={DEFAULT_COST_TAGS!r})
aws.s3.BucketVersioning("later-versioning", bucket=b.id,
                        versioning_configuration={{"status": b.hosted_zone_id.apply(lambda _: "Enabled")}})
c = aws.s3.Bucket("later-days", tags={DEFAULT_COST_TAGS!r})
aws.s3.BucketVersioning("later-days-versioning", bucket=c.id, versioning_configuration={{"status": "Enabled"}})
aws.s3.BucketLifecycleConfiguration("later-days-lifecycle", bucket=c.id, rules=[{{
    "id": "nc", "status": "Enabled", "filter": {{}},
    "noncurrent_version_expiration": {{"noncurrent_days": c.hosted_zone_id.apply(lambda _: 5000)}}}}])
"""
    result = check_policies(program, REGION)
    assert result.of(POLICY) == [] and [v for v in result.advisory if v.policy == POLICY] == []
