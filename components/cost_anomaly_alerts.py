"""CostAnomalyAlerts: AWS Cost Anomaly Detection watching this platform's spend, alerting by SNS and/or email.

The monitor watches either every AWS service (one DIMENSIONAL SERVICE monitor per account is allowed) or
the spend carrying a cost-allocation tag value (a CUSTOM monitor). Cost Anomaly Detection is free.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from aifinops.core.argument_checks import one_of, positive_number, string_list

from .alert_topic import declared_alert_usage, encrypted_alert_topic, validate_emails
from .gpu_instance import validate_tags

TYPE_TOKEN = "aifinops:cost:CostAnomalyAlerts"
ANOMALY_SERVICE = "costalerts.amazonaws.com"
FREQUENCIES = ("IMMEDIATE", "DAILY", "WEEKLY")


@dataclass
class CostAnomalyAlertsArgs:
    """Arguments of CostAnomalyAlerts. Nothing is required.

    - monitor: 'service' (default) watches each AWS service's spend; 'tag' watches the spend carrying
      `tag_key` with one of `tag_values` (both required then).
    - threshold_usd: alert when an anomaly's total impact is at least this many dollars (default 100);
      threshold_percent: ... at least this percent above expected (default None). With both, both must hold
      (fewer, surer alerts); at least one is required.
    - frequency: 'IMMEDIATE' (default) sends each anomaly as found, through the SNS topic; 'DAILY' or 'WEEKLY'
      send digests. AWS delivers IMMEDIATE alerts only to SNS, so emails are then subscribed to the topic.
    - emails: addresses to alert (default none). sns_topic: default True, a KMS-encrypted topic that only
      Cost Anomaly Detection for this account may publish to.
    """

    monitor: str = "service"
    tag_key: Optional[str] = None
    tag_values: Sequence[str] = ()
    threshold_usd: Optional[float] = 100.0
    threshold_percent: Optional[float] = None
    frequency: str = "IMMEDIATE"
    emails: Sequence[str] = ()
    sns_topic: bool = True
    tags: Mapping[str, str] = field(default_factory=dict)


def threshold_expression(threshold_usd: Optional[float], threshold_percent: Optional[float]) -> dict[str, object]:
    """Impact >= $X and/or >= Y%, as the subscription's threshold expression."""
    parts = []
    for dimension, value in (("ANOMALY_TOTAL_IMPACT_ABSOLUTE", threshold_usd),
                             ("ANOMALY_TOTAL_IMPACT_PERCENTAGE", threshold_percent)):
        if value is not None:
            parts.append({"dimension": {"key": dimension, "match_options": ["GREATER_THAN_OR_EQUAL"],
                                        "values": [f"{value:g}"]}})
    return parts[0] if len(parts) == 1 else {"ands": parts}


def tag_monitor_specification(tag_key: str, tag_values: Sequence[str]) -> str:
    return json.dumps({"Tags": {"Key": tag_key, "Values": list(tag_values), "MatchOptions": ["EQUALS"]}})


class CostAnomalyAlerts(pulumi.ComponentResource):
    """An anomaly monitor and a subscription that alerts through an encrypted topic and/or email."""

    monitor_arn: pulumi.Output[str]
    topic_arn: Optional[pulumi.Output[str]]

    def __init__(self, name: str, args: Optional[CostAnomalyAlertsArgs] = None,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        args = args if args is not None else CostAnomalyAlertsArgs()
        if not isinstance(args, CostAnomalyAlertsArgs):
            raise ValueError(f"args: expected CostAnomalyAlertsArgs, got {type(args).__name__}")
        one_of("monitor", args.monitor, ("service", "tag"))
        if args.monitor == "tag":
            if not isinstance(args.tag_key, str) or not args.tag_key or args.tag_key.startswith("aws:"):
                raise ValueError(f"tag_key: a 'tag' monitor needs the cost-allocation tag key to watch, got {args.tag_key!r}")
            tag_values = string_list("tag_values", args.tag_values, min_items=1)
        elif args.tag_key is not None or args.tag_values:
            raise ValueError(f"tag_key: only a 'tag' monitor takes tag_key/tag_values, got monitor {args.monitor!r} "
                             f"with tag_key {args.tag_key!r}")
        if args.threshold_usd is None and args.threshold_percent is None:
            raise ValueError("threshold_usd: expected a dollar and/or percent impact threshold, got neither")
        if args.threshold_usd is not None:
            positive_number("threshold_usd", args.threshold_usd, "USD")
        if args.threshold_percent is not None:
            positive_number("threshold_percent", args.threshold_percent, "percent")
        frequency = one_of("frequency", args.frequency, FREQUENCIES)
        emails = validate_emails("emails", args.emails)
        if not isinstance(args.sns_topic, bool):
            raise ValueError(f"sns_topic: expected true or false, got {args.sns_topic!r}")
        if frequency == "IMMEDIATE" and not args.sns_topic:
            raise ValueError("sns_topic: AWS delivers IMMEDIATE anomaly alerts only to SNS; keep sns_topic true or "
                             "choose frequency DAILY or WEEKLY, got sns_topic false")
        if not emails and not args.sns_topic:
            raise ValueError("emails: alerts need someone to tell; give email addresses or keep sns_topic true")
        tags = validate_tags("tags", args.tags)

        super().__init__(TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if args.monitor == "service":
            monitor = aws.costexplorer.AnomalyMonitor(f"{name}-monitor", name=f"{name}-services",
                                                      monitor_type="DIMENSIONAL", monitor_dimension="SERVICE",
                                                      tags=tags or None, opts=child)
        else:
            monitor = aws.costexplorer.AnomalyMonitor(
                f"{name}-monitor", name=f"{name}-{args.tag_key}", monitor_type="CUSTOM",
                monitor_specification=tag_monitor_specification(args.tag_key, tag_values), tags=tags or None,
                opts=child)
        # IMMEDIATE alerts reach people through the topic; digests can email them directly.
        through_topic = emails if frequency == "IMMEDIATE" else []
        topic = encrypted_alert_topic(name, [ANOMALY_SERVICE], through_topic, f"aifinops CostAnomalyAlerts {name}",
                                      self) if args.sns_topic else None
        subscribers = [{"type": "SNS", "address": topic.arn}] if topic is not None else []
        subscribers += [{"type": "EMAIL", "address": e} for e in emails if e not in through_topic]
        aws.costexplorer.AnomalySubscription(
            f"{name}-subscription", name=f"{name}-alerts", frequency=frequency, monitor_arn_lists=[monitor.arn],
            subscribers=subscribers, threshold_expression=threshold_expression(args.threshold_usd, args.threshold_percent),
            tags=tags or None, opts=child)
        self.monitor_arn = monitor.arn
        self.topic_arn = topic.arn if topic is not None else None
        self.register_outputs({"monitorArn": monitor.arn, "topicArn": self.topic_arn,
                               **declared_alert_usage(name, through_topic, topic)})
