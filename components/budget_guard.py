"""BudgetGuard: a Lambda subscribed to a budget's alert topic that stops what the budget pays for.

The handler is `aifinops.automation.budget_guard_handler` (GuardSettings in `aifinops.core.automation_settings`). It stops running EC2 instances
and in-progress SageMaker training jobs that carry the budget's cost tags, never deletes anything, and
writes a summary back to the topic (its subscription's filter policy keeps it from hearing itself). Its
role can stop only resources carrying those tags.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence, Union

import pulumi

from aifinops.core import argument_checks as checks
from aifinops.core.automation_settings import (
    STOPPED_AT_TAG,
    STOPPED_BY_TAG,
    GuardSettings,
    env_name,
    to_env,
    validate_tag_filter,
)

from .automation_lambda import (
    AccountScope,
    FunctionSettings,
    HandlerComponent,
    account_scope,
    declare_checkov_exceptions,
    deploy_handler,
    refuse_wired_settings,
    subscribe_handler,
)
from .gpu_instance import validate_tags

TYPE_TOKEN = "aifinops:automation:BudgetGuard"
HANDLER = "aifinops.automation.budget_guard_handler.handler"
declare_checkov_exceptions(TYPE_TOKEN)
# Settings the component fills from its wiring; users set them on the component, not in `settings`.
WIRED_SETTINGS = ("cost_tags", "budget_names", "topic_arns", "summary_topic_arn")


@dataclass
class BudgetGuardArgs:
    """Arguments of BudgetGuard. `cost_tags` is required, and a topic: `cost_budget` or `topic_arn`.

    - cost_tags: tag key -> value or values; what carries them is stopped, and nothing else (the role's
      policy enforces it too). Usually the budget's tag filter, e.g. {"Project": "llm-finetune"}.
    - cost_budget: a CostBudget; its alerts topic and budget name are used. Or give `topic_arn` (and
      optionally `budget_name`) for a budget managed elsewhere.
    - topic_kms_key_arn: the topic's KMS key, to publish summaries to an encrypted topic. Default none:
      the role may use KMS only through SNS in this account and region.
    - notification_topic_arn: where summaries go (default: the alert topic).
    - settings: GuardSettings (default: ACTUAL alerts only, both EC2 and SageMaker, opt-out tag
      `aifinops:keep-running`, dry run). Set `dry_run: False` to stop for real.
    - function: timeout, memory, log retention (default 30 days) and KMS key (default: a new one).
    """

    cost_tags: Mapping[str, Union[str, Sequence[str]]] = field(default_factory=dict)
    cost_budget: Optional[Any] = None
    topic_arn: Optional[pulumi.Input[str]] = None
    budget_name: Optional[pulumi.Input[str]] = None
    topic_kms_key_arn: Optional[pulumi.Input[str]] = None
    notification_topic_arn: Optional[pulumi.Input[str]] = None
    settings: GuardSettings = field(default_factory=GuardSettings)
    function: FunctionSettings = field(default_factory=FunctionSettings)
    tags: Mapping[str, str] = field(default_factory=dict)


def guard_statements(scope: AccountScope, cost_tags: Mapping[str, Sequence[str]], stop_instances: bool,
                     stop_training_jobs: bool, topic_arn: str, topic_key_arn: Optional[str]) -> list[dict[str, Any]]:
    """Stop (and mark) only resources with the cost tags; list training jobs; publish the summary."""
    tagged = {"StringEquals": {f"aws:ResourceTag/{key}": list(values) for key, values in cost_tags.items()}}
    arn = f"{scope.region}:{scope.account_id}"
    statements: list[dict[str, Any]] = []
    if stop_instances:
        instances = f"arn:{scope.partition}:ec2:{arn}:instance/*"
        statements += [
            {"Sid": "ReadInstances", "Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"},
            {"Sid": "StopBudgetInstances", "Effect": "Allow", "Action": "ec2:StopInstances", "Resource": instances,
             "Condition": tagged},
            {"Sid": "MarkStoppedInstances", "Effect": "Allow", "Action": "ec2:CreateTags", "Resource": instances,
             "Condition": {**tagged, "ForAllValues:StringEquals": {"aws:TagKeys": [STOPPED_BY_TAG, STOPPED_AT_TAG]}}},
        ]
    if stop_training_jobs:
        jobs = f"arn:{scope.partition}:sagemaker:{arn}:training-job/*"
        statements += [
            {"Sid": "ListTrainingJobs", "Effect": "Allow", "Action": "sagemaker:ListTrainingJobs", "Resource": "*"},
            {"Sid": "ReadTrainingJobTags", "Effect": "Allow", "Action": "sagemaker:ListTags", "Resource": jobs},
            {"Sid": "StopBudgetTrainingJobs", "Effect": "Allow", "Action": "sagemaker:StopTrainingJob",
             "Resource": jobs, "Condition": tagged},
        ]
    statements.append({"Sid": "PublishSummary", "Effect": "Allow", "Action": "sns:Publish", "Resource": topic_arn})
    kms = {"Sid": "EncryptSummary", "Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"]}
    if topic_key_arn:
        statements.append({**kms, "Resource": topic_key_arn})
    else:
        statements.append({**kms, "Resource": "*", "Condition": {"StringEquals": {
            "kms:ViaService": f"sns.{scope.region}.amazonaws.com", "kms:CallerAccount": scope.account_id}}})
    return statements


class BudgetGuard(HandlerComponent):
    """Stops tagged EC2 instances and SageMaker training jobs when the budget alerts (dry run until told)."""

    def __init__(self, name: str, args: BudgetGuardArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        if not isinstance(args, BudgetGuardArgs):
            raise ValueError(f"args: expected BudgetGuardArgs, got {type(args).__name__}")
        cost_tags = validate_tag_filter("cost_tags", args.cost_tags)
        if not cost_tags:
            raise ValueError("cost_tags: expected at least one tag key with its value(s), such as "
                             "{'Project': 'llm-finetune'}, got none; the guard never stops untagged resources")
        topic_arn, budget_name = self._wiring(args)
        checks.arn_in_region("topic_kms_key_arn", args.topic_kms_key_arn, "kms", None)
        checks.arn_in_region("notification_topic_arn", args.notification_topic_arn, "sns", None)
        if not isinstance(args.settings, GuardSettings):
            raise ValueError(f"settings: expected GuardSettings, got {args.settings!r}")
        refuse_wired_settings(args.settings, WIRED_SETTINGS, "cost_tags, cost_budget, topic_arn, budget_name and "
                                                             "notification_topic_arn")
        settings = GuardSettings(**{**vars(args.settings), "cost_tags": cost_tags})
        function_settings = FunctionSettings.checked("function", args.function)
        tags = validate_tags("tags", args.tags)

        super().__init__(TYPE_TOKEN, name, None, opts)
        summary_topic = args.notification_topic_arn if args.notification_topic_arn is not None else topic_arn
        environment: dict[str, pulumi.Input[str]] = dict(to_env(settings))
        environment[env_name("topic_arns")] = pulumi.Output.from_input(topic_arn).apply(lambda arn: json.dumps([arn]))
        environment[env_name("summary_topic_arn")] = summary_topic
        if budget_name is not None:
            environment[env_name("budget_names")] = pulumi.Output.from_input(budget_name).apply(
                lambda budget: json.dumps([budget]))
        statements = pulumi.Output.all(account_scope(self), summary_topic, args.topic_kms_key_arn).apply(
            lambda v: guard_statements(v[0], cost_tags, settings.stop_instances, settings.stop_training_jobs,
                                       v[1], v[2]))
        deployed = deploy_handler(name, self, description=f"aifinops BudgetGuard {name}", handler=HANDLER,
                                  environment=environment, statements=statements, settings=function_settings,
                                  tags=tags)
        subscribe_handler(f"{name}-alerts", self, deployed, topic_arn)

        self._expose(deployed, dryRun=settings.dry_run)

    @staticmethod
    def _wiring(args: BudgetGuardArgs) -> tuple[pulumi.Input[str], Optional[pulumi.Input[str]]]:
        """(alert topic ARN, budget name) from the CostBudget, or from topic_arn and budget_name."""
        if args.cost_budget is not None:
            if args.topic_arn is not None or args.budget_name is not None:
                raise ValueError("cost_budget: give a CostBudget or topic_arn/budget_name, not both")
            topic = getattr(args.cost_budget, "topic_arn", None)
            budget = getattr(args.cost_budget, "budget_name", None)
            if topic is None or budget is None:
                raise ValueError(f"cost_budget: expected a CostBudget with an alerts topic (sns_topic true), "
                                 f"got {args.cost_budget!r}")
            return topic, budget
        if args.topic_arn is None:
            raise ValueError("topic_arn: expected the budget's alert topic ARN (or give cost_budget), got None")
        checks.arn_in_region("topic_arn", args.topic_arn, "sns", None)
        if args.budget_name is not None and not isinstance(args.budget_name, (str, pulumi.Output)):
            raise ValueError(f"budget_name: expected the budget's name, got {args.budget_name!r}")
        return args.topic_arn, args.budget_name
