"""CostBudget: a monthly AWS Budget on cost, scoped by cost-allocation tag and/or service, that tells people
early and can act on its own.

Budgets sees tags in the billing form `user:<Key>$<value>`; the tag keys must be activated for cost
allocation (see CostAllocationTags) before Budgets can filter on them.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Literal, Mapping, Optional, Sequence, Union

import pulumi
import pulumi_aws as aws

from aifinops.core import catalog
from aifinops.core.argument_checks import one_of, positive_number, string_list

from .alert_topic import declared_alert_usage, encrypted_alert_topic, validate_emails
from .gpu_instance import validate_tags

TYPE_TOKEN = "aifinops:cost:CostBudget"
BUDGETS_SERVICE = "budgets.amazonaws.com"
MAX_THRESHOLD_PERCENT = 1000.0
MAX_SUBSCRIBERS = 10  # per notification, SNS topic included (AWS Budgets quota)
BUDGET_NAME_PATTERN = re.compile(r"^[^:\\]{1,100}$")
ACTION_KINDS = ("stop-instances", "deny-accelerated-launch")
# AWS-managed automation documents Budgets runs for RUN_SSM_DOCUMENTS actions (and their reversal).
STOP_DOCUMENTS = ("AWS-StopEC2Instance", "AWS-StartEC2Instance")


@dataclass
class BudgetAction:
    """What the budget does by itself when spend crosses `threshold_percent` of the amount.

    - kind: 'stop-instances' stops `instance_ids` with an SSM action; the execution role may stop only
      instances that carry the budget's tag filter (or only those ids when the budget has none).
      'deny-accelerated-launch' attaches an IAM policy to `target_roles` / `target_users` /
      `target_groups` that denies launching accelerated instance types (EC2 and SageMaker), so no new GPU
      spend starts; running capacity and auto scaling groups are untouched.
    - threshold_percent: must be one of the budget's notification thresholds of `notification_type`
      (default 100, ACTUAL).
    - approval: default AUTOMATIC for deny-accelerated-launch (it only blocks new spend) and MANUAL for
      stop-instances (someone approves in the Budgets console before work is interrupted).
    - region: where the instances run (default: the stack's region).
    """

    kind: str
    threshold_percent: float = 100.0
    notification_type: Literal["ACTUAL", "FORECASTED"] = "ACTUAL"
    instance_ids: Sequence[pulumi.Input[str]] = ()
    target_roles: Sequence[pulumi.Input[str]] = ()
    target_users: Sequence[pulumi.Input[str]] = ()
    target_groups: Sequence[pulumi.Input[str]] = ()
    approval: Optional[Literal["AUTOMATIC", "MANUAL"]] = None
    region: Optional[str] = None


@dataclass
class CostBudgetArgs:
    """Arguments of CostBudget. Only `amount_usd` is required.

    - amount_usd: the monthly budget in USD (> 0).
    - tag_filters: cost-allocation tag -> value or values (default none: all spend). One tag key per budget:
      AWS ORs the values of its TagKeyValue filter, so two keys would count spend matching either.
    - services: billing service names such as "Amazon Elastic Compute Cloud - Compute" (default: all).
    - actual_thresholds: percent of the amount at which to notify on actual spend (default 50, 80, 100);
      forecasted_thresholds: on forecasted spend (default 100). Each in (0, 1000], no repeats.
    - emails: addresses notified directly by Budgets (default none).
    - sns_topic: default True, a KMS-encrypted topic that only Budgets (for this account) may publish to,
      subscribed to every notification; its ARN is `topic_arn`.
    - action: default None. See BudgetAction.
    - budget_name: default, the component name.
    """

    amount_usd: float
    tag_filters: Mapping[str, Union[str, Sequence[str]]] = field(default_factory=dict)
    services: Sequence[str] = ()
    actual_thresholds: Sequence[float] = (50.0, 80.0, 100.0)
    forecasted_thresholds: Sequence[float] = (100.0,)
    emails: Sequence[str] = ()
    sns_topic: bool = True
    action: Optional[BudgetAction] = None
    budget_name: Optional[str] = None
    tags: Mapping[str, str] = field(default_factory=dict)


def validate_thresholds(argument: str, thresholds: object) -> list[float]:
    if isinstance(thresholds, (str, bytes)) or not isinstance(thresholds, (list, tuple)):
        raise ValueError(f"{argument}: expected a list of percentages in (0, {MAX_THRESHOLD_PERCENT:g}], got {thresholds!r}")
    for index, value in enumerate(thresholds):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_THRESHOLD_PERCENT:
            raise ValueError(f"{argument}[{index}]: expected a percentage in (0, {MAX_THRESHOLD_PERCENT:g}], got {value!r}")
    repeated = sorted({v for v in thresholds if list(thresholds).count(v) > 1})
    if repeated:
        raise ValueError(f"{argument}: each threshold may appear once, got {list(thresholds)!r} "
                         f"({', '.join(f'{v:g}' for v in repeated)} repeated)")
    return [float(v) for v in thresholds]


def validate_tag_filters(argument: str, filters: object) -> dict[str, list[str]]:
    if not isinstance(filters, Mapping):
        raise ValueError(f"{argument}: expected a mapping of cost-allocation tag key to value(s), got {filters!r}")
    if len(filters) > 1:
        raise ValueError(f"{argument}: expected at most one tag key, got {sorted(filters)!r}; Budgets ORs the values "
                         f"of its TagKeyValue filter, so several keys would count spend matching any of them "
                         f"(use one key, e.g. Project, or one budget per key)")
    result = {}
    for key, values in filters.items():
        if not isinstance(key, str) or not key or key.startswith("aws:"):
            raise ValueError(f"{argument}: expected a user tag key, got {key!r}")
        listed = [values] if isinstance(values, str) else values
        result[key] = string_list(f"{argument}.{key}", listed, min_items=1)
    return result


def cost_filters(tag_filters: Mapping[str, list[str]], services: Sequence[str]) -> list[dict[str, object]]:
    """Budgets' cost filters: tags in the billing form `user:<Key>$<value>`, services by billing name."""
    filters: list[dict[str, object]] = []
    for key, values in tag_filters.items():
        filters.append({"name": "TagKeyValue", "values": [f"user:{key}${value}" for value in values]})
    if services:
        filters.append({"name": "Service", "values": list(services)})
    return filters


def accelerated_families() -> list[str]:
    """Instance families the catalog knows as accelerated (every size in such a family is)."""
    return sorted({spec.split(".", 1)[0] for spec in catalog.accelerated_types()})


def deny_accelerated_launch_policy() -> str:
    """Deny starting accelerated capacity: EC2 instances and SageMaker jobs/endpoints/notebooks."""
    families = accelerated_families()
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "DenyAcceleratedEc2", "Effect": "Deny", "Action": "ec2:RunInstances",
         "Resource": "arn:aws:ec2:*:*:instance/*",
         "Condition": {"StringLike": {"ec2:InstanceType": [f"{family}.*" for family in families]}}},
        {"Sid": "DenyAcceleratedSageMaker", "Effect": "Deny",
         "Action": ["sagemaker:CreateTrainingJob", "sagemaker:CreateEndpointConfig",
                    "sagemaker:CreateNotebookInstance", "sagemaker:CreateProcessingJob",
                    "sagemaker:CreateTransformJob", "sagemaker:CreateHyperParameterTuningJob"],
         "Resource": "*",
         "Condition": {"ForAnyValue:StringLike": {"sagemaker:InstanceTypes": [f"ml.{f}.*" for f in families]}}},
    ]})


def budgets_trust_policy(account_id: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": BUDGETS_SERVICE}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": account_id}}}]})


def stop_instances_policy(partition: str, region: str, account_id: str, tag_filters: Mapping[str, list[str]],
                          instance_ids: Sequence[str]) -> str:
    """Stop (and on reversal start) only instances carrying the budget's tags, or only the given ones."""
    if tag_filters:
        resources = [f"arn:{partition}:ec2:{region}:{account_id}:instance/*"]
        condition = {"Condition": {"StringEquals": {f"aws:ResourceTag/{key}": values
                                                    for key, values in tag_filters.items()}}}
    else:
        resources = [f"arn:{partition}:ec2:{region}:{account_id}:instance/{i}" for i in instance_ids]
        condition = {}
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "StopAndRestartBudgetInstances", "Effect": "Allow", "Action": ["ec2:StopInstances", "ec2:StartInstances"],
         "Resource": resources, **condition},
        {"Sid": "ReadInstanceState", "Effect": "Allow", "Action": "ec2:DescribeInstanceStatus", "Resource": "*"},
        {"Sid": "RunStopDocuments", "Effect": "Allow", "Action": "ssm:StartAutomationExecution",
         "Resource": [f"arn:{partition}:ssm:{region}::automation-definition/{doc}:*" for doc in STOP_DOCUMENTS]},
    ]})


def attach_deny_policy(partition: str, account_id: str, policy_arn: str, roles: Sequence[str], users: Sequence[str],
                       groups: Sequence[str]) -> str:
    """Attach and detach the deny policy, and only it, to the named principals."""
    statements = []
    for action, kind, names in (("AttachRolePolicy", "role", roles), ("AttachUserPolicy", "user", users),
                                ("AttachGroupPolicy", "group", groups)):
        if names:
            statements.append({
                "Sid": f"Manage{kind.title()}DenyPolicy", "Effect": "Allow",
                "Action": [f"iam:{action}", f"iam:{action.replace('Attach', 'Detach')}"],
                "Resource": [f"arn:{partition}:iam::{account_id}:{kind}/{name}" for name in names],
                "Condition": {"ArnEquals": {"iam:PolicyARN": policy_arn}}})
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def _validate_action(action: object, actual: list[float], forecasted: list[float]) -> Optional[BudgetAction]:
    if action is None:
        return None
    if not isinstance(action, BudgetAction):
        raise ValueError(f"action: expected BudgetAction or None, got {action!r}")
    one_of("action.kind", action.kind, ACTION_KINDS)
    one_of("action.notification_type", action.notification_type, ("ACTUAL", "FORECASTED"))
    thresholds = actual if action.notification_type == "ACTUAL" else forecasted
    if action.threshold_percent not in thresholds:
        raise ValueError(f"action.threshold_percent: expected one of the {action.notification_type} notification "
                         f"thresholds ({', '.join(f'{t:g}' for t in thresholds) or 'none'}), got "
                         f"{action.threshold_percent!r}")
    if action.approval is not None:
        one_of("action.approval", action.approval, ("AUTOMATIC", "MANUAL"))
    for argument in ("instance_ids", "target_roles", "target_users", "target_groups"):
        value = getattr(action, argument)
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise ValueError(f"action.{argument}: expected a list, got {value!r}")
    if action.kind == "stop-instances" and not action.instance_ids:
        raise ValueError("action.instance_ids: a stop-instances action needs the ids of the instances to stop, "
                         "got none")
    if action.kind == "deny-accelerated-launch" and not (action.target_roles or action.target_users or action.target_groups):
        raise ValueError("action.target_roles: a deny-accelerated-launch action needs at least one role, user or "
                         "group to attach the deny policy to, got none")
    return action


class CostBudget(pulumi.ComponentResource):
    """A monthly cost budget with ACTUAL/FORECASTED notifications, an encrypted alerts topic and an optional action."""

    budget_name: pulumi.Output[str]
    topic_arn: Optional[pulumi.Output[str]]
    amount_usd: float

    def __init__(self, name: str, args: CostBudgetArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        if not isinstance(args, CostBudgetArgs):
            raise ValueError(f"args: expected CostBudgetArgs, got {type(args).__name__}")
        amount = positive_number("amount_usd", args.amount_usd, "USD")
        tag_filters = validate_tag_filters("tag_filters", args.tag_filters)
        services = string_list("services", args.services) if args.services else []
        actual = validate_thresholds("actual_thresholds", args.actual_thresholds)
        forecasted = validate_thresholds("forecasted_thresholds", args.forecasted_thresholds)
        if not actual and not forecasted:
            raise ValueError("actual_thresholds: expected at least one notification threshold (actual or forecasted), "
                             "got none")
        emails = validate_emails("emails", args.emails)
        if not isinstance(args.sns_topic, bool):
            raise ValueError(f"sns_topic: expected true or false, got {args.sns_topic!r}")
        if not emails and not args.sns_topic:
            raise ValueError("emails: a budget needs someone to tell; give email addresses or keep sns_topic true")
        if len(emails) + int(args.sns_topic) > MAX_SUBSCRIBERS:
            raise ValueError(f"emails: AWS Budgets allows {MAX_SUBSCRIBERS} subscribers per notification (the topic "
                             f"counts as one), got {len(emails)} emails{' and the topic' if args.sns_topic else ''}")
        action = _validate_action(args.action, actual, forecasted)
        budget_name = args.budget_name if args.budget_name is not None else name
        if not isinstance(budget_name, str) or not BUDGET_NAME_PATTERN.match(budget_name):
            raise ValueError(f"budget_name: expected 1 to 100 characters without ':' or '\\', got {budget_name!r}")
        tags = validate_tags("tags", args.tags)

        super().__init__(TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        topic = encrypted_alert_topic(name, [BUDGETS_SERVICE], [], f"aifinops CostBudget {name}", self) \
            if args.sns_topic else None
        topics = [topic.arn] if topic is not None else []
        notifications = [
            {"comparison_operator": "GREATER_THAN", "notification_type": kind, "threshold": threshold,
             "threshold_type": "PERCENTAGE", "subscriber_email_addresses": emails or None,
             "subscriber_sns_topic_arns": topics or None}
            for kind, thresholds in (("ACTUAL", actual), ("FORECASTED", forecasted)) for threshold in thresholds]
        budget = aws.budgets.Budget(
            f"{name}", name=budget_name, budget_type="COST", time_unit="MONTHLY", limit_amount=f"{amount:.2f}",
            limit_unit="USD", cost_filters=cost_filters(tag_filters, services) or None, notifications=notifications,
            tags=tags or None, opts=child)
        if action is not None:
            subscribers = [{"address": e, "subscription_type": "EMAIL"} for e in emails]
            subscribers += [{"address": arn, "subscription_type": "SNS"} for arn in topics]
            self._action(name, budget, action, tag_filters, subscribers)
        self.budget_name = budget.name
        self.topic_arn = topic.arn if topic is not None else None
        self.amount_usd = amount
        self.register_outputs({"budgetName": budget.name, "amountUsd": amount, "topicArn": self.topic_arn,
                               **declared_alert_usage(name, [], topic)})

    def _action(self, name: str, budget: aws.budgets.Budget, action: BudgetAction,
                tag_filters: Mapping[str, list[str]], subscribers: list[dict[str, object]]) -> None:
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOptions(parent=self)
        identity = aws.get_caller_identity_output(opts=invoke)
        partition = aws.get_partition_output(opts=invoke).partition
        role = aws.iam.Role(f"{name}-action-role", description=f"aifinops CostBudget {name}: runs its budget action",
                            assume_role_policy=identity.account_id.apply(budgets_trust_policy), opts=child)
        if action.kind == "stop-instances":
            region = action.region or aws.get_region_output(opts=invoke).region
            permissions = pulumi.Output.all(partition, region, identity.account_id, *action.instance_ids).apply(
                lambda v: stop_instances_policy(v[0], v[1], v[2], tag_filters, v[3:]))
            definition = {"ssm_action_definition": {"action_sub_type": "STOP_EC2_INSTANCES", "region": region,
                                                    "instance_ids": list(action.instance_ids)}}
            action_type, approval = "RUN_SSM_DOCUMENTS", action.approval or "MANUAL"
        else:
            deny = aws.iam.Policy(f"{name}-deny-accelerated", description="aifinops: deny launching accelerated "
                                  "instance types once the budget is spent", policy=deny_accelerated_launch_policy(),
                                  opts=child)
            permissions = pulumi.Output.all(partition, identity.account_id, deny.arn, *action.target_roles,
                                            *action.target_users, *action.target_groups).apply(
                lambda v: attach_deny_policy(v[0], v[1], v[2], *_split(v[3:], action)))
            definition = {"iam_action_definition": {"policy_arn": deny.arn, "roles": list(action.target_roles) or None,
                                                    "users": list(action.target_users) or None,
                                                    "groups": list(action.target_groups) or None}}
            action_type, approval = "APPLY_IAM_POLICY", action.approval or "AUTOMATIC"
        aws.iam.RolePolicy(f"{name}-action", role=role.id, policy=permissions, opts=child)
        aws.budgets.BudgetAction(
            f"{name}-action", budget_name=budget.name, action_type=action_type, approval_model=approval,
            notification_type=action.notification_type,
            action_threshold={"action_threshold_type": "PERCENTAGE", "action_threshold_value": action.threshold_percent},
            definition=definition, execution_role_arn=role.arn, subscribers=subscribers, opts=child)


def _split(names: Sequence[str], action: BudgetAction) -> tuple[list[str], list[str], list[str]]:
    roles, users = len(action.target_roles), len(action.target_users)
    return list(names[:roles]), list(names[roles:roles + users]), list(names[roles + users:])
