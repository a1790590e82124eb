"""Helpers for the automation tests: launch instances, inject GPU metrics as the CloudWatch agent
publishes them, read what SNS delivered, and build the events Lambda receives."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any, Optional, Sequence

from aifinops.automation.aws_clients import AwsClients
from aifinops.core.automation_settings import NVIDIA_SMI_METRIC

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
AMI = "ami-12c6146b"


def launch(clients: AwsClients, instance_type: str, count: int = 1, tags: Optional[dict[str, str]] = None) -> list[str]:
    """Run `count` instances; their ids."""
    arguments: dict[str, Any] = {"ImageId": AMI, "MinCount": count, "MaxCount": count, "InstanceType": instance_type}
    if tags:
        arguments["TagSpecifications"] = [{"ResourceType": "instance",
                                           "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]
    return [i["InstanceId"] for i in clients.client("ec2").run_instances(**arguments)["Instances"]]


def put_gpu_utilisation(clients: AwsClients, instance_id: str, values: Sequence[float], now: datetime,
                        every_minutes: int = 5) -> None:
    """Publish `values` (oldest first, one per `every_minutes`, the last a minute before `now`), as the
    CloudWatch agent's nvidia_gpu plugin does with aggregation on InstanceId."""
    namespace, name = NVIDIA_SMI_METRIC
    points = [{"MetricName": name, "Dimensions": [{"Name": "InstanceId", "Value": instance_id}], "Unit": "Percent",
               "Timestamp": now - timedelta(minutes=1 + every_minutes * (len(values) - 1 - i)), "Value": float(v)}
              for i, v in enumerate(values)]
    for start in range(0, len(points), 1000):
        clients.client("cloudwatch").put_metric_data(Namespace=namespace, MetricData=points[start:start + 1000])


def instance_states(clients: AwsClients) -> dict[str, str]:
    pages = clients.client("ec2").get_paginator("describe_instances").paginate()
    return {i["InstanceId"]: i["State"]["Name"] for p in pages for r in p["Reservations"] for i in r["Instances"]}


def instance_tags(clients: AwsClients, instance_id: str) -> dict[str, str]:
    reservations = clients.client("ec2").describe_instances(InstanceIds=[instance_id])["Reservations"]
    return {t["Key"]: t["Value"] for t in reservations[0]["Instances"][0].get("Tags", [])}


def subscribed_queue(clients: AwsClients, topic_arn: str) -> str:
    """An SQS queue subscribed to the topic (raw delivery off: SNS JSON envelopes); its URL."""
    queue_url = clients.client("sqs").create_queue(QueueName="summaries")["QueueUrl"]
    queue_arn = clients.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    clients.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return queue_url


def received(clients: AwsClients, queue_url: str) -> list[dict[str, Any]]:
    messages = clients.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def scheduled_event(rule_arn: str = f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/gpu-reaper-schedule") -> dict[str, Any]:
    """What EventBridge sends a Lambda target for a schedule rule."""
    now = datetime.now(timezone.utc)
    return {"version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event",
            "source": "aws.events", "account": ACCOUNT_ID, "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION, "resources": [rule_arn], "detail": {}}


def budget_notification_event(budget_name: str, topic_arn: str, alert_type: str = "ACTUAL",
                              message_id: str = "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
                              threshold_usd: str = "1,500.00") -> dict[str, Any]:
    """What SNS hands a subscribed Lambda when AWS Budgets publishes an alert (the message is plain text).
    The budget is $1,500; the default threshold is all of it."""
    message = (
        "AWS Budget Notification November 27, 2026\n"
        f"AWS Account {ACCOUNT_ID}\n\n"
        "Dear AWS Customer,\n\n"
        f"You requested that we alert you when the {alert_type} Cost associated with your {budget_name} budget is "
        f"greater than ${threshold_usd} for the current month. The {alert_type} Cost associated with this budget is "
        "$1,554.17. You can find additional details below and by accessing the AWS Budgets dashboard [1].\n\n"
        f"Budget Name: {budget_name}\n"
        "Budget Type: Cost\n"
        "Budgeted Amount: $1,500.00\n"
        f"Alert Type: {alert_type}\n"
        f"Alert Threshold: > ${threshold_usd}\n"
        f"{alert_type} Amount: $1,554.17\n\n"
        "[1] https://console.aws.amazon.com/billing/home#/budgets\n")
    return {"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0",
        "EventSubscriptionArn": f"{topic_arn}:21be56ed-a058-49f5-8c98-aedd2564c486",
        "Sns": {"Type": "Notification", "MessageId": message_id, "TopicArn": topic_arn,
                "Subject": f"AWS Budgets: {budget_name} has exceeded your alert threshold", "Message": message,
                "Timestamp": "2026-11-27T09:00:00.000Z", "SignatureVersion": "1", "Signature": "EXAMPLE",
                "SigningCertUrl": "EXAMPLE", "UnsubscribeUrl": "EXAMPLE", "MessageAttributes": {}},
    }]}


def serving_endpoint(clients: AwsClients, model: str, invocations: Sequence[tuple[datetime, float]],
                     tag_key: str = "ModelVersion") -> str:
    """A SageMaker endpoint `<model>-live` tagged with its model version, and its Invocations in CloudWatch
    (one datapoint per (time, count)), as SageMaker publishes them per endpoint and variant."""
    sagemaker, cloudwatch = clients.client("sagemaker"), clients.client("cloudwatch")
    sagemaker.create_model(ModelName=model, ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/serving",
                           PrimaryContainer={"Image": "serving:latest"})
    sagemaker.create_endpoint_config(EndpointConfigName=model, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": model, "InitialInstanceCount": 1, "InstanceType": "ml.g4dn.xlarge"}])
    endpoint = f"{model}-live"
    sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=model, Tags=[{"Key": tag_key, "Value": model}])
    cloudwatch.put_metric_data(Namespace="AWS/SageMaker", MetricData=[{
        "MetricName": "Invocations", "Unit": "None", "Value": float(count), "Timestamp": at,
        "Dimensions": [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": "AllTraffic"}],
    } for at, count in invocations])
    return endpoint
