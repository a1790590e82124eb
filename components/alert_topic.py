"""An SNS topic for AWS's own cost alerts: KMS-encrypted, with a policy that lets only the named AWS
services of this account publish, and email subscriptions. The helpers serve the components that own
a topic; AlertTopic is the stack-wide one.

AWS services that publish to an encrypted topic (Budgets, Cost Anomaly Detection) need a customer
managed key whose policy lets them use it; the AWS-managed `alias/aws/sns` key does not.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_aws as aws

from aifinops.core.estimate.declared_usage import DECLARED_USAGE, alert_topic_usage

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SERVICE_PRINCIPAL = re.compile(r"^[a-z0-9.-]+\.amazonaws\.com$")


def validate_emails(argument: str, emails: object) -> list[str]:
    if isinstance(emails, (str, bytes)) or not isinstance(emails, (list, tuple)):
        raise ValueError(f"{argument}: expected a list of email addresses, got {emails!r}")
    for index, email in enumerate(emails):
        if not isinstance(email, str) or not EMAIL_PATTERN.match(email):
            raise ValueError(f"{argument}[{index}]: expected an email address such as 'finops@example.com', got {email!r}")
    if len(set(emails)) != len(emails):
        raise ValueError(f"{argument}: expected no duplicates, got {list(emails)!r}")
    return list(emails)


def alert_key_policy(partition: str, account_id: str, services: Sequence[str]) -> str:
    """The account administers the key; the publishing services may only encrypt messages for the topic."""
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "AccountAdministersKey", "Effect": "Allow",
         "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "ServicesEncryptTopicMessages", "Effect": "Allow", "Principal": {"Service": list(services)},
         "Action": ["kms:GenerateDataKey*", "kms:Decrypt"], "Resource": "*"},
    ]})


def alert_topic_policy(topic_arn: str, account_id: str, services: Sequence[str]) -> str:
    """Only the named services, acting for this account, may publish; nothing over plain HTTP."""
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "CostServicesPublish", "Effect": "Allow", "Principal": {"Service": list(services)},
         "Action": "SNS:Publish", "Resource": topic_arn,
         "Condition": {"StringEquals": {"aws:SourceAccount": account_id}}},
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "SNS:Publish",
         "Resource": topic_arn, "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    ]})


def email_label(email: str) -> str:
    """A stable child-resource name part for an email address."""
    return re.sub(r"[^a-z0-9]+", "-", email.lower()).strip("-")


def encrypted_alert_topic(name: str, services: Sequence[str], emails: Sequence[str], description: str,
                          parent: pulumi.Resource) -> aws.sns.Topic:
    """`{name}-alerts-key`, `{name}-alerts` (topic and policy), and one `{name}-alerts-<email>` subscription each."""
    child = pulumi.ResourceOptions(parent=parent)
    invoke = pulumi.InvokeOptions(parent=parent)
    identity = aws.get_caller_identity_output(opts=invoke)
    partition = aws.get_partition_output(opts=invoke)
    key = aws.kms.Key(f"{name}-alerts-key", description=f"{description}: alerts topic encryption",
                      enable_key_rotation=True, deletion_window_in_days=30,
                      policy=pulumi.Output.all(partition.partition, identity.account_id).apply(
                          lambda values: alert_key_policy(values[0], values[1], services)),
                      opts=child)
    topic = aws.sns.Topic(f"{name}-alerts", kms_master_key_id=key.arn, opts=child)
    aws.sns.TopicPolicy(f"{name}-alerts", arn=topic.arn, policy=pulumi.Output.all(topic.arn, identity.account_id).apply(
        lambda values: alert_topic_policy(values[0], values[1], services)), opts=child)
    for email in emails:
        aws.sns.TopicSubscription(f"{name}-alerts-{email_label(email)}", topic=topic.arn, protocol="email",
                                  endpoint=email, opts=child)
    return topic


def declared_alert_usage(name: str, emails: Sequence[str], topic: Optional[aws.sns.Topic]) -> dict[str, object]:
    """The owning component's output that states the topic's usage ceiling for the estimate (an alert topic
    publishes a few times a month), so a budget over it can be proven without a usage file entry."""
    return {DECLARED_USAGE: {f"{name}-alerts": alert_topic_usage(len(emails))}} if topic is not None else {}


@dataclass
class AlertTopicArgs:
    """Arguments of AlertTopic; none is required.

    - emails: addresses subscribed (each must confirm); default none.
    - services: the AWS services that may publish (default CloudWatch alarms and EventBridge rules).
    """

    emails: Sequence[str] = ()
    services: Sequence[str] = ("cloudwatch.amazonaws.com", "events.amazonaws.com")


class AlertTopic(pulumi.ComponentResource):
    """The stack's alert topic: KMS-encrypted SNS that only the named services of this account may publish
    to (GpuInstance and GpuFleet low-utilisation alarms, say), with email subscriptions."""

    arn: pulumi.Output[str]

    def __init__(self, name: str, args: AlertTopicArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        if not isinstance(args, AlertTopicArgs):
            raise ValueError(f"args: expected AlertTopicArgs, got {type(args).__name__}")
        emails = validate_emails("emails", args.emails)
        if isinstance(args.services, (str, bytes)) or not args.services or not all(
                isinstance(s, str) and SERVICE_PRINCIPAL.match(s) for s in args.services):
            raise ValueError(f"services: expected a list of AWS service principals such as "
                             f"'cloudwatch.amazonaws.com', got {args.services!r}")
        super().__init__("aifinops:monitoring:AlertTopic", name, None, opts)
        topic = encrypted_alert_topic(name, list(args.services), emails, f"aifinops AlertTopic {name}", self)
        self.arn = topic.arn
        self.register_outputs({"arn": topic.arn, **declared_alert_usage(name, emails, topic)})
