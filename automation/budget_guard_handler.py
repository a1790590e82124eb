"""The budget guard: when a budget alert arrives, stop what the budget is paying for.

It stops running EC2 instances and in-progress SageMaker training jobs that carry the budget's cost tags
(all keys, any of the listed values per key). It never deletes or terminates anything: stopped instances
keep their volumes, stopped training jobs keep their checkpoints and model artifacts. Repeated alerts are
harmless: what is already stopped is no longer running, so a second alert finds nothing to do and sends
no second message. Instances with the opt-out tag are skipped; members of Auto Scaling groups and fleets
are reported (a stopped member would be replaced). Dry run unless told.
"""
from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timezone
from typing import Any, Mapping, Optional

from botocore.exceptions import BotoCoreError, ClientError

from aifinops.core.automation_settings import GuardSettings, from_env

from .action_log import LOGGER, ActionLog, publish_summary
from .aws_clients import AwsClients
from .budget_alerts import BudgetAlert, budget_alerts
from .ec2_instances import (
    LIVE_STATES,
    Instance,
    describe_error,
    describe_instances,
    hands_off,
    stop_instances,
    tag_dict,
)

JOB = "budget-guard"


def budget_tag_filter(budget: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """The cost tags a budget filters on: `user:Key$Value` TagKeyValue filters, or an EQUALS Tags expression."""
    found: dict[str, list[str]] = {}
    for item in (budget.get("CostFilters") or {}).get("TagKeyValue", []):
        key, _, value = item.partition("$")
        if value:
            found.setdefault(key.removeprefix("user:"), []).append(value)
    expression = budget.get("FilterExpression") or {}
    for part in [expression, *expression.get("And", [])]:
        tags = part.get("Tags") or {}
        if tags.get("Key") and tags.get("Values") and set(tags.get("MatchOptions") or ["EQUALS"]) == {"EQUALS"}:
            found.setdefault(tags["Key"].removeprefix("user:"), []).extend(tags["Values"])
    return {key: tuple(dict.fromkeys(values)) for key, values in found.items()}


def budget_arn(partition: str, alert: BudgetAlert) -> str:
    return f"arn:{partition}:budgets::{alert.account_id}:budget/{alert.budget_name}"


def guard(clients: AwsClients, settings: GuardSettings, alert: BudgetAlert,
          now: Optional[datetime] = None) -> ActionLog:
    now = now or datetime.now(timezone.utc)
    report = ActionLog(JOB, settings.dry_run)
    budget = budget_arn(clients.partition(), alert)
    if settings.topic_arns and alert.topic_arn not in settings.topic_arns:
        report.record(budget, "guard", "skipped", f"alert came from {alert.topic_arn}, not a guarded topic")
        return report
    if settings.budget_names and alert.budget_name not in settings.budget_names:
        report.record(budget, "guard", "skipped", f"budget {alert.budget_name!r} is not guarded here")
        return report
    if alert.alert_type not in settings.alert_types:
        report.record(budget, "guard", "skipped",
                      f"{alert.alert_type or 'unknown'} alert; this guard acts on {', '.join(settings.alert_types)}")
        return report
    if settings.min_threshold_percent > 0 and (alert.threshold_percent or 0) < settings.min_threshold_percent:
        seen = f"{alert.threshold_percent:g}%" if alert.threshold_percent is not None else "an unstated threshold"
        report.record(budget, "guard", "skipped", f"alert at {seen} of the budget; this guard acts from "
                      f"{settings.min_threshold_percent:g}%")
        return report
    tags = settings.cost_tags or _tags_of_budget(clients, alert, budget, report)
    if not tags:
        return report
    # One kind failing to list (permissions, an outage) must not keep the guard from stopping the other.
    if settings.stop_instances:
        try:
            _stop_tagged_instances(clients, settings, tags, alert, report, now)
        except (ClientError, BotoCoreError) as error:
            report.record(budget, "list-instances", "failed", describe_error(error))
    if settings.stop_training_jobs:
        try:
            _stop_tagged_training_jobs(clients, settings, tags, alert, report)
        except (ClientError, BotoCoreError) as error:
            report.record(budget, "list-training-jobs", "failed", describe_error(error))
    return report


def _tags_of_budget(clients: AwsClients, alert: BudgetAlert, budget: str,
                    report: ActionLog) -> dict[str, tuple[str, ...]]:
    try:
        described = clients.client("budgets").describe_budget(AccountId=alert.account_id, BudgetName=alert.budget_name)
    except (ClientError, BotoCoreError) as error:
        report.record(budget, "read-budget", "failed", describe_error(error))
        return {}
    tags = budget_tag_filter(described["Budget"])
    if not tags:
        report.record(budget, "guard", "failed", "the budget filters on no cost tags and no cost_tags are set; "
                      "refusing to stop every running resource in the account")
    return tags


def _stop_tagged_instances(clients: AwsClients, settings: GuardSettings, tags: Mapping[str, tuple[str, ...]],
                           alert: BudgetAlert, report: ActionLog, now: datetime) -> None:
    filters = [{"Name": "instance-state-name", "Values": list(LIVE_STATES)},
               *({"Name": f"tag:{key}", "Values": list(values)} for key, values in tags.items())]
    ec2 = clients.client("ec2")
    to_stop: list[Instance] = []
    for instance in describe_instances(ec2, clients.partition(), filters):
        if not hands_off(instance, settings.opt_out_tag, report):
            to_stop.append(instance)
    reason = f"budget {alert.budget_name!r} sent an {alert.alert_type} alert"
    stop_instances(ec2, to_stop, {i.instance_id: reason for i in to_stop}, report, JOB, now)


def _stop_tagged_training_jobs(clients: AwsClients, settings: GuardSettings, tags: Mapping[str, tuple[str, ...]],
                               alert: BudgetAlert, report: ActionLog) -> None:
    sagemaker = clients.client("sagemaker")
    reason = f"budget {alert.budget_name!r} sent an {alert.alert_type} alert"
    for page in sagemaker.get_paginator("list_training_jobs").paginate(StatusEquals="InProgress"):
        for job in page.get("TrainingJobSummaries", []):
            arn, name = job["TrainingJobArn"], job["TrainingJobName"]
            try:
                job_tags = tag_dict(sagemaker.list_tags(ResourceArn=arn).get("Tags"))
            except (ClientError, BotoCoreError) as error:
                report.record(arn, "read-tags", "failed", describe_error(error))
                continue
            if not all(job_tags.get(key) in values for key, values in tags.items()):
                continue
            if settings.opt_out_tag in job_tags:
                report.record(arn, "stop", "skipped", f"carries the opt-out tag {settings.opt_out_tag}")
                continue
            if not settings.dry_run:
                try:
                    sagemaker.stop_training_job(TrainingJobName=name)
                except (ClientError, BotoCoreError) as error:
                    report.record(arn, "stop", "failed", describe_error(error))
                    continue
            report.changed(arn, "stop", reason, trainingJob=name)


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point for the budget's SNS topic."""
    logging.getLogger("aifinops").setLevel(logging.INFO)
    settings = from_env(GuardSettings, os.environ)
    alerts, ignored = budget_alerts(event)
    for reason in ignored:
        LOGGER.info(json.dumps({"job": JOB, "ignored": reason}))
    clients = AwsClients()
    reports = []
    for alert in alerts:
        report = guard(clients, settings, alert)
        if report.has_news:
            publish_summary(clients.client("sns"), settings.summary_topic_arn or alert.topic_arn, report,
                            f"aifinops budget guard: {alert.budget_name} ({report.headline().split(': ', 1)[1]})")
        reports.append({"budget": alert.budget_name, "messageId": alert.message_id, **report.to_dict()})
    return {"alerts": reports, "ignored": ignored}
