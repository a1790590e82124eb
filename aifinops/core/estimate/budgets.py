"""Which spend an AWS Budget in the stack covers, and how much the estimate puts under it.

A budget covers a resource's cost when every cost filter it has lets the resource through:
- TagKeyValue: the resource carries one of its `user:<Key>$<value>` pairs (values are ORed);
- Service: only the lines billed under one of those services (a resource with no price yet: judged by
  the service its resource type bills under, when BILLED_UNDER knows it);
- Region: the region the resource's provider deploys to (else the stack's `aws:region`);
- LinkedAccount: the account the resource's provider pins (`allowedAccountIds`, or an assumed role's ARN).
A filter the estimate cannot evaluate (UsageType, Operation, PurchaseType, a filterExpression...), or a
Region/LinkedAccount filter on a resource whose region or account is not known offline, lets the
resource through, so the sum is never less than AWS's; `unevaluated_filters` names them for messages.
Kubernetes objects are never on an AWS bill (their nodes are) and no budget covers them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

from aifinops.core.service_prices import DAYS_PER_MONTH

from ..values import as_list
from . import model
from .model import NEEDS_USAGE, PRICED, UNPRICED, Estimate, ResourceCost
from .view import CostResource

BUDGET_TYPE = "aws:budgets/budget:Budget"
TAG_PREFIX = "user:"
_PER_MONTH = {"MONTHLY": 1.0, "QUARTERLY": 1 / 3, "ANNUALLY": 1 / 12, "DAILY": DAYS_PER_MONTH}
# Packages whose objects AWS never bills by themselves; one the estimator prices anyway (a Karpenter NodePool
# stands for the EC2 nodes it launches) is covered.
NOT_BILLED_BY_AWS = ("kubernetes",)
# The services a resource type's module bills under, for an unpriced resource (it has no lines to say so).
BILLED_UNDER = {
    "ec2": (model.EC2_COMPUTE, model.EC2_OTHER), "autoscaling": (model.EC2_COMPUTE, model.EC2_OTHER),
    "ebs": (model.EC2_OTHER,), "s3": (model.S3,), "sns": (model.SNS,), "sqs": (model.SQS,),
    "lambda": (model.LAMBDA,), "cloudwatch": (model.CLOUDWATCH,), "backup": (model.BACKUP,),
    "sagemaker": (model.SAGEMAKER,), "eks": (model.EKS, model.EC2_COMPUTE, model.EC2_OTHER),
    "wafv2": (model.WAF,), "shield": (model.SHIELD,), "kms": (model.KMS,), "efs": (model.EFS,),
    "fsx": (model.FSX,), "ecr": (model.ECR,), "lb": (model.ELB,), "alb": (model.ELB,), "elb": (model.ELB,),
    "dynamodb": (model.DYNAMODB,), "rds": (model.RDS,), "elasticache": (model.ELASTICACHE,),
}


@dataclass
class BudgetScope:
    urn: str
    name: str
    monthly_usd: Optional[float]  # None: not a USD cost budget we can compare
    tag_values: dict[str, set[str]]  # tag key -> values (any matches)
    services: Optional[set[str]]  # None: every service
    ignored_filters: list[str]  # filters the estimate cannot evaluate: every resource counts as matching them
    regions: Optional[set[str]] = None  # None: every region
    accounts: Optional[set[str]] = None  # None: every account

    def covers_resource(self, tags: dict[str, str], region: str = "", account: str = "") -> bool:
        """False when a filter the resource's attributes answer excludes it ("" region/account: not known)."""
        if self.tag_values and not any(tags.get(key) in values for key, values in self.tag_values.items()):
            return False
        if self.regions is not None and region and region not in self.regions:
            return False
        return self.accounts is None or not account or account in self.accounts

    def covers(self, resource: ResourceCost) -> bool:
        if resource.type.split(":", 1)[0] in NOT_BILLED_BY_AWS and resource.status != PRICED:
            return False
        if not self.covers_resource(resource.tags, resource.region, resource.account):
            return False
        if self.services is None or resource.status == PRICED:
            return True  # a priced resource's lines are filtered by service in covered_usd
        billed = BILLED_UNDER.get(_module(resource.type))
        return billed is None or any(service in self.services for service in billed)

    def unevaluated_filters(self, region: str = "", account: str = "") -> list[str]:
        """The filters of this budget not evaluated for a resource with this region and account."""
        names = list(self.ignored_filters)
        if self.regions is not None and not region:
            names.append("Region")
        if self.accounts is not None and not account:
            names.append("LinkedAccount")
        return names

    def covered_usd(self, resource: ResourceCost) -> float:
        if resource.status != PRICED or not self.covers(resource):
            return 0.0
        return sum(line.monthly_usd for line in resource.lines if self.services is None or line.service in self.services)

    def describe(self) -> str:
        parts = [f"{key} = {' or '.join(sorted(values))}" for key, values in sorted(self.tag_values.items())]
        for label, values in (("service", self.services), ("region", self.regions), ("account", self.accounts)):
            if values is not None:
                parts.append(f"{label} {' or '.join(sorted(values))}")
        return ", ".join(parts) or "all spend"


def _module(resource_type: str) -> str:
    """`aws:sns/topic:Topic` -> `sns`."""
    parts = resource_type.split(":")
    return parts[1].split("/", 1)[0] if len(parts) == 3 else ""


def read_budgets(resources: Iterable[CostResource]) -> list[BudgetScope]:
    scopes = []
    for resource in resources:
        if resource.type != BUDGET_TYPE:
            continue
        tag_values: dict[str, set[str]] = {}
        services: Optional[set[str]] = None
        regions: Optional[set[str]] = None
        accounts: Optional[set[str]] = None
        ignored = []
        for entry in as_list(resource.get("costFilters")):
            name = entry.get("name") if isinstance(entry, dict) else None
            values = [v for v in as_list(entry.get("values")) if isinstance(v, str)] if isinstance(entry, dict) else []
            if name == "TagKeyValue":
                for value in values:
                    key, _, tag_value = value[len(TAG_PREFIX):].partition("$") if value.startswith(TAG_PREFIX) \
                        else value.partition("$")
                    tag_values.setdefault(key, set()).add(tag_value)
            elif name == "Service":
                services = set(values)
            elif name == "Region":
                regions = set(values)
            elif name == "LinkedAccount":
                accounts = set(values)
            elif isinstance(name, str):
                ignored.append(name)
        if resource.get("filterExpression") is not None:
            ignored.append("filterExpression")
        scopes.append(BudgetScope(resource.urn, resource.name, _monthly_amount(resource), tag_values, services,
                                  ignored, regions, accounts))
    return scopes


def _monthly_amount(budget: CostResource) -> Optional[float]:
    if budget.get("budgetType") not in (None, "COST") or budget.get("limitUnit") not in (None, "USD"):
        return None
    per_month = _PER_MONTH.get(budget.get("timeUnit") or "MONTHLY")
    try:
        amount = float(budget.get("limitAmount"))
    except (TypeError, ValueError):
        return None
    return amount * per_month if per_month is not None else None


def covered_resources(scope: BudgetScope, estimate: Estimate) -> list[tuple[ResourceCost, float]]:
    """(resource, USD under this budget) for each priced resource the budget covers, most expensive first."""
    rows = [(resource, scope.covered_usd(resource)) for resource in estimate.resources]
    return sorted([row for row in rows if row[1] > 0], key=lambda row: -row[1])


def uncounted_resources(scope: BudgetScope, estimate: Estimate) -> list[ResourceCost]:
    """Covered resources the estimate could not price (unpriced or missing usage): what makes a budget unprovable."""
    return [r for r in estimate.resources if r.status in (UNPRICED, NEEDS_USAGE) and scope.covers(r)]


def unevaluated_filters(scope: BudgetScope, resources: Iterable[ResourceCost]) -> list[str]:
    """The filters of the budget not evaluated for at least one of the resources, in first-seen order."""
    names: dict[str, None] = {}
    for resource in resources:
        names.update(dict.fromkeys(scope.unevaluated_filters(resource.region, resource.account)))
    return list(names)
