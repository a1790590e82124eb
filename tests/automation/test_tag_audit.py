"""The tag audit against moto: the tagging API plus service sweeps, counts per type, rule-based fixes
(dry run, apply, per-resource failures), and `aifinops audit tags` against a moto server."""
from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timezone
from pathlib import Path

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber
from moto.ec2.models import ec2_backends

from aifinops.automation import ec2_instances
from aifinops.automation.aws_clients import AwsClients, shared_session
from aifinops.automation.ec2_instances import instance_arn
from aifinops.automation.tag_audit import audit, fix
from aifinops.automation.tag_rules import parse_rules
from aifinops.cli import main
from tests.automation.moto_helpers import ACCOUNT_ID, AMI, REGION, instance_tags, launch

REQUIRED = ("CostCenter", "Project", "Environment")
FULL = {"CostCenter": "ml-research", "Project": "llm-finetune", "Environment": "dev"}
RULES = {"rules": [
    {"tag": "CostCenter", "fromVpcTag": "CostCenter"},
    {"tag": "Environment", "value": "dev", "resourceTypes": ["ec2:instance", "ec2:volume"]},
]}


def arn(instance_id: str) -> str:
    return instance_arn("aws", REGION, ACCOUNT_ID, instance_id)


def account(clients: AwsClients) -> dict[str, str]:
    """A tagged instance, a half-tagged one, a never-tagged one, two buckets, an untagged training job."""
    ec2, s3 = clients.client("ec2"), clients.client("s3")
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    ec2.create_tags(Resources=[vpc], Tags=[{"Key": "CostCenter", "Value": "ml-vpc"}])
    made = {"tagged": launch(clients, "g5.xlarge", tags=FULL)[0],
            "partial": launch(clients, "g5.xlarge", tags={"Project": "llm-finetune"})[0],
            "never": launch(clients, "p4d.24xlarge")[0], "vpc": vpc}
    s3.create_bucket(Bucket="team-datasets")
    s3.create_bucket(Bucket="team-checkpoints")
    s3.put_bucket_tagging(Bucket="team-checkpoints", Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in FULL.items()]})
    clients.client("sagemaker").create_training_job(
        TrainingJobName="run-9", RoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/trainer",
        AlgorithmSpecification={"TrainingImage": "trainer:latest", "TrainingInputMode": "File"},
        OutputDataConfig={"S3OutputPath": "s3://team-checkpoints/out"}, StoppingCondition={"MaxRuntimeInSeconds": 3600},
        ResourceConfig={"InstanceType": "ml.p3.2xlarge", "InstanceCount": 1, "VolumeSizeInGB": 50})
    return made


def test_audit_finds_never_tagged_resources_the_tagging_api_cannot_see(moto: AwsClients) -> None:
    made = account(moto)

    result = audit(moto, REQUIRED)

    findings = {f.resource.arn: f for f in result.findings}
    assert arn(made["tagged"]) not in findings and "arn:aws:s3:::team-checkpoints" not in findings
    assert findings[arn(made["never"])].missing == REQUIRED
    assert findings[arn(made["never"])].resource.sources == {"ec2"}  # invisible to the tagging API
    assert findings[arn(made["partial"])].missing == ("CostCenter", "Environment")
    assert findings[arn(made["partial"])].resource.sources == {"ec2", "tagging-api"}
    assert findings["arn:aws:s3:::team-datasets"].resource.sources == {"s3"}
    assert findings[f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:training-job/run-9"].missing == REQUIRED
    counts = result.counts()
    assert counts["ec2:instance"] == {"resources": 3, "missingTags": 2}
    assert counts["ec2:volume"] == {"resources": 3, "missingTags": 3}  # root volumes, never tagged
    assert counts["s3:bucket"] == {"resources": 2, "missingTags": 1}
    assert counts["sagemaker:training-job"] == {"resources": 1, "missingTags": 1}
    assert result.inventory.errors == []


def test_fix_is_a_dry_run_unless_applied(moto: AwsClients) -> None:
    made = account(moto)
    result = audit(moto, REQUIRED)
    rules = parse_rules(RULES)

    planned = fix(moto, result, rules)
    assert {e.arn for e in planned.with_outcome("dry-run")} >= {arn(made["never"]), arn(made["partial"])}
    assert instance_tags(moto, made["partial"]) == {"Project": "llm-finetune"}

    applied = fix(moto, result, rules, apply=True)
    assert instance_tags(moto, made["partial"]) == {"Project": "llm-finetune", "CostCenter": "ml-vpc", "Environment": "dev"}
    assert instance_tags(moto, made["never"]) == {"CostCenter": "ml-vpc", "Environment": "dev"}
    never = next(e for e in applied.with_outcome("done") if e.arn == arn(made["never"]))
    assert f"CostCenter=ml-vpc (tag CostCenter of {made['vpc']})" in never.reason
    unfilled = {e.arn: e.reason for e in applied.with_outcome("reported")}
    assert unfilled["arn:aws:s3:::team-datasets"] == "no rule gives CostCenter, Project, Environment"
    assert unfilled[arn(made["never"])] == "no rule gives Project"
    after = {f.resource.arn: f.missing for f in audit(moto, REQUIRED).findings}
    assert after[arn(made["never"])] == ("Project",) and arn(made["partial"]) not in after


def test_a_resource_the_tagging_api_refuses_fails_alone(moto: AwsClients) -> None:
    made = account(moto)
    result = audit(moto, REQUIRED)
    tagging = boto3.client("resourcegroupstaggingapi", region_name=REGION)
    moto.use("resourcegroupstaggingapi", tagging)
    refused = arn(made["never"])
    with Stubber(tagging) as stub:
        stub.add_response("tag_resources", {"FailedResourcesMap": {refused: {
            "StatusCode": 403, "ErrorCode": "InvalidParameterException", "ErrorMessage": "not authorized to tag"}}})

        report = fix(moto, result, parse_rules({"rules": [{"tag": "CostCenter", "value": "ml-research"}]}), apply=True)

    assert [(e.arn, e.reason) for e in report.with_outcome("failed")] == \
        [(refused, "InvalidParameterException: not authorized to tag")]
    assert arn(made["partial"]) in {e.arn for e in report.with_outcome("done")}


def test_creator_rule_reads_cloudtrail(moto: AwsClients) -> None:
    """moto has no CloudTrail LookupEvents: botocore's Stubber answers with a RunInstances event."""
    (instance,) = launch(moto, "g5.xlarge", tags={"Project": "llm-finetune", "Environment": "dev"})
    result = audit(moto, REQUIRED, sweeps=("ec2",), resource_types=("ec2:instance",))
    cloudtrail = boto3.client("cloudtrail", region_name=REGION)
    moto.use("cloudtrail", cloudtrail)
    alice = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/ml-platform/alice"
    with Stubber(cloudtrail) as stub:
        stub.add_response("lookup_events", {"Events": [
            {"EventName": "StopInstances", "EventTime": datetime(2026, 11, 20, tzinfo=timezone.utc), "Username": "bob"},
            {"EventName": "RunInstances", "EventTime": datetime(2026, 11, 2, tzinfo=timezone.utc), "Username": "alice",
             "CloudTrailEvent": json.dumps({"userIdentity": {"type": "AssumedRole", "arn": alice}})}]},
            {"LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": instance}]})
        rules = parse_rules({"rules": [{"tag": "CostCenter", "fromCreator": {
            f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/search/*": "search",
            f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/ml-platform/*": "ml-platform"}}]})

        report = fix(moto, result, rules, apply=True)

    assert report.with_outcome("done")[0].reason == f"CostCenter=ml-platform (created by {alice})"
    assert instance_tags(moto, instance)["CostCenter"] == "ml-platform"


@pytest.mark.parametrize("document, message", [
    ({"rule": []}, "expected a mapping with a non-empty list 'rules'"),
    ({"rules": [{"value": "x"}]}, "rules[0].tag: expected the tag key to fill in, got None"),
    ({"rules": [{"tag": "A", "value": "x", "fromVpcTag": "A"}]}, "rules[0]: expected exactly one of value, fromVpcTag, fromCreator"),
    ({"rules": [{"tag": "A", "fromCreator": ["alice"]}]}, "rules[0].fromCreator: expected a mapping of principal ARN patterns"),
    ({"rules": [{"tag": "A", "value": "x", "resourceTypes": "ec2"}]}, "rules[0].resourceTypes: expected a list like"),
    ({"rules": [{"tag": "A", "value": "x", "when": "always"}]}, "rules[0]: unknown key(s) when"),
])
def test_bad_rules_are_rejected_with_where_and_what(document: dict, message: str) -> None:
    with pytest.raises(ValueError) as error:
        parse_rules(document)
    assert message in str(error.value)


def test_fifteen_hundred_instances_page_through_the_tagging_api_and_ec2(moto: AwsClients,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    backend = ec2_backends[ACCOUNT_ID][REGION]
    for index in range(15):  # 10 launches of tagged instances, 5 never tagged
        tags = {"instance": {"Project": "llm-finetune"}} if index < 10 else {}
        backend.run_instances(AMI, 100, None, [], instance_type="g5.xlarge", is_instance_type_default=False, tags=tags)
    calls: dict[str, int] = {}
    for service in ("ec2", "resourcegroupstaggingapi"):
        moto.client(service).meta.events.register(
            f"after-call.{service}", lambda model, **_: calls.__setitem__(model.name, calls.get(model.name, 0) + 1))
    monkeypatch.setattr(ec2_instances, "DESCRIBE_PAGE_SIZE", 5)

    result = audit(moto, REQUIRED, sweeps=("ec2",), resource_types=("ec2:instance",))

    assert result.counts()["ec2:instance"] == {"resources": 1500, "missingTags": 1500}
    assert sum(f.resource.sources == {"ec2"} for f in result.findings) == 500
    assert sum("tagging-api" in f.resource.sources for f in result.findings) == 1000
    assert calls["GetResources"] >= 10 and calls["DescribeInstances"] == 3  # 1,000 tagged at 100 a page
    assert "DescribeVolumes" not in calls  # volumes were not asked for, so not read


# -- the command --------------------------------------------------------------------------------------
def run_cli(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_audit_command_against_a_moto_server(server_clients: AwsClients, moto_server: str, tmp_path: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    made = account(server_clients)
    base = ["audit", "tags", "--region", REGION, "--endpoint-url", moto_server]

    code, out, _ = run_cli(capsys, *base, "--json")
    body = json.loads(out)
    assert code == 0 and body["countsByType"]["ec2:instance"] == {"resources": 3, "missingTags": 2}
    assert {f["arn"] for f in body["findings"]} >= {arn(made["never"]), "arn:aws:s3:::team-datasets"}

    code, out, _ = run_cli(capsys, *base, "--csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["resources"] for r in rows if r["record"] == "count" and r["resource_type"] == "ec2:instance"] == ["3"]
    assert len([r for r in rows if r["record"] == "finding"]) == body["missingTags"]

    code, out, _ = run_cli(capsys, *base, "--strict")
    assert code == 1 and arn(made["never"]) in out and re.search(r"^ec2:instance +3 +2$", out, re.M)

    rules = tmp_path / "rules.yaml"
    rules.write_text(json.dumps(RULES))
    code, out, _ = run_cli(capsys, *base, "--fix", str(rules))
    assert code == 0 and "would do (dry run)" in out.lower()
    assert "CostCenter" not in instance_tags(server_clients, made["never"])

    code, out, err = run_cli(capsys, *base, "--fix", str(rules), "--apply")
    assert code == 0 and instance_tags(server_clients, made["never"])["CostCenter"] == "ml-vpc"
    assert arn(made["never"]) in err  # every action is logged with its ARN


def test_audit_command_refuses_bad_input_before_calling_aws(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code, _, err = run_cli(capsys, "audit", "tags", "--region", REGION, "--apply")
    assert code == 2 and "--apply: only meaningful with --fix RULES" in err
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - tag: CostCenter\n")
    code, _, err = run_cli(capsys, "audit", "tags", "--region", REGION, "--fix", str(rules))
    assert code == 2 and f"{rules}: rules[0]: expected exactly one of value, fromVpcTag, fromCreator" in err
    code, _, err = run_cli(capsys, "audit", "tags", "--region", REGION, "--fix", str(tmp_path / "missing.yaml"))
    assert code == 2 and "cannot read rules file" in err


def test_an_audit_that_could_not_read_everything_exits_2(capsys: pytest.CaptureFixture,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing listens on the endpoint: every source fails, each is named, and the exit code says so."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    code, out, err = run_cli(capsys, "audit", "tags", "--region", REGION, "--endpoint-url", "http://127.0.0.1:9",
                             "--json")
    errors = json.loads(out)["errors"]
    assert code == 2 and "the audit is incomplete" in err
    assert [e["arn"] for e in errors] == ["tagging-api", "ec2", "s3", "sagemaker"]
    assert all(e["error"].startswith("listing: Could not connect to the endpoint URL") for e in errors)


def test_apply_exits_2_and_lists_every_write_that_was_denied(moto: AwsClients, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture) -> None:
    """Every TagResources call is denied (answered with AccessDeniedException before it reaches moto):
    the command names each write that failed and exits 2, where it used to exit 0 as if it had tagged them."""
    made = account(moto)
    rules = tmp_path / "rules.yaml"
    rules.write_text(json.dumps(RULES))
    denials = []

    def deny(**_):  # a before-call answer replaces the request (a before-send one would still reach moto)
        denials.append(1)
        error = {"Code": "AccessDeniedException", "Message": "not authorized to perform tag:TagResources"}
        return AWSResponse("https://tagging.invalid", 400, {}, None), \
            {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}

    events = shared_session().events
    events.register_first("before-call.resource-groups-tagging-api.TagResources", deny)
    try:
        code, _, err = run_cli(capsys, "audit", "tags", "--region", REGION, "--fix", str(rules), "--apply")
    finally:
        events.unregister("before-call.resource-groups-tagging-api.TagResources", deny)
    assert denials and code == 2
    assert "the fix is incomplete" in err
    listed = [line for line in err.splitlines() if line.startswith("  tag ")]
    assert any(arn(made["never"]) in line and "AccessDeniedException" in line for line in listed)
    assert "CostCenter" not in instance_tags(moto, made["never"])
