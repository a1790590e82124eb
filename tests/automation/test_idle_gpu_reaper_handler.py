"""The idle-GPU reaper against moto: what it stops, what it leaves, what it reports, and its Lambda entry."""
from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone

import pytest
from moto.ec2.models import ec2_backends

from aifinops.automation import ec2_instances, idle_gpu_reaper_handler
from aifinops.automation.aws_clients import AwsClients
from aifinops.automation.ec2_instances import instance_arn
from aifinops.automation.idle_gpu_reaper_handler import handler, reap
from aifinops.core.automation_settings import (
    DCGM_METRIC,
    OPT_OUT_TAG,
    SOURCE_ATTRIBUTE,
    STOPPED_AT_TAG,
    STOPPED_BY_TAG,
    ReaperSettings,
    env_name,
    to_env,
)
from tests.automation.moto_helpers import (
    ACCOUNT_ID,
    AMI,
    REGION,
    instance_states,
    instance_tags,
    launch,
    put_gpu_utilisation,
    received,
    scheduled_event,
    subscribed_queue,
)

IDLE = [1.0, 2.0, 0.0, 3.0, 1.5, 2.5, 0.5, 1.0, 2.0, 1.0, 0.0, 4.0]  # 12 x 5 minutes, all below 5%


def arn(instance_id: str) -> str:
    return instance_arn("aws", REGION, ACCOUNT_ID, instance_id)


def by_arn(report) -> dict:
    return {entry.arn: entry for entry in report.entries}


def asg_member(clients: AwsClients) -> str:
    ec2, autoscaling = clients.client("ec2"), clients.client("autoscaling")
    ec2.create_launch_template(LaunchTemplateName="gpu-lt", LaunchTemplateData={"ImageId": AMI, "InstanceType": "g5.xlarge"})
    autoscaling.create_auto_scaling_group(AutoScalingGroupName="gpu-asg", LaunchTemplate={"LaunchTemplateName": "gpu-lt"},
                                          MinSize=1, MaxSize=1, AvailabilityZones=[f"{REGION}a"])
    return autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"][0]["Instances"][0]["InstanceId"]


def test_stops_only_idle_unmanaged_accelerated_instances(moto: AwsClients) -> None:
    idle, busy, sparse = launch(moto, "g5.xlarge", 3)
    (no_metrics,) = launch(moto, "g6.xlarge")
    (opted_out,) = launch(moto, "g5.xlarge", tags={OPT_OUT_TAG: "training-demo"})
    (cpu,) = launch(moto, "t3.micro")
    member = asg_member(moto)
    now = datetime.now(timezone.utc)
    for instance_id in (idle, opted_out, cpu, member):
        put_gpu_utilisation(moto, instance_id, IDLE, now)
    put_gpu_utilisation(moto, busy, IDLE[:6] + [85.0] + IDLE[7:], now)
    put_gpu_utilisation(moto, sparse, [0.0, 0.0], now)

    report = reap(moto, ReaperSettings(grace_minutes=0, dry_run=False), now=now)

    states = instance_states(moto)
    assert states[idle] == "stopped"
    assert all(states[i] == "running" for i in (busy, sparse, no_metrics, opted_out, cpu, member))
    entries = by_arn(report)
    assert entries[arn(idle)].outcome == "done" and "peaked at 4%" in entries[arn(idle)].reason
    assert entries[arn(no_metrics)].outcome == "reported" and "no nvidia_smi_utilization_gpu data" in entries[arn(no_metrics)].reason
    assert entries[arn(sparse)].outcome == "reported" and "metric data for" in entries[arn(sparse)].reason
    assert entries[arn(opted_out)].outcome == "skipped" and OPT_OUT_TAG in entries[arn(opted_out)].reason
    assert entries[arn(member)].outcome == "reported" and "Auto Scaling group gpu-asg" in entries[arn(member)].reason
    assert arn(cpu) not in entries and arn(busy) not in entries
    marks = instance_tags(moto, idle)
    assert marks[STOPPED_BY_TAG] == "idle-gpu-reaper"
    assert datetime.strptime(marks[STOPPED_AT_TAG], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc) <= now


def test_every_action_is_logged_with_its_arn(moto: AwsClients, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="aifinops.automation")
    (idle,) = launch(moto, "g5.xlarge")
    now = datetime.now(timezone.utc)
    put_gpu_utilisation(moto, idle, IDLE, now)

    reap(moto, ReaperSettings(grace_minutes=0, dry_run=False), now=now)

    logged = [json.loads(r.getMessage()) for r in caplog.records if r.name == "aifinops.automation"]
    assert [(e["arn"], e["action"], e["outcome"], e["dryRun"]) for e in logged] == [(arn(idle), "stop", "done", False)]


def test_dcgm_utilisation_works_the_same_way(moto: AwsClients) -> None:
    idle, busy = launch(moto, "p5.48xlarge", 2)
    now = datetime.now(timezone.utc)
    for instance_id, value in ((idle, 0.0), (busy, 97.0)):
        moto.client("cloudwatch").put_metric_data(Namespace=DCGM_METRIC[0], MetricData=[{
            "MetricName": DCGM_METRIC[1], "Dimensions": [{"Name": "InstanceId", "Value": instance_id}], "Value": value,
            "Timestamp": now - timedelta(minutes=minutes)} for minutes in range(1, 60, 5)])

    report = reap(moto, ReaperSettings(grace_minutes=0, metric_name=DCGM_METRIC[1]), now=now)

    assert [e.arn for e in report.with_outcome("dry-run")] == [arn(idle)] and len(report.entries) == 1


def test_dry_run_is_the_default_and_changes_nothing(moto: AwsClients) -> None:
    (idle,) = launch(moto, "p4d.24xlarge")
    now = datetime.now(timezone.utc)
    put_gpu_utilisation(moto, idle, IDLE, now)

    report = reap(moto, ReaperSettings(grace_minutes=0), now=now)

    assert report.dry_run and report.with_outcome("dry-run")[0].arn == arn(idle)
    assert instance_states(moto)[idle] == "running"
    assert STOPPED_BY_TAG not in instance_tags(moto, idle)


def test_instances_younger_than_the_grace_period_are_skipped(moto: AwsClients) -> None:
    (young,) = launch(moto, "g5.xlarge")
    now = datetime.now(timezone.utc)
    put_gpu_utilisation(moto, young, IDLE, now)
    assert by_arn(reap(moto, ReaperSettings(grace_minutes=30), now=now))[arn(young)].outcome == "skipped"

    later = now + timedelta(minutes=31)
    put_gpu_utilisation(moto, young, IDLE, later)
    assert by_arn(reap(moto, ReaperSettings(grace_minutes=30), now=later))[arn(young)].outcome == "dry-run"


def test_summary_goes_to_sns_only_when_something_changed(moto: AwsClients) -> None:
    topic = moto.client("sns").create_topic(Name="gpu-reaper")["TopicArn"]
    queue = subscribed_queue(moto, topic)
    (idle,) = launch(moto, "g6e.xlarge")
    now = datetime.now(timezone.utc)
    settings = ReaperSettings(grace_minutes=0, dry_run=False, summary_topic_arn=topic)

    reap(moto, settings, now=now)  # no metrics: reported, nothing changed
    assert received(moto, queue) == []

    put_gpu_utilisation(moto, idle, IDLE, now)
    reap(moto, settings, now=now)
    (message,) = received(moto, queue)
    assert arn(idle) in message["Message"] and message["Subject"].startswith("aifinops idle-gpu-reaper: 1 done")
    assert message["MessageAttributes"][SOURCE_ATTRIBUTE]["Value"] == "idle-gpu-reaper"


def test_lambda_handler_reads_settings_from_the_environment(moto: AwsClients, monkeypatch: pytest.MonkeyPatch) -> None:
    (idle,) = launch(moto, "g5.2xlarge")
    now = datetime.now(timezone.utc)
    put_gpu_utilisation(moto, idle, IDLE, now)
    for name, value in to_env(ReaperSettings(grace_minutes=0, dry_run=False)).items():
        monkeypatch.setenv(name, value)

    forced = handler({**scheduled_event(), "dryRun": True}, None)
    assert forced["dryRun"] is True and instance_states(moto)[idle] == "running"

    result = handler(scheduled_event(), None)
    assert result["counts"]["done"] == 1 and result["entries"][0]["arn"] == arn(idle)
    assert instance_states(moto)[idle] == "stopped"


def test_lambda_handler_against_a_moto_server(server_clients: AwsClients, moto_server: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    idle, busy = launch(server_clients, "g5.xlarge", 2)
    now = datetime.now(timezone.utc)
    put_gpu_utilisation(server_clients, idle, IDLE, now)
    put_gpu_utilisation(server_clients, busy, [90.0] * 12, now)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)  # boto3 sends the handler's calls there
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv(env_name("dry_run"), "false")
    monkeypatch.setenv(env_name("grace_minutes"), "0")

    result = handler(scheduled_event(), None)

    assert [e["arn"] for e in result["entries"] if e["outcome"] == "done"] == [arn(idle)]
    assert instance_states(server_clients) == {idle: "stopped", busy: "running"}


@pytest.mark.parametrize("name, value, message", [
    ("idle_threshold_percent", "five", "AIFINOPS_IDLE_THRESHOLD_PERCENT: expected a number, got 'five'"),
    ("idle_threshold_percent", "150", "idle_threshold_percent: expected a number in (0, 100], got 150.0"),
    ("idle_minutes", "2", "idle_minutes: expected a whole number from 5 to 10080 minutes, got 2"),
    ("period_seconds", "90", "period_seconds: expected a multiple of 60"),
    ("dry_run", "maybe", "AIFINOPS_DRY_RUN: expected 'true' or 'false', got 'maybe'"),
    ("notify", "never", "notify: expected one of 'changes', 'always', got 'never'"),
    ("summary_topic_arn", "arn:aws:sqs:us-east-1:123456789012:q", "summary_topic_arn: expected an ARN of the sns service"),
])
def test_bad_settings_fail_before_any_instance_is_touched(moto: AwsClients, monkeypatch: pytest.MonkeyPatch,
                                                          name: str, value: str, message: str) -> None:
    (idle,) = launch(moto, "g5.xlarge")
    put_gpu_utilisation(moto, idle, IDLE, datetime.now(timezone.utc))
    monkeypatch.setenv(env_name("dry_run"), "false")
    monkeypatch.setenv(env_name("grace_minutes"), "0")
    monkeypatch.setenv(env_name(name), value)

    with pytest.raises(ValueError) as error:
        handler(scheduled_event(), None)
    assert message in str(error.value)
    assert instance_states(moto)[idle] == "running"


def test_fifteen_hundred_instances_page_through_describe_and_metrics(moto: AwsClients,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """1,500 GPU instances in 15 launches; EC2 pages them (5 reservations a page here), CloudWatch takes
    500 queries a call. Thirty are idle with metrics; the rest have none and are reported."""
    backend = ec2_backends[ACCOUNT_ID][REGION]
    # Set up through moto's backend: 15 launches of 100 through the API would add seconds of XML.
    ids = sorted(i.id for _ in range(15) for i in backend.run_instances(
        AMI, 100, None, [], instance_type="g5.xlarge", is_instance_type_default=False).instances)
    now = datetime.now(timezone.utc)
    idle = ids[::50]
    for instance_id in idle:
        put_gpu_utilisation(moto, instance_id, [1.0, 2.0], now, every_minutes=30)
    calls = {"DescribeInstances": 0, "GetMetricData": 0}
    for service in ("ec2", "cloudwatch"):
        moto.client(service).meta.events.register(
            f"after-call.{service}", lambda model, **_: calls.__setitem__(model.name, calls.get(model.name, 0) + 1))
    monkeypatch.setattr(ec2_instances, "DESCRIBE_PAGE_SIZE", 5)

    report = reap(moto, ReaperSettings(grace_minutes=0, idle_minutes=60, period_seconds=1800, min_coverage=0.5,
                                       dry_run=False), now=now)

    assert len(ids) == 1500 and len(report.entries) == 1500
    assert sorted(e.arn for e in report.with_outcome("done")) == sorted(arn(i) for i in idle)
    assert len(report.with_outcome("reported")) == 1500 - len(idle)
    assert calls["DescribeInstances"] == 3 and calls["GetMetricData"] == 3
    stopped = moto.client("ec2").describe_instances(Filters=[{"Name": "instance-state-name", "Values": ["stopped"]}])
    assert sorted(i["InstanceId"] for r in stopped["Reservations"] for i in r["Instances"]) == sorted(idle)


def test_accelerated_type_filter_covers_the_whole_catalog(moto: AwsClients, monkeypatch: pytest.MonkeyPatch) -> None:
    """EC2 takes at most 200 filter values; the catalog's list is split, and nothing is seen twice."""
    monkeypatch.setattr(idle_gpu_reaper_handler, "MAX_FILTER_VALUES", 7)
    launched = launch(moto, "g4dn.xlarge") + launch(moto, "trn1.2xlarge") + launch(moto, "p5.48xlarge")
    found = idle_gpu_reaper_handler.running_accelerated_instances(moto)
    assert sorted(i.instance_id for i in found) == sorted(launched)
