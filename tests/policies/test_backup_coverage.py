"""backup-coverage through the real gRPC path."""
import pytest

from aifinops.core.values import UNKNOWN_STRING_VALUE
from tests.conftest import DEFAULT_COST_TAGS, tagged_config

POLICY = "backup-coverage"
REGION = {"aws:region": "us-east-1"}
DATA = {"DataClass": "training-data"}

COMPONENTS = """
import pulumi
from aifinops.components.backup_plan import BackupPlan, BackupPlanArgs
from aifinops.components.tiered_bucket import TieredBucket, TieredBucketArgs
from aifinops.components.tagging import register_cost_tags
register_cost_tags(pulumi.Config().require_object("costTags"))
datasets = TieredBucket("datasets", TieredBucketArgs(tags={"DataClass": "training-data", "Backup": "true"}))
checkpoints = TieredBucket("checkpoints", TieredBucketArgs(tags={"DataClass": "checkpoints"}))
scratch = TieredBucket("scratch")  # holds no data worth keeping: not tagged
BackupPlan("backup", BackupPlanArgs(%s))
"""


def test_data_resources_must_be_selected_by_a_plan(check_policies):
    result = check_policies(COMPONENTS % "", tagged_config())
    assert result.names(POLICY) == {"checkpoints"}
    detail, = result.messages(POLICY)
    assert detail.startswith("It is tagged DataClass=checkpoints (holds data) but no backup selection of a plan "
                             "in the stack picks it; tag it Backup=true, or add its ARN to a selection's resources")
    assert result.of(POLICY)[0].is_mandatory


def test_selection_by_resource_reference_covers(check_policies):
    result = check_policies(COMPONENTS % "resources=[checkpoints.arn]", tagged_config())
    assert result.of(POLICY) == []


def test_no_plan_at_all(check_policies):
    program = f"""
import pulumi_aws as aws
aws.s3.Bucket("data", tags={{**{DEFAULT_COST_TAGS!r}, "DataClass": "raw"}})
aws.s3.Bucket("logs", tags={DEFAULT_COST_TAGS!r})
"""
    result = check_policies(program, REGION)
    assert result.names(POLICY) == {"data"}
    assert "add a backup plan (aifinops.components.backup_plan.BackupPlan)" in result.messages(POLICY)[0]


SELECTIONS = f"""
import pulumi_aws as aws
TAGS = {{**{DEFAULT_COST_TAGS!r}, **{DATA!r}}}
plan = aws.backup.Plan("plan", rules=[{{"rule_name": "daily", "target_vault_name": "vault",
                                        "schedule": "cron(0 5 ? * * *)"}}])
role = "arn:aws:iam::123456789012:role/backup"
vol = aws.ebs.Volume("by-arn-volume", availability_zone="us-east-1a", size=100, tags=TAGS)
aws.ebs.Volume("by-wildcard-volume", availability_zone="us-east-1a", size=100, tags=TAGS)
fs = aws.efs.FileSystem("by-condition-fs", tags={{**TAGS, "Team": "vision"}})
aws.efs.FileSystem("excluded-fs", tags={{**TAGS, "Team": "vision"}})
aws.efs.FileSystem("condition-fails-fs", tags={{**TAGS, "Team": "nlp"}})
aws.ebs.Volume("second-volume", availability_zone="us-east-1b", size=10, tags=TAGS)
orphan = aws.ebs.Volume("orphan-selection-volume", availability_zone="us-east-1b", size=10,
                        tags={{**TAGS, "Orphan": "true"}})

aws.backup.Selection("explicit", plan_id=plan.id, iam_role_arn=role, resources=[vol.arn])
aws.backup.Selection("wildcard", plan_id=plan.id, iam_role_arn=role,
                     resources=["arn:aws:ec2:us-east-1:123456789012:volume/*"],
                     not_resources=[vol.arn, orphan.arn],
                     conditions=[{{"string_likes": [{{"key": "aws:ResourceTag/DataClass", "value": "training-*"}}]}}])
aws.backup.Selection("by-team", plan_id=plan.id, iam_role_arn=role,
                     resources=["arn:aws:elasticfilesystem:*"], not_resources=["arn:aws:elasticfilesystem:*:fs-never"],
                     conditions=[{{"string_equals": [{{"key": "aws:ResourceTag/Team", "value": "vision"}}],
                                  "string_not_equals": [{{"key": "aws:ResourceTag/Retired", "value": "true"}}]}}])
# A selection whose plan is not in this stack covers nothing here.
aws.backup.Selection("other-stack", plan_id="0000-external-plan", iam_role_arn=role,
                     selection_tags=[{{"type": "STRINGEQUALS", "key": "Orphan", "value": "true"}}])
"""


@pytest.mark.parametrize("mock_outputs", [False, True], ids=["preview-unknown-arns", "mock-arns"])
def test_selection_by_arn_wildcard_conditions_and_exclusions(check_policies, mock_outputs):
    program = SELECTIONS.replace('aws.efs.FileSystem("excluded-fs", tags={**TAGS, "Team": "vision"})',
                                 'aws.efs.FileSystem("excluded-fs", tags={**TAGS, "Team": "vision", "Retired": "true"})')
    # In a preview of creates the ARNs are unknown: a wildcard over the resource's service may match, an
    # ARN from another resource is that resource's (property dependencies); the verdicts do not change.
    result = check_policies(program, REGION, mock_outputs=mock_outputs)
    # wildcard: EBS volumes except those excluded; by-team: vision file systems not retired
    assert result.names(POLICY) == {"excluded-fs", "condition-fails-fs", "orphan-selection-volume"}
    # The explicit volume is excluded by the wildcard selection but picked by `explicit`.
    assert "by-arn-volume" not in result.names(POLICY) and "second-volume" not in result.names(POLICY)


def test_tag_and_types_are_configurable(check_policies):
    config = {POLICY: {"tagKey": "Team", "tagValue": "nlp", "resourceTypes": ["aws:efs/fileSystem:FileSystem"]}}
    result = check_policies(SELECTIONS, REGION, policy_config=config)
    assert result.names(POLICY) == {"condition-fails-fs"}
    assert result.messages(POLICY)[0].startswith("It is tagged Team=nlp (holds data)")


def test_provider_default_tags_mark_data_too(check_policies):
    program = """
import pulumi_aws as aws
aws.s3.Bucket("everything-is-data")
"""
    config = {**REGION, "aws:defaultTags": {"tags": {"DataClass": "lake"}}}
    assert check_policies(program, config).names(POLICY) == {"everything-is-data"}
    assert check_policies(program, REGION).of(POLICY) == []


def test_values_unknown_during_preview_do_not_fail(check_policies):
    program = f"""
import pulumi
import pulumi_aws as aws
TAGS = {{**{DEFAULT_COST_TAGS!r}, **{DATA!r}}}
plan = aws.backup.Plan("plan", rules=[{{"rule_name": "daily", "target_vault_name": "vault",
                                        "schedule": "cron(0 5 ? * * *)"}}])
role = "arn:aws:iam::123456789012:role/backup"
b = aws.s3.Bucket("referenced", tags=TAGS)
# The ARN as the selection sees it is unknown during preview; the dependency still ties it to the bucket.
arn = pulumi.Output.all(b.arn, b.hosted_zone_id).apply(lambda v: v[0])
aws.s3.Bucket("class-unknown", tags={{**TAGS, "DataClass": b.hosted_zone_id.apply(lambda _: "x")}})
aws.backup.Selection("sel", plan_id=plan.id, iam_role_arn=role, resources=[arn])
"""
    result = check_policies(program, REGION)
    assert result.of(POLICY) == [] and [v for v in result.advisory if v.policy == POLICY] == []
    selection = result.graph.of_type("aws:backup/selection:Selection")[0]
    assert selection.inputs["resources"] == [UNKNOWN_STRING_VALUE]  # truly unknown, as in a real preview
