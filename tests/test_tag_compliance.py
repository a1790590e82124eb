"""TagCompliance: Config rules from the one required-tags definition, the conformance-pack option, the
recorder, the auto-tagging Lambda (event pattern, settings, least privilege, mapping table), the
Organizations tag policy, and every validation error."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from aifinops.components.automation_lambda import FunctionSettings, archive_files
from aifinops.components.tag_compliance import (
    AutoTaggingArgs,
    RecorderArgs,
    TagCompliance,
    TagComplianceArgs,
    TagPolicyArgs,
)
from aifinops.core.automation_settings import AUTO_TAGGED_EVENTS, AutoTaggingSettings, from_env
from aifinops.core.required_tags import REQUIRED_COST_TAGS_PROPERTIES, REQUIRED_TAGS_RESOURCE_TYPES, RequiredTags
from aifinops.policies.cost import required_cost_tags
from tests.conftest import only, tagged_config


# This module reads what components render from ids and ARNs (IAM and resource policies, references),
# so the `preview` fixture gives AWS-shaped values here, as `aifinops preview --mock-outputs` does.
PREVIEW_MOCK_OUTPUTS = True


SEVEN = ("CostCenter", "Project", "Environment", "Team", "Owner", "Application", "DataClass")
IMPORTS = """
from aifinops.components.tag_compliance import *
from aifinops.core.automation_settings import AutoTaggingSettings
from aifinops.core.required_tags import RequiredTags
"""


def statements_by_sid(graph, name: str) -> dict:
    policy = next(r for r in graph.of_type("aws:iam/rolePolicy:RolePolicy") if r.name == name)
    return {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}


def actions(statement: dict) -> list[str]:
    return [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]


def test_defaults_one_required_tags_rule_over_every_supported_type_and_a_dry_run_auto_tagger(preview):
    graph = preview(IMPORTS + "TagCompliance('tags')", tagged_config())
    rule = only(graph, "aws:cfg/rule:Rule").inputs
    assert rule["source"] == {"owner": "AWS", "sourceIdentifier": "REQUIRED_TAGS"}
    assert json.loads(rule["inputParameters"]) == {"tag1Key": "CostCenter", "tag2Key": "Project", "tag3Key": "Environment"}
    assert rule["scope"]["complianceResourceTypes"] == list(REQUIRED_TAGS_RESOURCE_TYPES)
    assert rule["name"] == "aifinops-testproj-dev-tags-required-tags-1"
    assert not graph.of_type("aws:cfg/recorder:Recorder") and not graph.of_type("aws:dynamodb/table:Table")
    assert not graph.of_type("aws:organizations/policy:Policy")
    function = only(graph, "aws:lambda/function:Function")
    assert function.inputs["handler"] == "aifinops.automation.auto_tagging_handler.handler"
    assert function.inputs["timeout"] == 60
    assert from_env(AutoTaggingSettings, function.inputs["environment"]["variables"]) == AutoTaggingSettings()


def test_the_event_rule_matches_the_creations_the_handler_tags_and_invokes_it(preview):
    graph = preview(IMPORTS + "TagCompliance('tags')", tagged_config())
    rule, function = only(graph, "aws:cloudwatch/eventRule:EventRule"), only(graph, "aws:lambda/function:Function")
    pattern = json.loads(rule.inputs["eventPattern"])
    assert pattern["detail-type"] == ["AWS API Call via CloudTrail"]
    assert set(pattern["source"]) == {"aws.ec2", "aws.s3", "aws.sagemaker", "aws.elasticfilesystem"}
    assert {"RunInstances", "CreateBucket", "CreateTrainingJob", "CreateEndpoint", "CreateNotebookInstance",
            "CreateFileSystem"} <= set(pattern["detail"]["eventName"])
    assert set(pattern["detail"]["eventSource"]) == {source for source, _ in AUTO_TAGGED_EVENTS}
    assert only(graph, "aws:cloudwatch/eventTarget:EventTarget").inputs["arn"] == function.outputs["arn"]
    permission = only(graph, "aws:lambda/permission:Permission").inputs
    assert (permission["principal"], permission["sourceArn"]) == ("events.amazonaws.com", rule.outputs["arn"])


def test_more_than_six_keys_make_two_rules_and_allowed_values_become_tag_values(preview):
    program = IMPORTS + f"TagCompliance('tags', TagComplianceArgs(required_tags=RequiredTags({SEVEN!r}, " \
                        "{'Environment': ['dev', 'prod'], 'DataClass': ['public', 'internal']})))"
    rules = sorted(preview(program, tagged_config()).of_type("aws:cfg/rule:Rule"), key=lambda r: r.name)
    assert [json.loads(r.inputs["inputParameters"]) for r in rules] == [
        {"tag1Key": "CostCenter", "tag2Key": "Project", "tag3Key": "Environment", "tag3Value": "dev,prod",
         "tag4Key": "Team", "tag5Key": "Owner", "tag6Key": "Application"},
        {"tag1Key": "DataClass", "tag1Value": "public,internal"}]


def test_the_policy_config_file_of_the_pr_check_feeds_the_rules(preview, tmp_path: Path):
    """One definition: the `--policy-pack-config` file the packs run with, read for the rules; and the pack's
    schema is the core's."""
    config = tmp_path / "policy-config.json"
    config.write_text(json.dumps({"all": "mandatory", "required-cost-tags": {
        "requiredTags": ["CostCenter", "Team"], "allowedValues": {"Team": ["vision", "speech"]}}}))
    program = IMPORTS + f"TagCompliance('tags', TagComplianceArgs(policy_config_file={str(config)!r}, auto_tagging=None))"
    graph = preview(program, tagged_config())
    assert json.loads(only(graph, "aws:cfg/rule:Rule").inputs["inputParameters"]) == \
        {"tag1Key": "CostCenter", "tag2Key": "Team", "tag2Value": "vision,speech"}
    assert not graph.of_type("aws:lambda/function:Function")
    assert required_cost_tags.SCHEMA.properties == REQUIRED_COST_TAGS_PROPERTIES


def test_conformance_pack_holds_the_same_rules(preview):
    program = IMPORTS + f"TagCompliance('tags', TagComplianceArgs(required_tags=RequiredTags({SEVEN!r}), " \
                        "deployment='conformance-pack', resource_types=['AWS::EC2::Instance', 'AWS::S3::Bucket']))"
    graph = preview(program, tagged_config())
    assert not graph.of_type("aws:cfg/rule:Rule")
    pack = only(graph, "aws:cfg/conformancePack:ConformancePack").inputs
    assert pack["name"] == "aifinops-testproj-dev-tags-required-tags"
    template = yaml.safe_load(pack["templateBody"])
    rules = list(template["Resources"].values())
    assert [r["Type"] for r in rules] == ["AWS::Config::ConfigRule"] * 2
    assert [r["Properties"]["InputParameters"] for r in rules] == \
        RequiredTags(SEVEN).config_rule_parameters()
    assert all(r["Properties"]["Source"] == {"Owner": "AWS", "SourceIdentifier": "REQUIRED_TAGS"} and
               r["Properties"]["Scope"]["ComplianceResourceTypes"] == ["AWS::EC2::Instance", "AWS::S3::Bucket"]
               for r in rules)


def test_conformance_pack_names_keep_to_the_characters_aws_accepts(preview):
    program = IMPORTS + "TagCompliance('tags', TagComplianceArgs(deployment='conformance-pack', auto_tagging=None))"
    graph = preview(program, tagged_config(project="ml_platform"), project="ml_platform", stack="dev.eu")
    assert only(graph, "aws:cfg/conformancePack:ConformancePack").inputs["name"] == \
        "aifinops-ml-platform-dev-eu-tags-required-tags"


def test_recorder_records_the_rule_types_and_the_rules_wait_for_it(preview):
    program = IMPORTS + "TagCompliance('tags', TagComplianceArgs(resource_types=['AWS::EC2::Instance', " \
                        "'AWS::EC2::Volume'], recorder=RecorderArgs(delivery_bucket_name='config-history-123')))"
    graph = preview(program, tagged_config())
    recorder = only(graph, "aws:cfg/recorder:Recorder")
    assert recorder.inputs["recordingGroup"]["allSupported"] is False
    assert recorder.inputs["recordingGroup"]["resourceTypes"] == ["AWS::EC2::Instance", "AWS::EC2::Volume"]
    assert only(graph, "aws:cfg/deliveryChannel:DeliveryChannel").inputs["s3BucketName"] == "config-history-123"
    status = only(graph, "aws:cfg/recorderStatus:RecorderStatus")
    assert status.inputs["isEnabled"] is True
    assert status.urn in only(graph, "aws:cfg/rule:Rule").dependencies
    delivery = statements_by_sid(graph, "tags-recorder-delivery")
    assert delivery["DeliverSnapshots"]["Resource"] == "arn:aws:s3:::config-history-123/AWSLogs/123456789012/Config/*"
    attachment = only(graph, "aws:iam/rolePolicyAttachment:RolePolicyAttachment").inputs
    assert attachment["policyArn"] == "arn:aws:iam::aws:policy/service-role/AWS_ConfigRole"


def test_auto_tagger_may_add_only_the_tag_keys_and_delete_nothing(preview):
    program = IMPORTS + "TagCompliance('tags', TagComplianceArgs(auto_tagging=AutoTaggingArgs(" \
                        "settings=AutoTaggingSettings(default_tags={'Environment': 'dev'}, dry_run=False))))"
    graph = preview(program, tagged_config())
    statements = statements_by_sid(graph, "tags-auto-tagging-policy")
    allowed_keys = ["CostCenter", "Project", "Environment", "aifinops:tagged-by"]
    for sid in ("TagInstancesAndVolumes", "TagSageMaker", "TagFileSystems"):
        assert statements[sid]["Condition"] == {"ForAllValues:StringEquals": {"aws:TagKeys": allowed_keys}}, sid
    assert statements["TagInstancesAndVolumes"]["Resource"] == ["arn:aws:ec2:us-east-1:123456789012:instance/*",
                                                                "arn:aws:ec2:us-east-1:123456789012:volume/*"]
    every_action = {a for s in statements.values() for a in actions(s)}
    assert not {a for a in every_action if any(word in a for word in ("Delete", "Untag", "Terminate", "Stop", "*"))}
    wildcard = {a for s in statements.values() if s["Resource"] == "*" for a in actions(s)}
    assert wildcard == {"ec2:DescribeInstances", "ec2:DescribeVolumes"}  # neither can be scoped
    assert "ReadMapping" not in statements
    deployed = from_env(AutoTaggingSettings, only(graph, "aws:lambda/function:Function").inputs["environment"]["variables"])
    assert (deployed.default_tags, deployed.dry_run, deployed.mapping_table) == ({"Environment": "dev"}, False, None)


def test_the_mapping_table_is_encrypted_recoverable_and_readable_only_by_the_function(preview):
    program = IMPORTS + "TagCompliance('tags', TagComplianceArgs(auto_tagging=AutoTaggingArgs(mapping_table=True)))"
    graph = preview(program, tagged_config())
    table = only(graph, "aws:dynamodb/table:Table")
    key = only(graph, "aws:kms/key:Key")
    assert table.inputs["name"] == "aifinops-testproj-dev-tags-tag-mapping"
    assert (table.inputs["billingMode"], table.inputs["hashKey"]) == ("PAY_PER_REQUEST", "principal")
    assert table.inputs["serverSideEncryption"] == {"enabled": True, "kmsKeyArn": key.outputs["arn"]}
    assert table.inputs["pointInTimeRecovery"] == {"enabled": True}
    assert table.inputs["deletionProtectionEnabled"] is True
    statements = statements_by_sid(graph, "tags-auto-tagging-policy")
    assert statements["ReadMapping"] == {"Sid": "ReadMapping", "Effect": "Allow", "Action": "dynamodb:GetItem",
                                         "Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/"
                                                     "aifinops-testproj-dev-tags-tag-mapping"}
    variables = only(graph, "aws:lambda/function:Function").inputs["environment"]["variables"]
    assert from_env(AutoTaggingSettings, variables).mapping_table == table.inputs["name"]


def test_an_existing_mapping_table_is_used_by_name(preview):
    program = IMPORTS + "TagCompliance('tags', TagComplianceArgs(auto_tagging=AutoTaggingArgs(mapping_table='team-tags')))"
    graph = preview(program, tagged_config())
    assert not graph.of_type("aws:dynamodb/table:Table")
    assert statements_by_sid(graph, "tags-auto-tagging-policy")["ReadMapping"]["Resource"] == \
        "arn:aws:dynamodb:us-east-1:123456789012:table/team-tags"


def test_tag_policy_assigns_key_case_values_and_enforcement_and_is_attached(preview):
    program = IMPORTS + "TagCompliance('tags', TagComplianceArgs(required_tags=RequiredTags(('CostCenter', " \
                        "'Environment'), {'Environment': ['dev', 'prod']}), auto_tagging=None, tag_policy=" \
                        "TagPolicyArgs(target_ids=['ou-ab12-cdef5678', '210987654321'], enforced_for=['ec2:instance', " \
                        "'ec2:volume'])))"
    graph = preview(program, tagged_config())
    policy = only(graph, "aws:organizations/policy:Policy")
    assert policy.inputs["type"] == "TAG_POLICY"
    assert json.loads(policy.inputs["content"]) == {"tags": {
        "costcenter": {"tag_key": {"@@assign": "CostCenter"}, "enforced_for": {"@@assign": ["ec2:instance", "ec2:volume"]}},
        "environment": {"tag_key": {"@@assign": "Environment"}, "tag_value": {"@@assign": ["dev", "prod"]},
                        "enforced_for": {"@@assign": ["ec2:instance", "ec2:volume"]}}}}
    attachments = graph.of_type("aws:organizations/policyAttachment:PolicyAttachment")
    assert sorted(a.inputs["targetId"] for a in attachments) == ["210987654321", "ou-ab12-cdef5678"]
    assert all(a.inputs["policyId"] == policy.outputs["id"] for a in attachments)


def test_a_tag_policy_without_enforced_for_only_reports():
    document = json.loads(RequiredTags(("CostCenter",)).tag_policy())
    assert document == {"tags": {"costcenter": {"tag_key": {"@@assign": "CostCenter"}}}}


def test_lambda_archive_ships_the_auto_tagging_handler():
    assert "aifinops/automation/auto_tagging_handler.py" in archive_files()


@pytest.mark.parametrize("changes, message", [
    ({"required_tags": RequiredTags(("CostCenter",)), "policy_config_file": "x.json"},
     "policy_config_file: give required_tags or policy_config_file, not both"),
    ({"policy_config_file": "/nonexistent/policy.json"}, "--policy-pack-config /nonexistent/policy.json: cannot read"),
    ({"required_tags": ["CostCenter"]}, "required_tags: expected RequiredTags, got ['CostCenter']"),
    ({"resource_types": ["ec2:instance"]}, "resource_types: expected AWS Config resource types such as AWS::EC2::Instance"),
    ({"resource_types": [f"AWS::Service{n}::Thing" for n in range(101)]}, "at most 100 resource types, got 101"),
    ({"deployment": "stackset"}, "deployment: expected one of"),
    ({"recorder": RecorderArgs()}, "recorder.delivery_bucket_name: expected an S3 bucket name"),
    ({"recorder": {"delivery_bucket_name": "b"}}, "recorder: expected RecorderArgs or None"),
    ({"auto_tagging": AutoTaggingArgs(settings=AutoTaggingSettings(mapping_table="t-1"))},
     "auto_tagging.settings.mapping_table: set auto_tagging.mapping_table"),
    ({"auto_tagging": AutoTaggingArgs(mapping_table="no spaces allowed")},
     "auto_tagging.mapping_table: expected True, False or a DynamoDB table name"),
    ({"required_tags": RequiredTags(("Environment",), {"Environment": ["dev", "prod"]}),
      "auto_tagging": AutoTaggingArgs(settings=AutoTaggingSettings(tag_keys=("Environment",),
                                                                   default_tags={"Environment": "qa"}))},
     "auto_tagging.settings.default_tags: {'Environment': 'qa'} is not an allowed value"),
    ({"auto_tagging": AutoTaggingArgs(function=FunctionSettings(timeout_seconds=5))},
     "auto_tagging.function.timeout_seconds: expected a whole number from 10 to 900"),
    ({"tag_policy": TagPolicyArgs(target_ids=["o-exampleorg"])}, "tag_policy.target_ids: expected a root (r-...)"),
    ({"tag_policy": TagPolicyArgs(enforced_for=["EC2 instances"])}, "tag_policy.enforced_for: expected tag policy resource types"),
    ({"tags": {"Owner": 7}}, "tags: expected a mapping of string tag keys to string values"),
])
def test_validation(changes, message):
    with pytest.raises(ValueError) as error:
        TagCompliance("tags", TagComplianceArgs(**changes))
    assert message in str(error.value)


@pytest.mark.parametrize("keys, allowed, message", [
    ((), {}, "required_tags.keys: expected a non-empty list of tag keys"),
    (("aws:createdBy",), {}, "not starting with aws:"),
    (("CostCenter", "costcenter"), {}, "expected keys that differ in more than case"),
    (("CostCenter",), {"Team": ["a"]}, "'Team' is not a required key (CostCenter)"),
    (("Team",), {"Team": ["a,b"]}, "no commas"),
    (("Team",), {"Team": []}, "required_tags.allowed_values.Team: expected a non-empty list of values"),
])
def test_required_tags_validation(keys, allowed, message):
    with pytest.raises(ValueError) as error:
        RequiredTags(keys, allowed)
    assert message in str(error.value)


def test_too_many_allowed_values_for_one_rule_is_an_error_not_a_truncation():
    with pytest.raises(ValueError, match="1024"):
        RequiredTags(("Project",), {"Project": [f"project-number-{n}" for n in range(80)]}).config_rule_parameters()


def test_a_policy_config_that_fails_the_policy_schema_is_refused():
    with pytest.raises(ValueError, match=r"required-cost-tags: requiredTags: Invalid type\. Expected: array, given: string"):
        RequiredTags.from_policy_config({"required-cost-tags": {"requiredTags": "CostCenter"}})


def test_training_dev_stack_checks_the_stack_required_tags_and_maps_creators(preview_stack_program):
    config = tagged_config({"requiredTags": ["CostCenter", "Project", "Environment", "Team"],
                            "costTags": {"CostCenter": "ml", "Project": "test", "Environment": "dev", "Team": "infra"},
                            "tagCompliance": [{"name": "tag-compliance", "autoTagging": {
                                "mappingTable": True, "settings": {"defaultTags": {"Team": "unassigned"}}}}]},
                           project="aifinops")
    graph = preview_stack_program(config)
    assert json.loads(only(graph, "aws:cfg/rule:Rule").inputs["inputParameters"])["tag4Key"] == "Team"
    deployed = from_env(AutoTaggingSettings, only(graph, "aws:lambda/function:Function").inputs["environment"]["variables"])
    assert deployed.tag_keys == ("CostCenter", "Project", "Environment", "Team")
    assert deployed.default_tags == {"Team": "unassigned"} and deployed.dry_run is True
    assert only(graph, "aws:dynamodb/table:Table").inputs["tags"]["Team"] == "infra"  # the cost-tag transform
