"""The budget guard: alerts parsed from real SNS event shapes, tagged EC2 instances and SageMaker training
jobs stopped (never deleted), repeated alerts harmless, summaries on SNS."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import boto3
import pytest
from botocore.stub import Stubber
from moto.sagemaker.models import sagemaker_backends

from aifinops.automation.aws_clients import AwsClients
from aifinops.automation.budget_alerts import budget_alerts, parse_alert, threshold_percent
from aifinops.automation.budget_guard_handler import budget_tag_filter, guard, handler
from aifinops.automation.ec2_instances import instance_arn
from aifinops.core.automation_settings import (
    OPT_OUT_TAG,
    SOURCE_ATTRIBUTE,
    STOPPED_BY_TAG,
    GuardSettings,
    env_name,
    to_env,
)
from tests.automation.moto_helpers import (
    ACCOUNT_ID,
    AMI,
    REGION,
    budget_notification_event,
    instance_states,
    instance_tags,
    launch,
    received,
    subscribed_queue,
)

BUDGET = "llm-finetune-dev"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:llm-finetune-dev-alerts"
TEAM = {"Project": "llm-finetune"}


def arn(instance_id: str) -> str:
    return instance_arn("aws", REGION, ACCOUNT_ID, instance_id)


def alert(event: dict):
    alerts, ignored = budget_alerts(event)
    assert len(alerts) == 1, ignored
    return alerts[0]


# -- alerts -------------------------------------------------------------------------------------------
def test_budget_notification_text_is_parsed() -> None:
    found = alert(budget_notification_event(BUDGET, TOPIC, "FORECASTED", threshold_usd="1,200.00"))
    assert (found.budget_name, found.alert_type, found.topic_arn, found.account_id, found.threshold_percent) == \
        (BUDGET, "FORECASTED", TOPIC, ACCOUNT_ID, 1200 / 1500 * 100)


def test_threshold_is_read_as_a_share_of_the_budget() -> None:
    assert threshold_percent("> 80%", None) == 80
    assert threshold_percent("> $1,200.00", "$1,500.00") == 80
    assert threshold_percent("> $300", "$0.00") is None and threshold_percent(None, "$10") is None


def test_anything_that_is_not_a_budget_alert_is_ignored() -> None:
    event = budget_notification_event(BUDGET, TOPIC)
    own = json.loads(json.dumps(event))
    own["Records"][0]["Sns"]["MessageAttributes"] = {SOURCE_ATTRIBUTE: {"Type": "String", "Value": "budget-guard"}}
    other = json.loads(json.dumps(event))
    other["Records"][0]["Sns"]["Message"] = "Budget Name: prod\nsomeone typed this by hand"
    other["Records"][0]["Sns"]["Subject"] = "hello"
    for ignored_event, reason in ((own, "our own summary"), (other, "not an AWS Budgets notification"),
                                  ({"detail-type": "Scheduled Event"}, "no SNS Records")):
        alerts, ignored = budget_alerts(ignored_event)
        assert alerts == [] and reason in ignored[0]


def test_json_alerts_are_read_too() -> None:
    found = parse_alert(json.dumps({"budgetName": BUDGET, "notificationType": "ACTUAL"}), "", TOPIC, "m-1")
    assert found is not None and (found.budget_name, found.alert_type) == (BUDGET, "ACTUAL")


def test_budget_tag_filters_in_both_forms() -> None:
    assert budget_tag_filter({"CostFilters": {"TagKeyValue": ["user:Project$llm-finetune", "user:Project$eval"]}}) \
        == {"Project": ("llm-finetune", "eval")}
    expression = {"And": [{"Tags": {"Key": "Project", "Values": ["llm-finetune"], "MatchOptions": ["EQUALS"]}},
                          {"Dimensions": {"Key": "SERVICE", "Values": ["Amazon Elastic Compute Cloud - Compute"]}}]}
    assert budget_tag_filter({"FilterExpression": expression}) == {"Project": ("llm-finetune",)}
    assert budget_tag_filter({"FilterExpression": {"Tags": {"Key": "Project", "Values": ["x"],
                                                            "MatchOptions": ["ABSENT"]}}}) == {}


# -- EC2 in-process -----------------------------------------------------------------------------------
def team_fleet(clients: AwsClients) -> dict[str, str]:
    """Running instances: the team's (GPU and CPU), another team's, an opted-out one, an ASG member."""
    ec2, autoscaling = clients.client("ec2"), clients.client("autoscaling")
    ec2.create_launch_template(LaunchTemplateName="team-lt", LaunchTemplateData={
        "ImageId": AMI, "InstanceType": "g5.xlarge",
        "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "Project", "Value": "llm-finetune"}]}]})
    autoscaling.create_auto_scaling_group(AutoScalingGroupName="team-asg", LaunchTemplate={"LaunchTemplateName": "team-lt"},
                                          MinSize=1, MaxSize=1, AvailabilityZones=[f"{REGION}a"])
    member = autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"][0]["Instances"][0]["InstanceId"]
    return {"gpu": launch(clients, "p4d.24xlarge", tags=TEAM)[0], "cpu": launch(clients, "m5.large", tags=TEAM)[0],
            "other": launch(clients, "g5.xlarge", tags={"Project": "search"})[0],
            "opted": launch(clients, "g5.xlarge", tags={**TEAM, OPT_OUT_TAG: "demo day"})[0], "member": member}


def test_guard_stops_the_budgets_instances_once(moto: AwsClients, monkeypatch: pytest.MonkeyPatch) -> None:
    fleet = team_fleet(moto)
    topic = moto.client("sns").create_topic(Name="llm-finetune-dev-alerts")["TopicArn"]
    queue = subscribed_queue(moto, topic)
    settings = GuardSettings(cost_tags=TEAM, budget_names=(BUDGET,), topic_arns=(topic,), stop_training_jobs=False,
                             dry_run=False)
    for name, value in to_env(settings).items():
        monkeypatch.setenv(name, value)
    event = budget_notification_event(BUDGET, topic)

    first = handler(event, None)["alerts"][0]

    states = instance_states(moto)
    assert states[fleet["gpu"]] == states[fleet["cpu"]] == "stopped"
    assert all(states[fleet[k]] == "running" for k in ("other", "opted", "member"))
    outcomes = {e["arn"]: e["outcome"] for e in first["entries"]}
    assert outcomes == {arn(fleet["gpu"]): "done", arn(fleet["cpu"]): "done", arn(fleet["opted"]): "skipped",
                        arn(fleet["member"]): "reported"}
    assert instance_tags(moto, fleet["gpu"])[STOPPED_BY_TAG] == "budget-guard"
    (summary,) = received(moto, queue)
    assert arn(fleet["gpu"]) in summary["Message"] and BUDGET in summary["Subject"]
    assert summary["MessageAttributes"][SOURCE_ATTRIBUTE]["Value"] == "budget-guard"

    second = handler(event, None)["alerts"][0]  # SNS redelivers, or the next threshold fires

    assert second["counts"]["done"] == 0 and received(moto, queue) == []
    assert instance_states(moto) == states


def test_alerts_the_guard_does_not_own_change_nothing(moto: AwsClients) -> None:
    team_fleet(moto)
    settings = GuardSettings(cost_tags=TEAM, budget_names=(BUDGET,), topic_arns=(TOPIC,), stop_training_jobs=False,
                             dry_run=False)
    cases = {"other budget": budget_notification_event("prod-inference", TOPIC),
             "forecast": budget_notification_event(BUDGET, TOPIC, "FORECASTED"),
             "other topic": budget_notification_event(BUDGET, TOPIC.replace("alerts", "other")),
             "early warning": budget_notification_event(BUDGET, TOPIC, threshold_usd="1,200.00")}
    for label, event in cases.items():
        report = guard(moto, settings, alert(event))
        assert [e.outcome for e in report.entries] == ["skipped"], label
    assert set(instance_states(moto).values()) == {"running"}


def test_early_warnings_act_only_when_the_guard_is_told_to(moto: AwsClients) -> None:
    fleet = team_fleet(moto)
    early = alert(budget_notification_event(BUDGET, TOPIC, threshold_usd="1,200.00"))
    skipped = guard(moto, GuardSettings(cost_tags=TEAM, stop_training_jobs=False, dry_run=False), early)
    assert [e.reason for e in skipped.entries] == ["alert at 80% of the budget; this guard acts from 100%"]

    acted = guard(moto, GuardSettings(cost_tags=TEAM, stop_training_jobs=False, dry_run=False,
                                      min_threshold_percent=80), early)
    assert {e.arn for e in acted.with_outcome("done")} == {arn(fleet["gpu"]), arn(fleet["cpu"])}


def test_dry_run_is_the_default(moto: AwsClients) -> None:
    fleet = team_fleet(moto)
    report = guard(moto, GuardSettings(cost_tags=TEAM, stop_training_jobs=False), alert(budget_notification_event(BUDGET, TOPIC)))
    assert {e.arn for e in report.with_outcome("dry-run")} == {arn(fleet["gpu"]), arn(fleet["cpu"])}
    assert set(instance_states(moto).values()) == {"running"}


def test_cost_tags_come_from_the_budget_when_not_configured(moto: AwsClients) -> None:
    fleet = team_fleet(moto)
    budgets = moto.client("budgets")
    for name, filters in ((BUDGET, {"TagKeyValue": ["user:Project$llm-finetune"]}), ("account-wide", {})):
        budgets.create_budget(AccountId=ACCOUNT_ID, Budget={
            "BudgetName": name, "BudgetLimit": {"Amount": "1500", "Unit": "USD"}, "TimeUnit": "MONTHLY",
            "BudgetType": "COST", "CostFilters": filters})
    settings = GuardSettings(stop_training_jobs=False, dry_run=False)

    refused = guard(moto, settings, alert(budget_notification_event("account-wide", TOPIC)))
    assert [e.outcome for e in refused.entries] == ["failed"] and "refusing" in refused.entries[0].reason
    assert set(instance_states(moto).values()) == {"running"}

    report = guard(moto, settings, alert(budget_notification_event(BUDGET, TOPIC)))
    assert {e.arn for e in report.with_outcome("done")} == {arn(fleet["gpu"]), arn(fleet["cpu"])}


# -- SageMaker ----------------------------------------------------------------------------------------
def training_job(name: str) -> dict:
    return {"TrainingJobName": name, "TrainingJobArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:training-job/{name}",
            "CreationTime": datetime(2026, 11, 27, tzinfo=timezone.utc), "TrainingJobStatus": "InProgress"}


def test_training_jobs_with_the_cost_tags_are_stopped_and_a_throttled_stop_fails_alone() -> None:
    """botocore's Stubber plays SageMaker (moto does not implement StopTrainingJob). A ThrottlingException
    that outlasts the retries fails that one job; the guard goes on to the next."""
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    clients = AwsClients(region=REGION)
    clients.use("sagemaker", sagemaker)
    jobs = [training_job(n) for n in ("run-41", "search-7", "run-42-demo", "run-43")]
    tags = {"run-41": TEAM, "search-7": {"Project": "search"}, "run-42-demo": {**TEAM, OPT_OUT_TAG: "yes"}, "run-43": TEAM}
    with Stubber(sagemaker) as stub:
        stub.add_response("list_training_jobs", {"TrainingJobSummaries": jobs}, {"StatusEquals": "InProgress"})
        for job in jobs:
            name = job["TrainingJobName"]
            stub.add_response("list_tags", {"Tags": [{"Key": k, "Value": v} for k, v in tags[name].items()]},
                              {"ResourceArn": job["TrainingJobArn"]})
            if name == "run-41":
                stub.add_client_error("stop_training_job", service_error_code="ThrottlingException",
                                      service_message="Rate exceeded", http_status_code=400,
                                      expected_params={"TrainingJobName": name})
            elif name == "run-43":
                stub.add_response("stop_training_job", {}, {"TrainingJobName": name})

        report = guard(clients, GuardSettings(cost_tags=TEAM, stop_instances=False, dry_run=False),
                       alert(budget_notification_event(BUDGET, TOPIC)))

        stub.assert_no_pending_responses()
    outcomes = {e.arn.rsplit("/", 1)[1]: (e.outcome, e.reason) for e in report.entries}
    assert outcomes["run-41"] == ("failed", "ThrottlingException: Rate exceeded")
    assert outcomes["run-43"][0] == "done" and outcomes["run-42-demo"][0] == "skipped"
    assert "search-7" not in outcomes


def test_instances_that_cannot_be_listed_do_not_stop_the_training_job_stops() -> None:
    ec2, sagemaker = boto3.client("ec2", region_name=REGION), boto3.client("sagemaker", region_name=REGION)
    clients = AwsClients(region=REGION)
    clients.use("ec2", ec2)
    clients.use("sagemaker", sagemaker)
    job = training_job("run-50")
    with Stubber(ec2) as ec2_stub, Stubber(sagemaker) as sagemaker_stub:
        ec2_stub.add_client_error("describe_instances", "UnauthorizedOperation", "not authorized", 403)
        sagemaker_stub.add_response("list_training_jobs", {"TrainingJobSummaries": [job]})
        sagemaker_stub.add_response("list_tags", {"Tags": [{"Key": "Project", "Value": "llm-finetune"}]})
        sagemaker_stub.add_response("stop_training_job", {}, {"TrainingJobName": "run-50"})

        report = guard(clients, GuardSettings(cost_tags=TEAM, dry_run=False), alert(budget_notification_event(BUDGET, TOPIC)))

        sagemaker_stub.assert_no_pending_responses()
    assert [(e.action, e.outcome) for e in report.entries] == [("list-instances", "failed"), ("stop", "done")]
    assert report.entries[0].reason == "UnauthorizedOperation: not authorized"
    assert report.entries[0].arn == f"arn:aws:budgets::{ACCOUNT_ID}:budget/{BUDGET}"
    assert report.entries[1].arn == job["TrainingJobArn"]


def test_handler_against_a_moto_server(server_clients: AwsClients, moto_server: str,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Over HTTP: training jobs made with the API and put in progress in moto's state (moto makes every
    job Completed at once); moto has no StopTrainingJob, so those stops fail one by one while the EC2
    stops go through, and the summary on SNS says both."""
    sagemaker = server_clients.client("sagemaker")
    for name, project in (("run-7", "llm-finetune"), ("search-1", "search")):
        sagemaker.create_training_job(
            TrainingJobName=name, RoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/trainer",
            AlgorithmSpecification={"TrainingImage": "trainer:latest", "TrainingInputMode": "File"},
            OutputDataConfig={"S3OutputPath": "s3://checkpoints/out"}, StoppingCondition={"MaxRuntimeInSeconds": 86400},
            ResourceConfig={"InstanceType": "ml.p3.2xlarge", "InstanceCount": 1, "VolumeSizeInGB": 100},
            Tags=[{"Key": "Project", "Value": project}])
        sagemaker_backends[ACCOUNT_ID][REGION].training_jobs[name].training_job_status = "InProgress"
    (gpu,) = launch(server_clients, "g6e.xlarge", tags=TEAM)
    topic = server_clients.client("sns").create_topic(Name="llm-finetune-dev-alerts")["TopicArn"]
    queue = subscribed_queue(server_clients, topic)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    for name, value in to_env(GuardSettings(cost_tags=TEAM, dry_run=False)).items():
        monkeypatch.setenv(name, value)

    result = handler(budget_notification_event(BUDGET, topic), None)["alerts"][0]

    outcomes = {e["arn"]: e["outcome"] for e in result["entries"]}
    assert outcomes == {arn(gpu): "done", f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:training-job/run-7": "failed"}
    assert instance_states(server_clients)[gpu] == "stopped"
    (summary,) = received(server_clients, queue)
    assert arn(gpu) in summary["Message"] and "training-job/run-7" in summary["Message"]


@pytest.mark.parametrize("settings, message", [
    ({"cost_tags": {"Project": []}}, "cost_tags.Project: expected a list of non-empty strings with at least 1 item"),
    ({"cost_tags": "Project=x"}, "cost_tags: expected a mapping of tag keys"),
    ({"alert_types": ("ACTUAL", "LATE")}, "alert_types: expected one of 'ACTUAL', 'FORECASTED', got 'LATE'"),
    ({"topic_arns": ("arn:aws:sqs:us-east-1:123456789012:q",)}, "topic_arns[0]: expected an ARN of the sns service"),
    ({"dry_run": "no"}, "dry_run: expected true or false, got 'no'"),
    ({"min_threshold_percent": -5}, "min_threshold_percent: expected a number in [0, 1000], got -5"),
])
def test_bad_settings_are_rejected(settings: dict, message: str) -> None:
    with pytest.raises(ValueError) as error:
        GuardSettings(**settings)
    assert message in str(error.value)


def test_bad_environment_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(env_name("cost_tags"), "Project=x")
    with pytest.raises(ValueError, match=r"AIFINOPS_COST_TAGS: expected JSON \(an object\), got 'Project=x'"):
        handler(budget_notification_event(BUDGET, TOPIC), None)
