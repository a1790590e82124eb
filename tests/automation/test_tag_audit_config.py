"""`aifinops audit tags --source config`: the REQUIRED_TAGS rules' results instead of a scan. moto does
not implement get_compliance_details_by_config_rule or describe_config_rule_evaluation_status, so
botocore's Stubber plays AWS Config (with the service's real response shapes, validated by botocore)."""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from typing import Any, Iterator, Optional

import boto3
import pytest
from botocore.stub import Stubber

from aifinops import audit_command
from aifinops.automation.aws_clients import AwsClients
from aifinops.automation.tag_audit import ConfigSourceError, audit_from_config
from aifinops.cli import main
from tests.automation.moto_helpers import REGION

RULE_1, RULE_2 = "aifinops-ml-dev-tags-required-tags-1", "aifinops-ml-dev-tags-required-tags-2"
EVALUATED = datetime(2026, 11, 30, 6, 0, tzinfo=timezone.utc)


def required_tags_rule(name: str, parameters: dict[str, str]) -> dict[str, Any]:
    return {"ConfigRuleName": name, "ConfigRuleArn": f"arn:aws:config:{REGION}:123456789012:config-rule/config-rule-{name[-1]}",
            "Source": {"Owner": "AWS", "SourceIdentifier": "REQUIRED_TAGS"}, "InputParameters": json.dumps(parameters),
            "Scope": {"ComplianceResourceTypes": ["AWS::EC2::Instance", "AWS::S3::Bucket"]}, "ConfigRuleState": "ACTIVE"}


def result(rule: str, resource_type: str, resource_id: str, compliance: str, annotation: Optional[str] = None):
    entry = {"EvaluationResultIdentifier": {"EvaluationResultQualifier": {
        "ConfigRuleName": rule, "ResourceType": resource_type, "ResourceId": resource_id}, "OrderingTimestamp": EVALUATED},
        "ComplianceType": compliance, "ResultRecordedTime": EVALUATED, "ConfigRuleInvokedTime": EVALUATED}
    if annotation:
        entry["Annotation"] = annotation
    return entry


RECORDING = {"ConfigurationRecordersStatus": [{"name": "default", "recording": True, "lastStatus": "SUCCESS"}]}
RULES = {"ConfigRules": [
    required_tags_rule(RULE_1, {"tag1Key": "CostCenter", "tag2Key": "Project", "tag3Key": "Environment",
                                "tag3Value": "dev,prod", "tag4Key": "Team", "tag5Key": "Owner", "tag6Key": "App"}),
    {"ConfigRuleName": "s3-bucket-versioning", "Source": {"Owner": "AWS", "SourceIdentifier": "S3_BUCKET_VERSIONING_ENABLED"}},
    required_tags_rule(RULE_2, {"tag1Key": "DataClass"})]}
EVALUATIONS = {"ConfigRulesEvaluationStatus": [
    {"ConfigRuleName": name, "FirstEvaluationStarted": True, "LastSuccessfulEvaluationTime": EVALUATED} for name in (RULE_1, RULE_2)]}
RESULTS_1 = [result(RULE_1, "AWS::EC2::Instance", "i-0aaa", "NON_COMPLIANT", "Missing tag Team"),
             result(RULE_1, "AWS::EC2::Instance", "i-0bbb", "COMPLIANT"),
             result(RULE_1, "AWS::S3::Bucket", "team-datasets", "COMPLIANT")]
RESULTS_2 = [result(RULE_2, "AWS::EC2::Instance", "i-0bbb", "COMPLIANT"),
             result(RULE_2, "AWS::S3::Bucket", "team-datasets", "NON_COMPLIANT")]


def compliance_request(rule: str, token: Optional[str] = None) -> dict[str, Any]:
    request = {"ConfigRuleName": rule, "ComplianceTypes": ["COMPLIANT", "NON_COMPLIANT"], "Limit": 100}
    return {**request, "NextToken": token} if token else request


@pytest.fixture
def config_stub(moto: AwsClients) -> Iterator[tuple[AwsClients, Stubber]]:
    """AwsClients whose AWS Config client is stubbed (the other services are moto)."""
    client = boto3.client("config", region_name=REGION)
    moto.use("config", client)
    with Stubber(client) as stub:
        yield moto, stub
        stub.assert_no_pending_responses()


def account_with_two_rules(stub: Stubber, rule_names: list[str] | None = None) -> None:
    stub.add_response("describe_configuration_recorder_status", RECORDING, {})
    if rule_names:  # Config describes just the rules named
        named = {"ConfigRules": [r for r in RULES["ConfigRules"] if r["ConfigRuleName"] in rule_names]}
        stub.add_response("describe_config_rules", named, {"ConfigRuleNames": rule_names})
    else:
        stub.add_response("describe_config_rules", RULES, {})
    stub.add_response("describe_config_rule_evaluation_status", EVALUATIONS, {"ConfigRuleNames": [RULE_1, RULE_2]})
    # The first rule's results come in two pages.
    stub.add_response("get_compliance_details_by_config_rule", {"EvaluationResults": RESULTS_1[:2], "NextToken": "p2"},
                      compliance_request(RULE_1))
    stub.add_response("get_compliance_details_by_config_rule", {"EvaluationResults": RESULTS_1[2:]},
                      compliance_request(RULE_1, "p2"))
    stub.add_response("get_compliance_details_by_config_rule", {"EvaluationResults": RESULTS_2}, compliance_request(RULE_2))


def test_findings_come_from_every_required_tags_rule_page_by_page(config_stub) -> None:
    clients, stub = config_stub
    account_with_two_rules(stub)

    audit = audit_from_config(clients)

    assert [r.name for r in audit.rules] == [RULE_1, RULE_2]  # the versioning rule is not a tag rule
    assert audit.required == ("CostCenter", "Project", "Environment", "Team", "Owner", "App", "DataClass")
    assert [(f.resource_type, f.resource_id, f.rules, f.annotation) for f in audit.findings] == [
        ("AWS::EC2::Instance", "i-0aaa", (RULE_1,), "Missing tag Team"),
        ("AWS::S3::Bucket", "team-datasets", (RULE_2,), "")]
    assert audit.findings[1].required == ("DataClass",)
    assert audit.counts() == {"AWS::EC2::Instance": {"resources": 2, "missingTags": 1},
                              "AWS::S3::Bucket": {"resources": 1, "missingTags": 1}}


def test_no_recorder_is_an_error_not_a_clean_account(config_stub) -> None:
    clients, stub = config_stub
    stub.add_response("describe_configuration_recorder_status", {"ConfigurationRecordersStatus": [
        {"name": "default", "recording": False}]}, {})
    with pytest.raises(ConfigSourceError, match="AWS Config is not recording in us-east-1"):
        audit_from_config(clients)


def test_no_required_tags_rule_is_an_error(config_stub) -> None:
    clients, stub = config_stub
    stub.add_response("describe_configuration_recorder_status", RECORDING, {})
    stub.add_response("describe_config_rules", {"ConfigRules": [RULES["ConfigRules"][1]]}, {})
    with pytest.raises(ConfigSourceError, match="no AWS Config REQUIRED_TAGS rule in us-east-1"):
        audit_from_config(clients)


def test_a_rule_that_has_not_finished_an_evaluation_is_an_error(config_stub) -> None:
    clients, stub = config_stub
    stub.add_response("describe_configuration_recorder_status", RECORDING, {})
    stub.add_response("describe_config_rules", {"ConfigRules": [RULES["ConfigRules"][0]]}, {})
    stub.add_response("describe_config_rule_evaluation_status", {"ConfigRulesEvaluationStatus": [
        {"ConfigRuleName": RULE_1, "FirstEvaluationStarted": True, "LastErrorCode": "AccessDenied",
         "LastErrorMessage": "not authorized"}]}, {"ConfigRuleNames": [RULE_1]})
    with pytest.raises(ConfigSourceError, match=f"{RULE_1} has not finished an evaluation yet .last error: AccessDenied"):
        audit_from_config(clients)


def test_a_named_rule_must_be_a_required_tags_rule(config_stub) -> None:
    clients, stub = config_stub
    stub.add_response("describe_configuration_recorder_status", RECORDING, {})
    stub.add_response("describe_config_rules", {"ConfigRules": [RULES["ConfigRules"][1]]},
                      {"ConfigRuleNames": ["s3-bucket-versioning"]})
    with pytest.raises(ConfigSourceError, match="s3-bucket-versioning is not an AWS managed REQUIRED_TAGS rule"):
        audit_from_config(clients, ["s3-bucket-versioning"])


@pytest.fixture
def cli_clients(config_stub, monkeypatch):
    clients, stub = config_stub
    monkeypatch.setattr(audit_command, "aws_clients", lambda args: clients)
    return stub


def test_cli_source_config_json_and_strict(cli_clients, capsys) -> None:
    account_with_two_rules(cli_clients, [RULE_1, RULE_2])

    code = main(["audit", "tags", "--source", "config", "--config-rule", RULE_1, "--config-rule", RULE_2,
                 "--json", "--strict"])

    body = json.loads(capsys.readouterr().out)
    assert code == 1
    assert (body["source"], body["resources"], body["missingTags"]) == ("config", 3, 2)
    assert body["findings"][0] == {"resourceType": "AWS::EC2::Instance", "resourceId": "i-0aaa", "rules": [RULE_1],
                                   "requiredTags": ["CostCenter", "Project", "Environment", "Team", "Owner", "App"],
                                   "annotation": "Missing tag Team"}


def test_cli_source_config_table_and_csv(cli_clients, capsys) -> None:
    account_with_two_rules(cli_clients)
    assert main(["audit", "tags", "--source", "config"]) == 0
    table = capsys.readouterr().out
    assert table.startswith("2 of 3 resources lack a required tag (CostCenter, Project, Environment, Team, Owner, "
                            "App, DataClass)\nfrom AWS Config rule(s) ")
    assert "AWS::S3::Bucket team-datasets" in table and RULE_2 in table

    account_with_two_rules(cli_clients)
    assert main(["audit", "tags", "--source", "config", "--csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0][:3] == ["record", "resource_type", "resource_id"]
    assert ["finding", "AWS::S3::Bucket", "team-datasets", "DataClass", "", ""] in rows


def test_cli_no_recorder_exits_2_with_the_reason(cli_clients, capsys) -> None:
    cli_clients.add_response("describe_configuration_recorder_status", {"ConfigurationRecordersStatus": []}, {})
    assert main(["audit", "tags", "--source", "config"]) == 2
    assert "AWS Config is not recording in us-east-1" in capsys.readouterr().err


@pytest.mark.parametrize("flags, message", [
    (["--source", "config", "--fix", "rules.yaml"], "--fix: not with --source config"),
    (["--source", "config", "--required-tag", "Team"], "--required-tag: not with --source config"),
    (["--source", "config", "--resource-type", "ec2:instance"], "--resource-type: not with --source config"),
    (["--config-rule", RULE_1], "--config-rule: only meaningful with --source config"),
])
def test_cli_scan_only_flags_are_usage_errors(flags, message, capsys) -> None:
    assert main(["audit", "tags", "--region", REGION, *flags]) == 2
    assert message in capsys.readouterr().err
