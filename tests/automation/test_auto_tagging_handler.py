"""The auto-tagging handler against moto: CloudTrail events as EventBridge delivers them, tags from the
DynamoDB mapping table or the defaults, existing tags kept, throttling retried, dry run, ignored events."""
from __future__ import annotations

import json
import logging
from typing import Any, Optional

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber
from moto.core.botocore_stubber import MockRawResponse

from aifinops.automation import auto_tagging_handler
from aifinops.automation.auto_tagging_handler import AutoTaggingFailed, auto_tag
from aifinops.automation.aws_clients import AwsClients
from aifinops.automation.ec2_instances import instance_arn
from aifinops.core.automation_settings import TAGGED_BY_TAG, AutoTaggingSettings, to_env
from tests.automation.moto_helpers import ACCOUNT_ID, REGION, instance_tags, launch

TABLE = "tag-mapping"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/ml-research-engineer"
SESSION_ARN = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/ml-research-engineer/alice"
DEFAULTS = {"CostCenter": "unallocated", "Project": "unknown", "Environment": "dev"}
EC2_THROTTLED = (b'<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>RequestLimitExceeded</Code>'
                 b'<Message>Request limit exceeded.</Message></Error></Errors><RequestID>r-1</RequestID></Response>')


def cloudtrail_event(source: str, name: str, *, request: Optional[dict] = None, response: Optional[dict] = None,
                     identity: Optional[dict] = None, error_code: Optional[str] = None) -> dict[str, Any]:
    """What EventBridge delivers for a CloudTrail management event."""
    detail: dict[str, Any] = {
        "eventVersion": "1.09", "eventTime": "2026-11-30T10:00:00Z", "eventSource": source, "eventName": name,
        "awsRegion": REGION, "sourceIPAddress": "203.0.113.7", "userAgent": "aws-cli/2.17",
        "userIdentity": identity or assumed_role(), "requestParameters": request or {},
        "responseElements": response, "eventID": "7a1bd0d6-3c6f-4a5b-9d1e-2f3a4b5c6d7e",
        "eventType": "AwsApiCall", "managementEvent": True, "recipientAccountId": ACCOUNT_ID}
    if error_code:
        detail["errorCode"] = error_code
    return {"version": "0", "id": "c4a2f1de-1b2c-4d3e-8f9a-0b1c2d3e4f5a", "detail-type": "AWS API Call via CloudTrail",
            "source": "aws." + source.split(".")[0], "account": ACCOUNT_ID, "time": "2026-11-30T10:00:00Z",
            "region": REGION, "resources": [], "detail": detail}


def assumed_role(role_arn: str = ROLE_ARN, session: str = "alice") -> dict[str, Any]:
    role_name = role_arn.rsplit("/", 1)[-1]
    return {"type": "AssumedRole", "principalId": f"AROAEXAMPLE:{session}",
            "arn": f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role_name}/{session}", "accountId": ACCOUNT_ID,
            "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE", "arn": role_arn,
                                                 "accountId": ACCOUNT_ID, "userName": role_name}}}


def run_instances_event(instance_ids: list[str], identity: Optional[dict] = None) -> dict[str, Any]:
    return cloudtrail_event("ec2.amazonaws.com", "RunInstances", identity=identity,
                            request={"instanceType": "g5.xlarge"},
                            response={"instancesSet": {"items": [{"instanceId": i} for i in instance_ids]}})


def mapping_table(clients: AwsClients, items: dict[str, dict[str, str]]) -> None:
    dynamodb = clients.client("dynamodb")
    dynamodb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "principal", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "principal", "AttributeType": "S"}])
    for key, tags in items.items():
        dynamodb.put_item(TableName=TABLE, Item={"principal": {"S": key},
                                                 "tags": {"M": {k: {"S": v} for k, v in tags.items()}}})


def volume_tags(clients: AwsClients, instance_id: str) -> dict[str, dict[str, str]]:
    volumes = clients.client("ec2").describe_volumes(Filters=[{"Name": "attachment.instance-id", "Values": [instance_id]}])
    return {v["VolumeId"]: {t["Key"]: t["Value"] for t in v.get("Tags", [])} for v in volumes["Volumes"]}


def live(**changes: Any) -> AutoTaggingSettings:
    return AutoTaggingSettings(**{"default_tags": DEFAULTS, "mapping_table": TABLE, "dry_run": False, **changes})


def test_run_instances_tags_the_instances_and_their_volumes_from_the_role_mapping(moto: AwsClients) -> None:
    mapping_table(moto, {ROLE_ARN: {"CostCenter": "ml-research", "Project": "llm-finetune"}})
    ids = launch(moto, "g5.xlarge", count=2)

    run = auto_tag(moto, live(), [run_instances_event(ids)])

    expected = {"CostCenter": "ml-research", "Project": "llm-finetune", "Environment": "dev",
                TAGGED_BY_TAG: "auto-tagging/role"}
    for instance_id in ids:
        assert instance_tags(moto, instance_id) == expected
        (volume,) = volume_tags(moto, instance_id).values()
        assert volume == expected
    done = run.report.with_outcome("done")
    assert len(done) == 4 and {instance_arn("aws", REGION, ACCOUNT_ID, i) for i in ids} <= {e.arn for e in done}
    assert all(e.detail["tags"] == expected and SESSION_ARN in e.reason for e in done)


def test_each_resource_gets_one_json_log_line(moto: AwsClients, caplog: pytest.LogCaptureFixture) -> None:
    ids = launch(moto, "g5.xlarge")
    with caplog.at_level(logging.INFO, logger="aifinops.automation"):
        auto_tag(moto, live(mapping_table=None), [run_instances_event(ids)])
    lines = [json.loads(r.getMessage()) for r in caplog.records]
    assert [line["arn"].split(":")[5].split("/")[0] for line in lines] == ["instance", "volume"]
    assert all(line["job"] == "auto-tagging" and line["outcome"] == "done" for line in lines)


def test_tags_already_on_the_resource_keep_their_values(moto: AwsClients) -> None:
    mapping_table(moto, {ROLE_ARN: {"CostCenter": "ml-research", "Project": "llm-finetune"}})
    (instance_id,) = launch(moto, "g5.xlarge", tags={"Project": "chosen-by-hand", "Owner": "alice"})

    run = auto_tag(moto, live(), [run_instances_event([instance_id])])

    assert instance_tags(moto, instance_id) == {"Project": "chosen-by-hand", "Owner": "alice",
                                                "CostCenter": "ml-research", "Environment": "dev",
                                                TAGGED_BY_TAG: "auto-tagging/role"}
    entry = next(e for e in run.report.entries if e.arn.endswith(instance_id))
    assert entry.detail["kept"] == ["Project"] and "Project" not in entry.detail["tags"]


def test_a_fully_tagged_resource_is_left_alone(moto: AwsClients) -> None:
    (instance_id,) = launch(moto, "g5.xlarge", tags=DEFAULTS)
    run = auto_tag(moto, live(mapping_table=None), [run_instances_event([instance_id])])
    assert instance_tags(moto, instance_id) == DEFAULTS  # no aifinops:tagged-by either
    assert [e.outcome for e in run.report.entries if e.arn.endswith(instance_id)] == ["skipped"]


def test_an_unknown_principal_gets_the_defaults(moto: AwsClients) -> None:
    mapping_table(moto, {ROLE_ARN: {"CostCenter": "ml-research"}})
    (instance_id,) = launch(moto, "g5.xlarge")
    stranger = assumed_role(f"arn:aws:iam::{ACCOUNT_ID}:role/contractor", "bob")

    auto_tag(moto, live(), [run_instances_event([instance_id], identity=stranger)])

    assert instance_tags(moto, instance_id) == {**DEFAULTS, TAGGED_BY_TAG: "auto-tagging/defaults"}


def test_the_principal_entry_wins_over_the_role_and_the_team_tag_is_the_last_resort(moto: AwsClients) -> None:
    iam = moto.client("iam")
    iam.create_role(RoleName="data-loader", AssumeRolePolicyDocument="{}", Tags=[{"Key": "Team", "Value": "vision"}])
    iam.create_user(UserName="carol", Tags=[{"Key": "Team", "Value": "speech"}])
    mapping_table(moto, {SESSION_ARN: {"CostCenter": "alice-own"}, ROLE_ARN: {"CostCenter": "ml-research"},
                         "team:vision": {"CostCenter": "vision", "Project": "detector"},
                         "team:speech": {"CostCenter": "speech"}})
    alice, loader, carol = (launch(moto, "g5.xlarge")[0] for _ in range(3))
    carol_identity = {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/carol",
                      "accountId": ACCOUNT_ID, "userName": "carol"}

    auto_tag(moto, live(), [run_instances_event([alice]),
                            run_instances_event([loader], identity=assumed_role(f"arn:aws:iam::{ACCOUNT_ID}:role/data-loader")),
                            run_instances_event([carol], identity=carol_identity)])

    assert instance_tags(moto, alice)["CostCenter"] == "alice-own"
    assert instance_tags(moto, alice)[TAGGED_BY_TAG] == "auto-tagging/principal"
    assert {k: instance_tags(moto, loader)[k] for k in ("CostCenter", "Project", TAGGED_BY_TAG)} == \
        {"CostCenter": "vision", "Project": "detector", TAGGED_BY_TAG: "auto-tagging/team"}
    assert instance_tags(moto, carol)["CostCenter"] == "speech"


def test_mapping_entries_write_only_the_allowed_keys(moto: AwsClients) -> None:
    mapping_table(moto, {ROLE_ARN: {"CostCenter": "ml-research", "Name": "renamed-by-mapping"}})
    (instance_id,) = launch(moto, "g5.xlarge")
    auto_tag(moto, live(), [run_instances_event([instance_id])])
    assert "Name" not in instance_tags(moto, instance_id)


def test_create_bucket_tags_the_bucket_and_keeps_its_tag_set(moto: AwsClients) -> None:
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="team-scratch")
    s3.create_bucket(Bucket="team-shared")
    s3.put_bucket_tagging(Bucket="team-shared", Tagging={"TagSet": [{"Key": "DataClass", "Value": "public"},
                                                                  {"Key": "Environment", "Value": "prod"}]})
    events = [cloudtrail_event("s3.amazonaws.com", "CreateBucket", request={"bucketName": name, "Host": "s3.amazonaws.com"})
              for name in ("team-scratch", "team-shared")]

    auto_tag(moto, live(mapping_table=None), events)

    def tags(bucket: str) -> dict[str, str]:
        return {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}

    assert tags("team-scratch") == {**DEFAULTS, TAGGED_BY_TAG: "auto-tagging/defaults"}
    assert tags("team-shared") == {"DataClass": "public", "Environment": "prod", "CostCenter": "unallocated",
                                   "Project": "unknown", TAGGED_BY_TAG: "auto-tagging/defaults"}


def test_sagemaker_training_jobs_and_efs_file_systems_are_tagged(moto: AwsClients) -> None:
    job = moto.client("sagemaker").create_training_job(
        TrainingJobName="run-7", RoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/trainer",
        AlgorithmSpecification={"TrainingImage": "trainer:latest", "TrainingInputMode": "File"},
        OutputDataConfig={"S3OutputPath": "s3://out/run-7"}, StoppingCondition={"MaxRuntimeInSeconds": 3600},
        ResourceConfig={"InstanceType": "ml.g5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 50},
        Tags=[{"Key": "Project", "Value": "run-7-project"}])
    file_system = moto.client("efs").create_file_system(CreationToken="datasets")
    events = [cloudtrail_event("sagemaker.amazonaws.com", "CreateTrainingJob", request={"trainingJobName": "run-7"},
                               response={"trainingJobArn": job["TrainingJobArn"]}),
              cloudtrail_event("elasticfilesystem.amazonaws.com", "CreateFileSystem", request={"creationToken": "datasets"},
                               response={"fileSystemId": file_system["FileSystemId"],
                                         "fileSystemArn": file_system["FileSystemArn"]})]

    run = auto_tag(moto, live(mapping_table=None), events)

    job_tags = {t["Key"]: t["Value"] for t in moto.client("sagemaker").list_tags(ResourceArn=job["TrainingJobArn"])["Tags"]}
    assert job_tags == {**DEFAULTS, "Project": "run-7-project", TAGGED_BY_TAG: "auto-tagging/defaults"}
    efs_tags = moto.client("efs").list_tags_for_resource(ResourceId=file_system["FileSystemId"])["Tags"]
    assert {t["Key"]: t["Value"] for t in efs_tags} == {**DEFAULTS, TAGGED_BY_TAG: "auto-tagging/defaults"}
    assert len(run.report.with_outcome("done")) == 2


def test_a_throttled_create_tags_is_retried(moto: AwsClients, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first CreateTags comes back throttled (a real HTTP 400 in front of moto); botocore's standard
    retry mode backs off and retries, and the instance is tagged."""
    (instance_id,) = launch(moto, "g5.xlarge")
    ec2 = moto.client("ec2")
    attempts = []

    def throttle_first(request, **_):
        attempts.append(request.url)
        return AWSResponse(request.url, 400, {}, MockRawResponse(EC2_THROTTLED)) if len(attempts) == 1 else None

    ec2.meta.events.register_first("before-send.ec2.CreateTags", throttle_first)
    backoffs: list[float] = []
    monkeypatch.setattr("botocore.endpoint.time.sleep", backoffs.append)

    run = auto_tag(moto, live(mapping_table=None), [run_instances_event([instance_id])])

    assert len(attempts) == 3 and len(backoffs) == 1  # instance: throttled then retried; volume: once
    assert instance_tags(moto, instance_id)[TAGGED_BY_TAG] == "auto-tagging/defaults"
    assert run.report.with_outcome("failed") == []


def test_throttling_past_the_retries_fails_the_resource_and_the_lambda_so_the_event_is_retried(
        moto: AwsClients, monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's Stubber plays EC2 (its errors skip botocore's retries: as if they were used up). The
    instance's CreateTags stays throttled, the volume's goes through: the instance is reported failed and
    the Lambda raises, so Lambda retries the event and finally dead-letters it."""
    ec2 = boto3.client("ec2", region_name=REGION)
    moto.use("ec2", ec2)
    monkeypatch.setattr(auto_tagging_handler, "AwsClients", lambda: moto)
    for name, value in to_env(live(mapping_table=None)).items():
        monkeypatch.setenv(name, value)
    instance, volume = "i-0a1b2c3d4e5f60001", "vol-0a1b2c3d4e5f60001"
    tags = [{"Key": k, "Value": v} for k, v in {**DEFAULTS, TAGGED_BY_TAG: "auto-tagging/defaults"}.items()]
    with Stubber(ec2) as stub:
        stub.add_response("describe_instances", {"Reservations": [{"Instances": [
            {"InstanceId": instance, "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"VolumeId": volume}}]}]}]},
            {"InstanceIds": [instance]})
        stub.add_response("describe_volumes", {"Volumes": [{"VolumeId": volume}]}, {"VolumeIds": [volume]})
        stub.add_client_error("create_tags", "RequestLimitExceeded", "Request limit exceeded.", 400,
                              expected_params={"Resources": [instance], "Tags": tags})
        stub.add_response("create_tags", {}, {"Resources": [volume], "Tags": tags})

        with pytest.raises(AutoTaggingFailed, match=f"^1 resource\\(s\\) not tagged: .*instance/{instance}: RequestLimitExceeded"):
            auto_tagging_handler.handler(run_instances_event([instance]), None)

        stub.assert_no_pending_responses()


def test_dry_run_changes_nothing_and_logs_what_it_would_do(moto: AwsClients, caplog: pytest.LogCaptureFixture) -> None:
    (instance_id,) = launch(moto, "g5.xlarge")
    boto3.client("s3", region_name=REGION).create_bucket(Bucket="team-scratch")
    events = [run_instances_event([instance_id]),
              cloudtrail_event("s3.amazonaws.com", "CreateBucket", request={"bucketName": "team-scratch"})]

    with caplog.at_level(logging.INFO, logger="aifinops.automation"):
        run = auto_tag(moto, AutoTaggingSettings(default_tags=DEFAULTS), events)  # dry run is the default

    assert instance_tags(moto, instance_id) == {}
    assert "TagSet" not in str(moto.client("s3").list_objects_v2(Bucket="team-scratch"))
    with pytest.raises(moto.client("s3").exceptions.ClientError, match="NoSuchTagSet"):
        moto.client("s3").get_bucket_tagging(Bucket="team-scratch")
    planned = run.report.with_outcome("dry-run")
    assert len(planned) == 3 and all(e.detail["tags"][TAGGED_BY_TAG] == "auto-tagging/defaults" for e in planned)
    logged = [json.loads(r.getMessage()) for r in caplog.records]
    assert [(line["outcome"], line["dryRun"]) for line in logged] == [("dry-run", True)] * 3


def test_events_it_does_not_handle_are_ignored_and_counted(moto: AwsClients) -> None:
    (instance_id,) = launch(moto, "g5.xlarge")
    events = [cloudtrail_event("ec2.amazonaws.com", "TerminateInstances", request={"instancesSet": {}}),
              cloudtrail_event("ec2.amazonaws.com", "TerminateInstances", request={"instancesSet": {}}),
              cloudtrail_event("rds.amazonaws.com", "CreateDBInstance", request={"dBInstanceIdentifier": "db"}),
              cloudtrail_event("ec2.amazonaws.com", "RunInstances", error_code="Client.UnauthorizedOperation"),
              {"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}},
              run_instances_event([instance_id])]

    run = auto_tag(moto, live(mapping_table=None), events)

    assert run.ignored == {"unhandled ec2.amazonaws.com:TerminateInstances": 2,
                           "unhandled rds.amazonaws.com:CreateDBInstance": 1,
                           "failed call RunInstances (Client.UnauthorizedOperation)": 1,
                           "not a CloudTrail API call event": 1}
    assert run.to_dict()["ignoredEvents"]["unhandled ec2.amazonaws.com:TerminateInstances"] == 2
    assert len(run.report.with_outcome("done")) == 2  # the one real launch: instance and volume


def test_nothing_to_give_is_reported_not_guessed(moto: AwsClients) -> None:
    (instance_id,) = launch(moto, "g5.xlarge")
    run = auto_tag(moto, AutoTaggingSettings(dry_run=False), [run_instances_event([instance_id])])
    assert instance_tags(moto, instance_id) == {}
    reported = run.report.with_outcome("reported")
    assert len(reported) == 2 and "CostCenter, Project, Environment" in reported[0].reason


def test_lambda_entry_point_reads_its_settings_from_the_environment(moto: AwsClients,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    (instance_id,) = launch(moto, "g5.xlarge")
    for name, value in to_env(live(mapping_table=None)).items():
        monkeypatch.setenv(name, value)
    result = auto_tagging_handler.handler(run_instances_event([instance_id]), None)
    assert result["counts"]["done"] == 2 and result["ignoredEvents"] == {}
    assert instance_tags(moto, instance_id)[TAGGED_BY_TAG] == "auto-tagging/defaults"
