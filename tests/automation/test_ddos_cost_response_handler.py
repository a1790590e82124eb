"""The DDoS cost response against moto: a DDoSDetected alarm scales only non-essential auto scaling groups
and SageMaker endpoint variants to their minimum, OK restores them, repeats change nothing more, dry run
changes nothing, and a throttled call is retried."""
from __future__ import annotations

import json

import pytest
from botocore.awsrequest import AWSResponse
from moto.core.botocore_stubber import MockRawResponse

from aifinops.automation.aws_clients import AwsClients
from aifinops.automation.ddos_cost_response_handler import (
    RESTORE_EVENT,
    SCALE_DOWN_EVENT,
    Capacity,
    ddos_alarms,
    decode_capacity,
    encode_capacity,
    handler,
    respond,
)
from aifinops.core.automation_settings import (
    NON_ESSENTIAL_TAG,
    PREVIOUS_CAPACITY_TAG,
    SOURCE_ATTRIBUTE,
    DdosResponseSettings,
    to_env,
)
from tests.automation.moto_helpers import ACCOUNT_ID, AMI, REGION

TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:edge-ddos-alerts"
ALB = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT_ID}:loadbalancer/app/api/50dc6c495c0c9188"
ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/sagemaker-execution"
NON_ESSENTIAL = {NON_ESSENTIAL_TAG: "true"}
AUTOSCALING_THROTTLED = (b'<ErrorResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><Error>'
                         b'<Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>'
                         b'<RequestId>r-1</RequestId></ErrorResponse>')


def alarm_event(state: str, alarm_name: str = "edge-alb-ddos-detected", metric: str = "DDoSDetected",
                namespace: str = "AWS/DDoSProtection") -> dict:
    """What SNS hands a subscribed Lambda when a CloudWatch alarm changes state (the message is JSON)."""
    message = {
        "AlarmName": alarm_name, "AlarmDescription": "Shield Advanced detected a DDoS attack", "AWSAccountId": ACCOUNT_ID,
        "NewStateValue": state, "NewStateReason": "Threshold Crossed: 1 datapoint [1.0] was >= the threshold (1.0).",
        "StateChangeTime": "2026-12-01T22:00:00.000+0000", "Region": "US East (N. Virginia)",
        "AlarmArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:{alarm_name}",
        "OldStateValue": "OK" if state == "ALARM" else "ALARM",
        "Trigger": {"MetricName": metric, "Namespace": namespace, "StatisticType": "Statistic", "Statistic": "SUM",
                    "Unit": None, "Dimensions": [{"value": ALB, "name": "ResourceArn"}], "Period": 60,
                    "EvaluationPeriods": 1, "ComparisonOperator": "GreaterThanOrEqualToThreshold", "Threshold": 1.0,
                    "TreatMissingData": "notBreaching"}}
    return {"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0", "Sns": {
        "Type": "Notification", "MessageId": f"m-{state}", "TopicArn": TOPIC, "Subject": f"{state}: {alarm_name}",
        "Message": json.dumps(message), "Timestamp": "2026-12-01T22:00:00.000Z", "MessageAttributes": {}}}]}


def one_alarm(state: str, **kwargs):
    alarms, ignored = ddos_alarms(alarm_event(state, **kwargs))
    assert len(alarms) == 1, ignored
    return alarms[0]


def groups(clients: AwsClients) -> dict[str, dict]:
    found = clients.client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
    return {g["AutoScalingGroupName"]: {"desired": g["DesiredCapacity"], "max": g["MaxSize"], "min": g["MinSize"],
                                        "tags": {t["Key"]: t["Value"] for t in g.get("Tags", [])}} for g in found}


def variant(clients: AwsClients, endpoint: str) -> tuple[int, int]:
    """(desired instance count, scalable target max) of the endpoint's only variant."""
    (described,) = clients.client("sagemaker").describe_endpoint(EndpointName=endpoint)["ProductionVariants"]
    targets = clients.client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace="sagemaker", ResourceIds=[f"endpoint/{endpoint}/variant/AllTraffic"])["ScalableTargets"]
    return described["DesiredInstanceCount"], targets[0]["MaxCapacity"]


def endpoint_tags(clients: AwsClients, endpoint: str) -> dict[str, str]:
    arn = clients.client("sagemaker").describe_endpoint(EndpointName=endpoint)["EndpointArn"]
    return {t["Key"]: t["Value"] for t in clients.client("sagemaker").list_tags(ResourceArn=arn)["Tags"]}


@pytest.fixture
def estate(moto: AwsClients) -> AwsClients:
    """Two auto scaling groups scaled out (one non-essential), and two endpoints at 4 instances of 1..8
    (one non-essential), each with an Application Auto Scaling target."""
    ec2, autoscaling, sagemaker = moto.client("ec2"), moto.client("autoscaling"), moto.client("sagemaker")
    scaling = moto.client("application-autoscaling")
    ec2.create_launch_template(LaunchTemplateName="gpu-lt", LaunchTemplateData={"ImageId": AMI, "InstanceType": "g5.xlarge"})
    for name, tags in (("batch-embeddings", NON_ESSENTIAL), ("serving", {"Project": "llm-api"})):
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=name, LaunchTemplate={"LaunchTemplateName": "gpu-lt"}, MinSize=1, MaxSize=8,
            DesiredCapacity=5, AvailabilityZones=[f"{REGION}a"],
            Tags=[{"Key": k, "Value": v, "PropagateAtLaunch": True} for k, v in tags.items()])
    sagemaker.create_model(ModelName="llm", ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/llm:1", "ModelDataUrl": "s3://models/llm/model.tar.gz"})
    for name, tags in (("llm-shadow", NON_ESSENTIAL), ("llm-prod", {"Project": "llm-api"})):
        sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": "llm", "InitialInstanceCount": 4, "InstanceType": "ml.g4dn.xlarge",
            "InitialVariantWeight": 1.0}])
        sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name,
                                  Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
        scaling.register_scalable_target(ServiceNamespace="sagemaker", ResourceId=f"endpoint/{name}/variant/AllTraffic",
                                         ScalableDimension="sagemaker:variant:DesiredInstanceCount",
                                         MinCapacity=1, MaxCapacity=8)
    return moto


def test_an_attack_scales_only_the_non_essential_services_to_their_minimum(estate: AwsClients) -> None:
    report = respond(estate, DdosResponseSettings(dry_run=False), one_alarm("ALARM"))

    found = groups(estate)
    assert (found["batch-embeddings"]["desired"], found["batch-embeddings"]["max"]) == (1, 1)
    assert found["batch-embeddings"]["tags"][PREVIOUS_CAPACITY_TAG] == "group=5/8"
    assert (found["serving"]["desired"], found["serving"]["max"]) == (5, 8)
    assert PREVIOUS_CAPACITY_TAG not in found["serving"]["tags"]
    assert variant(estate, "llm-shadow") == (1, 1)
    assert endpoint_tags(estate, "llm-shadow")[PREVIOUS_CAPACITY_TAG] == "AllTraffic=4/8"
    assert variant(estate, "llm-prod") == (4, 8) and PREVIOUS_CAPACITY_TAG not in endpoint_tags(estate, "llm-prod")
    done = report.with_outcome("done")
    assert sorted(e.arn.rsplit("/", 1)[-1] for e in done) == ["batch-embeddings", "llm-shadow"]
    assert {e.action for e in done} == {"scale-down"}
    assert all("edge-alb-ddos-detected is ALARM for " + ALB == e.reason for e in done)


def test_ok_restores_what_was_recorded_and_removes_the_record(estate: AwsClients) -> None:
    settings = DdosResponseSettings(dry_run=False)
    respond(estate, settings, one_alarm("ALARM"))

    report = respond(estate, settings, one_alarm("OK"))

    found = groups(estate)
    assert (found["batch-embeddings"]["desired"], found["batch-embeddings"]["max"]) == (5, 8)
    assert PREVIOUS_CAPACITY_TAG not in found["batch-embeddings"]["tags"]
    assert variant(estate, "llm-shadow") == (4, 8) and PREVIOUS_CAPACITY_TAG not in endpoint_tags(estate, "llm-shadow")
    assert sorted(e.action for e in report.with_outcome("done")) == ["restore", "restore"]
    assert (found["serving"]["desired"], found["serving"]["max"]) == (5, 8)


def test_repeated_alarms_do_nothing_more(estate: AwsClients) -> None:
    settings = DdosResponseSettings(dry_run=False)
    respond(estate, settings, one_alarm("ALARM"))
    after_first = (groups(estate), variant(estate, "llm-shadow"), endpoint_tags(estate, "llm-shadow"))

    again = respond(estate, settings, one_alarm("ALARM"))

    assert again.with_outcome("done") == [] and len(again.with_outcome("skipped")) == 2
    assert all("already scaled down" in e.reason for e in again.with_outcome("skipped"))
    assert (groups(estate), variant(estate, "llm-shadow"), endpoint_tags(estate, "llm-shadow")) == after_first
    respond(estate, settings, one_alarm("OK"))
    restored = groups(estate)
    second_ok = respond(estate, settings, one_alarm("OK"))
    assert second_ok.entries == [] and groups(estate) == restored  # nothing left to restore


def test_dry_run_is_the_default_and_changes_nothing(estate: AwsClients) -> None:
    before = (groups(estate), variant(estate, "llm-shadow"), endpoint_tags(estate, "llm-shadow"))

    report = respond(estate, DdosResponseSettings(kubernetes_event_bus="default"), one_alarm("ALARM"))

    assert report.dry_run is True
    planned = report.with_outcome("dry-run")
    assert sorted(e.action for e in planned) == ["notify-kubernetes", "scale-down", "scale-down"]
    assert {e.detail.get("previous") for e in planned if e.action == "scale-down"} == {"group=5/8", "AllTraffic=4/8"}
    assert (groups(estate), variant(estate, "llm-shadow"), endpoint_tags(estate, "llm-shadow")) == before


def test_ok_waits_while_another_protected_resource_is_still_under_attack(estate: AwsClients) -> None:
    cloudwatch = estate.client("cloudwatch")
    for name in ("edge-alb-ddos-detected", "edge-eip-ddos-detected"):
        cloudwatch.put_metric_alarm(AlarmName=name, Namespace="AWS/DDoSProtection", MetricName="DDoSDetected",
                                    Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1,
                                    ComparisonOperator="GreaterThanOrEqualToThreshold")
    cloudwatch.set_alarm_state(AlarmName="edge-eip-ddos-detected", StateValue="ALARM", StateReason="attack")
    settings = DdosResponseSettings(alarm_names=("edge-alb-ddos-detected", "edge-eip-ddos-detected"), dry_run=False)
    respond(estate, settings, one_alarm("ALARM"))

    report = respond(estate, settings, one_alarm("OK"))

    assert [(e.action, e.outcome) for e in report.entries] == [("restore", "skipped")]
    assert "edge-eip-ddos-detected still in ALARM" in report.entries[0].reason
    assert groups(estate)["batch-embeddings"]["desired"] == 1
    other = respond(estate, settings, one_alarm("ALARM", alarm_name="someone-elses-alarm"))
    assert [e.outcome for e in other.entries] == ["skipped"]


def test_a_throttled_call_is_retried(estate: AwsClients, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first DescribeAutoScalingGroups comes back throttled (a real HTTP 400 in front of moto);
    botocore's standard retry mode backs off and retries, and the group is scaled down all the same."""
    autoscaling = estate.client("autoscaling")
    assert autoscaling.meta.config.retries["mode"] == "standard"
    attempts = []

    def throttle_first(request, **_):
        attempts.append(request.url)
        return AWSResponse(request.url, 400, {}, MockRawResponse(AUTOSCALING_THROTTLED)) if len(attempts) == 1 else None

    autoscaling.meta.events.register_first("before-send.autoscaling.DescribeAutoScalingGroups", throttle_first)
    backoffs = []
    monkeypatch.setattr("botocore.endpoint.time.sleep", backoffs.append)

    report = respond(estate, DdosResponseSettings(dry_run=False, scale_sagemaker_endpoints=False), one_alarm("ALARM"))

    assert len(attempts) == 2 and len(backoffs) == 1
    assert [e.arn.rsplit("/", 1)[-1] for e in report.with_outcome("done")] == ["batch-embeddings"]
    assert groups(estate)["batch-embeddings"]["desired"] == 1


def test_handler_reads_settings_from_the_environment_and_sends_the_kubernetes_hook(
        estate: AwsClients, monkeypatch: pytest.MonkeyPatch) -> None:
    events = estate.client("events")
    events.create_event_bus(Name="cluster-hooks")
    queue_url = estate.client("sqs").create_queue(QueueName="hook")["QueueUrl"]
    queue_arn = estate.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    events.put_rule(Name="ddos", EventBusName="cluster-hooks",
                    EventPattern=json.dumps({"source": ["aifinops.ddos-cost-response"]}))
    events.put_targets(Rule="ddos", EventBusName="cluster-hooks", Targets=[{"Id": "q", "Arn": queue_arn}])
    settings = DdosResponseSettings(kubernetes_event_bus="cluster-hooks", scale_sagemaker_endpoints=False,
                                    dry_run=False)
    for name, value in to_env(settings).items():
        monkeypatch.setenv(name, value)

    result = handler(alarm_event("ALARM"), None)
    handler(alarm_event("OK"), None)

    (alarm,) = result["alarms"]
    assert alarm["state"] == "ALARM" and alarm["counts"]["done"] == 2
    messages = estate.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    delivered = [json.loads(m["Body"]) for m in messages]
    assert [d["detail-type"] for d in delivered] == [SCALE_DOWN_EVENT, RESTORE_EVENT]
    assert delivered[0]["detail"] == {"alarmName": "edge-alb-ddos-detected", "state": "ALARM",
                                      "resourceArns": [ALB], "dryRun": False}
    assert groups(estate)["batch-embeddings"]["desired"] == 5


def test_only_ddos_alarm_notifications_are_acted_on() -> None:
    own = alarm_event("ALARM")
    own["Records"][0]["Sns"]["MessageAttributes"] = {SOURCE_ATTRIBUTE: {"Type": "String", "Value": "ddos-cost-response"}}
    text = alarm_event("ALARM")
    text["Records"][0]["Sns"]["Message"] = "AWS Budget Notification"
    for event, reason in ((own, "our own summary"), (text, "not JSON"),
                          (alarm_event("ALARM", metric="CPUUtilization", namespace="AWS/EC2"), "not AWS/DDoSProtection"),
                          ({"detail-type": "Scheduled Event"}, "no SNS Records")):
        alarms, ignored = ddos_alarms(event)
        assert alarms == [] and reason in ignored[0]


def test_the_capacity_record_round_trips_and_rejects_what_it_did_not_write() -> None:
    record = {"AllTraffic": Capacity(4, 8), "canary": Capacity(2, None)}
    assert encode_capacity(record) == "AllTraffic=4/8 canary=2/-"
    assert decode_capacity(encode_capacity(record)) == record
    for bad in ("", "{\"desired\": 4}", "AllTraffic=four/8"):
        with pytest.raises(ValueError, match=PREVIOUS_CAPACITY_TAG):
            decode_capacity(bad)


@pytest.mark.parametrize("kwargs, message", [
    (dict(non_essential_tag="non essential"), "non_essential_tag: expected a tag key"),
    (dict(alarm_names="edge"), "alarm_names: expected a list"),
    (dict(kubernetes_event_bus="my bus"), "kubernetes_event_bus: expected an EventBridge bus"),
    (dict(summary_topic_arn="arn:aws:sqs:us-east-1:123456789012:q"), "summary_topic_arn: expected an ARN of the sns"),
    (dict(dry_run="no"), "dry_run: expected true or false"),
])
def test_bad_settings_name_the_setting(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        DdosResponseSettings(**kwargs)
