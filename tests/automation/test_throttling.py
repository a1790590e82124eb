"""Throttling: botocore's standard retry mode absorbs it; when it outlasts the retries, the one resource
fails and the run goes on."""
from __future__ import annotations

from datetime import datetime, timezone

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber
from moto import mock_aws
from moto.core.botocore_stubber import MockRawResponse

from aifinops.automation.aws_clients import AwsClients
from aifinops.automation.ec2_instances import instance_arn
from aifinops.automation.idle_gpu_reaper_handler import reap
from aifinops.core.automation_settings import ReaperSettings
from tests.automation.moto_helpers import ACCOUNT_ID, REGION, instance_states, launch, put_gpu_utilisation

IDLE = [1.0] * 12
EC2_THROTTLED = (b'<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>RequestLimitExceeded</Code>'
                 b'<Message>Request limit exceeded.</Message></Error></Errors><RequestID>r-1</RequestID></Response>')


def test_standard_retry_mode_rides_out_a_throttled_call(moto: AwsClients, monkeypatch) -> None:
    """The first DescribeInstances comes back throttled (a real HTTP 400 in front of moto); botocore's
    standard mode backs off and retries, and the run completes as if nothing happened."""
    (idle,) = launch(moto, "g5.xlarge")
    now = datetime.now(timezone.utc)
    put_gpu_utilisation(moto, idle, IDLE, now)
    ec2 = moto.client("ec2")
    assert ec2.meta.config.retries["mode"] == "standard"
    attempts = []

    def throttle_first(request, **_):
        attempts.append(request.url)
        if len(attempts) == 1:
            return AWSResponse(request.url, 400, {}, MockRawResponse(EC2_THROTTLED))
        return None  # on to moto

    ec2.meta.events.register_first("before-send.ec2.DescribeInstances", throttle_first)
    backoffs = []
    monkeypatch.setattr("botocore.endpoint.time.sleep", backoffs.append)

    report = reap(moto, ReaperSettings(grace_minutes=0, dry_run=False), now=now)

    assert len(attempts) == 2 and len(backoffs) == 1 and 0 <= backoffs[0] <= 1
    assert [e.arn for e in report.with_outcome("done")] == [instance_arn("aws", REGION, ACCOUNT_ID, idle)]
    assert instance_states(moto)[idle] == "stopped"


def test_a_throttled_stop_fails_one_instance_and_the_others_stop(moto: AwsClients) -> None:
    """botocore's Stubber plays EC2 (Stubber errors skip botocore's retries: as if they were used up);
    CloudWatch is moto. The batch stop is throttled, so the reaper stops one by one: one of three is
    throttled again and reported failed, the other two stop and are marked."""
    now = datetime.now(timezone.utc)
    ids = ["i-0a1b2c3d4e5f60001", "i-0a1b2c3d4e5f60002", "i-0a1b2c3d4e5f60003"]
    for instance_id in ids:
        put_gpu_utilisation(moto, instance_id, IDLE, now)
    ec2 = boto3.client("ec2", region_name=REGION)
    moto.use("ec2", ec2)
    reservation = {"OwnerId": ACCOUNT_ID, "ReservationId": "r-1", "Instances": [
        {"InstanceId": i, "InstanceType": "g6.xlarge", "State": {"Name": "running", "Code": 16},
         "LaunchTime": datetime(2026, 11, 1, tzinfo=timezone.utc)} for i in ids]}
    stopping = lambda i: {"StoppingInstances": [{"InstanceId": i, "CurrentState": {"Name": "stopping", "Code": 64}}]}
    with Stubber(ec2) as stub:
        stub.add_response("describe_instances", {"Reservations": [reservation]})
        stub.add_client_error("stop_instances", "RequestLimitExceeded", "Request limit exceeded.", 400,
                              expected_params={"InstanceIds": ids})
        stub.add_response("stop_instances", stopping(ids[0]), {"InstanceIds": [ids[0]]})
        stub.add_client_error("stop_instances", "ThrottlingException", "Rate exceeded", 400,
                              expected_params={"InstanceIds": [ids[1]]})
        stub.add_response("stop_instances", stopping(ids[2]), {"InstanceIds": [ids[2]]})
        stub.add_response("create_tags", {}, None)

        report = reap(moto, ReaperSettings(grace_minutes=0, dry_run=False), now=now)

        stub.assert_no_pending_responses()
    arns = [instance_arn("aws", REGION, ACCOUNT_ID, i) for i in ids]
    assert [(e.arn, e.reason) for e in report.with_outcome("failed")] == [(arns[1], "ThrottlingException: Rate exceeded")]
    assert sorted(e.arn for e in report.with_outcome("done")) == [arns[0], arns[2]]


@pytest.mark.parametrize("setting", [1, 3])
def test_the_count_of_attempts_equals_aws_max_attempts(setting: int, monkeypatch) -> None:
    """AWS_MAX_ATTEMPTS=N means N tries in all, as botocore's own variable does: every DescribeInstances
    comes back throttled (a real HTTP 400 in front of moto), and exactly N requests are sent before the
    error reaches the caller."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", str(setting))
    monkeypatch.setattr("botocore.endpoint.time.sleep", lambda _seconds: None)
    with mock_aws():
        ec2 = AwsClients(region=REGION).client("ec2")
        attempts = []

        def always_throttle(request, **_):
            attempts.append(request.url)
            return AWSResponse(request.url, 400, {}, MockRawResponse(EC2_THROTTLED))

        ec2.meta.events.register_first("before-send.ec2.DescribeInstances", always_throttle)
        with pytest.raises(ClientError, match="RequestLimitExceeded"):
            ec2.describe_instances()
    assert len(attempts) == setting
