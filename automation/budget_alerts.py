"""Budget alerts as they reach Lambda: SNS records carrying AWS Budgets notifications.

AWS Budgets publishes plain text to SNS:

    AWS Budget Notification November 27, 2026
    AWS Account 123456789012
    ...
    Budget Name: training-dev
    Budget Type: Cost
    Budgeted Amount: $1,000.00
    Alert Type: ACTUAL
    Alert Threshold: > $800.00
    ACTUAL Amount: $812.34

Only messages that positively look like that are alerts; anything else (our own summaries, other
publishers, a future format) is ignored, never treated as a breach.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from aifinops.core.automation_settings import SOURCE_ATTRIBUTE

_ANCHOR = "AWS Budget Notification"
_SUBJECT = re.compile(r"^AWS Budgets: (?P<name>.+?) has exceeded your alert threshold")
_FIELD = re.compile(r"^(?P<key>Budget Name|Alert Type|Budget Type|Budgeted Amount|Alert Threshold):[ \t]*"
                    r"(?P<value>.+?)[ \t]*$", re.M)
_NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?")


@dataclass(frozen=True)
class BudgetAlert:
    budget_name: str
    alert_type: Optional[str]  # ACTUAL or FORECASTED
    topic_arn: str
    message_id: str
    threshold_percent: Optional[float] = None  # the alert's threshold as a share of the budget, when stated

    @property
    def account_id(self) -> str:
        return self.topic_arn.split(":")[4]


def budget_alerts(event: Mapping[str, Any]) -> tuple[list[BudgetAlert], list[str]]:
    """The budget alerts in an SNS-to-Lambda event, and a reason for each record that is not one."""
    alerts, ignored = [], []
    records = event.get("Records") if isinstance(event, Mapping) else None
    if not isinstance(records, list):
        return [], ["event has no SNS Records: expected an SNS notification event"]
    for index, record in enumerate(records):
        sns = record.get("Sns") if isinstance(record, Mapping) else None
        if not isinstance(record, Mapping) or record.get("EventSource") != "aws:sns" or not isinstance(sns, Mapping):
            ignored.append(f"record {index}: not an SNS record")
            continue
        if SOURCE_ATTRIBUTE in (sns.get("MessageAttributes") or {}):
            ignored.append(f"record {index}: our own summary message")
            continue
        alert = parse_alert(str(sns.get("Message") or ""), str(sns.get("Subject") or ""),
                            str(sns.get("TopicArn") or ""), str(sns.get("MessageId") or ""))
        if alert is None:
            ignored.append(f"record {index} ({sns.get('MessageId')}): not an AWS Budgets notification")
        else:
            alerts.append(alert)
    return alerts, ignored


def parse_alert(message: str, subject: str, topic_arn: str, message_id: str) -> Optional[BudgetAlert]:
    fields = {m["key"]: m["value"] for m in _FIELD.finditer(message)} if _ANCHOR in message else {}
    name = fields.get("Budget Name")
    if name is None and message.lstrip().startswith("{"):
        name, fields = _json_alert(message)
    if name is None and (match := _SUBJECT.match(subject)) and _ANCHOR in message:
        name = match["name"]
    if not name:
        return None
    alert_type = fields.get("Alert Type")
    return BudgetAlert(name, alert_type.upper() if alert_type else None, topic_arn, message_id,
                       threshold_percent(fields.get("Alert Threshold"), fields.get("Budgeted Amount")))


def threshold_percent(threshold: Optional[str], budgeted: Optional[str]) -> Optional[float]:
    """'> 80%' -> 80; '> $1,200.00' of a '$1,500.00' budget -> 80; None when the message does not say."""
    found = _NUMBER.search(threshold or "")
    if found is None:
        return None
    value = float(found.group().replace(",", ""))
    if threshold.rstrip().endswith("%"):
        return value
    amount = _NUMBER.search(budgeted or "")
    total = float(amount.group().replace(",", "")) if amount else 0.0
    return round(value / total * 100, 2) if total > 0 else None


def _json_alert(message: str) -> tuple[Optional[str], dict[str, str]]:
    """Some routes (notification hubs) forward the alert as JSON with the same fields."""
    try:
        body = json.loads(message)
    except json.JSONDecodeError:
        return None, {}
    if not isinstance(body, dict):
        return None, {}
    name = body.get("budgetName") or body.get("BudgetName")
    alert_type = body.get("notificationType") or body.get("NotificationType")
    return (str(name) if name else None), ({"Alert Type": str(alert_type)} if alert_type else {})
