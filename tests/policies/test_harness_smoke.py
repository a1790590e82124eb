"""The harness runs the real packs over gRPC (the full policy suites live beside this file)."""

BUCKET = """
import pulumi_aws as aws
aws.s3.Bucket("data")
"""


def test_untagged_bucket_is_flagged_and_default_tags_fix_it(check_policies):
    result = check_policies(BUCKET, {"aws:region": "us-east-1"})
    assert result.names("required-cost-tags") == {"data"}
    tagged = {"aws:defaultTags": {"tags": {"CostCenter": "ml", "Project": "p", "Environment": "dev"}}}
    assert check_policies(BUCKET, tagged).names("required-cost-tags") == set()
