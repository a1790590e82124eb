"""What the cost estimate produces: price lines per resource, rolled up per component and per cost tag.

Every line is `quantity x unit price`, with the price's source and as-of date, so a reader can check
any figure by hand. A resource is `priced`, `free` (AWS charges nothing for it), `needs-usage` (it
costs by usage and the usage file says nothing about it) or `unpriced` (the estimator cannot price
it). Only priced lines add up to the total; the others are listed, never counted as $0.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable, Optional

PRICED, FREE, NEEDS_USAGE, UNPRICED = "priced", "free", "needs-usage", "unpriced"
UNTAGGED = "(untagged)"
NO_COMPONENT = "(stack)"

# AWS's billing service names, as Budgets' `Service` cost filter and Cost Explorer spell them.
EC2_COMPUTE = "Amazon Elastic Compute Cloud - Compute"
EC2_OTHER = "EC2 - Other"  # EBS volumes, NAT gateways
S3 = "Amazon Simple Storage Service"
BACKUP = "AWS Backup"
WAF = "AWS WAF"
SHIELD = "AWS Shield"
SNS = "Amazon Simple Notification Service"
SQS = "Amazon Simple Queue Service"
BUDGETS = "AWS Budgets"
KMS = "AWS Key Management Service"
CLOUDWATCH = "AmazonCloudWatch"
LAMBDA = "AWS Lambda"
ELB = "Amazon Elastic Load Balancing"
VPC = "Amazon Virtual Private Cloud"
EKS = "Amazon Elastic Container Service for Kubernetes"
CONFIG = "AWS Config"
SAGEMAKER = "Amazon SageMaker"
EFS = "Amazon Elastic File System"
FSX = "Amazon FSx"
ECR = "Amazon EC2 Container Registry (ECR)"
DATA_TRANSFER = "AWS Data Transfer"
CLOUDFRONT = "Amazon CloudFront"
API_GATEWAY = "Amazon API Gateway"
ROUTE53 = "Amazon Route 53"
DYNAMODB = "Amazon DynamoDB"
ELASTICACHE = "Amazon ElastiCache"
RDS = "Amazon Relational Database Service"
FIREHOSE = "Amazon Kinesis Firehose"
SECRETS_MANAGER = "AWS Secrets Manager"
CLOUDTRAIL = "AWS CloudTrail"
STEP_FUNCTIONS = "AWS Step Functions"
EVENTBRIDGE = "Amazon EventBridge"


@dataclass
class PriceLine:
    description: str
    quantity: float
    unit: str
    unit_usd: float
    service: str
    source: str
    as_of: str
    assumption: str = ""
    instance_type: str = ""  # set on EC2 on-demand instance-hours, which reservations and Savings Plans cover

    @property
    def monthly_usd(self) -> float:
        return self.quantity * self.unit_usd


@dataclass
class Priced:
    """A pricer's answer for one resource."""

    status: str = PRICED
    lines: list[PriceLine] = field(default_factory=list)
    naive_lines: Optional[list[PriceLine]] = None  # None: the naive equivalent costs the same
    note: str = ""
    # A group that can scale: its lines at its maximum size (None: no range, the maximum is `lines`).
    max_lines: Optional[list[PriceLine]] = None
    unbounded: bool = False  # it can scale with no maximum: the figure at maximum scale is not an upper bound


def free(note: str) -> Priced:
    return Priced(FREE, note=note)


def unpriced(note: str) -> Priced:
    return Priced(UNPRICED, note=note)


def needs_usage(note: str) -> Priced:
    return Priced(NEEDS_USAGE, note=note)


@dataclass
class ResourceCost:
    urn: str
    type: str
    name: str
    status: str
    lines: list[PriceLine]
    naive_lines: Optional[list[PriceLine]]
    note: str
    component: str  # the outermost component's name, or NO_COMPONENT
    component_type: str
    tags: dict[str, str]
    # Where AWS bills it, for budget filters: the provider's region and account ("" when not known offline).
    region: str = ""
    account: str = ""
    max_lines: Optional[list[PriceLine]] = None  # at the group's maximum size, list price; None: no range
    unbounded: bool = False  # no maximum size: nothing bounds what it may cost (a NodePool without limits)

    @property
    def monthly_usd(self) -> float:
        return sum(line.monthly_usd for line in self.lines)

    @property
    def has_range(self) -> bool:
        return self.max_lines is not None

    @property
    def lines_at_maximum(self) -> list[PriceLine]:
        """What the resource bills at its maximum size: the lines a budget gate set to the maximum sums."""
        return self.lines if self.max_lines is None else self.max_lines

    @property
    def max_monthly_usd(self) -> float:
        """The monthly cost at the maximum size (list price: discounts apply to the desired size only)."""
        return sum(line.monthly_usd for line in self.lines_at_maximum)

    @property
    def naive_monthly_usd(self) -> float:
        lines = self.lines if self.naive_lines is None else self.naive_lines
        return sum(line.monthly_usd for line in lines)


@dataclass
class ComponentCost:
    name: str
    type: str
    monthly_usd: float
    naive_monthly_usd: float


@dataclass
class Estimate:
    stack: str
    region: str
    resources: list[ResourceCost]
    cost_tag_keys: list[str]
    warnings: list[str] = field(default_factory=list)
    usage_source: str = ""
    region_pricing: list[dict[str, str]] = field(default_factory=list)  # which tables priced each region

    @property
    def priced(self) -> list[ResourceCost]:
        return [r for r in self.resources if r.status == PRICED]

    @property
    def monthly_usd(self) -> float:
        return sum(r.monthly_usd for r in self.priced)

    @property
    def max_monthly_usd(self) -> float:
        """The priced total with every scalable group at its maximum size (see ResourceCost.lines_at_maximum);
        a lower bound only when `unbounded` lists resources."""
        return sum(r.max_monthly_usd for r in self.priced)

    @property
    def unbounded(self) -> list[ResourceCost]:
        """Priced resources with no maximum size, so no figure bounds what they may cost."""
        return [r for r in self.priced if r.unbounded]

    @property
    def naive_monthly_usd(self) -> float:
        return sum(r.naive_monthly_usd for r in self.priced)

    @property
    def savings_usd(self) -> float:
        return self.naive_monthly_usd - self.monthly_usd

    @property
    def savings_percent(self) -> float:
        naive = self.naive_monthly_usd
        return 100.0 * self.savings_usd / naive if naive else 0.0

    def with_status(self, status: str) -> list[ResourceCost]:
        return [r for r in self.resources if r.status == status]

    def by_component(self) -> list[ComponentCost]:
        """Priced cost per outermost component, most expensive first."""
        rows: dict[str, ComponentCost] = {}
        for resource in self.priced:
            row = rows.setdefault(resource.component, ComponentCost(resource.component, resource.component_type, 0, 0))
            row.monthly_usd += resource.monthly_usd
            row.naive_monthly_usd += resource.naive_monthly_usd
        return sorted(rows.values(), key=lambda row: (-row.monthly_usd, row.name))

    def by_tag(self, key: str) -> dict[str, float]:
        """Priced cost per value of cost tag `key`, most expensive first."""
        totals: dict[str, float] = {}
        for resource in self.priced:
            value = resource.tags.get(key) or UNTAGGED
            totals[value] = totals.get(value, 0.0) + resource.monthly_usd
        return dict(sorted(totals.items(), key=lambda item: (-item[1], item[0])))

    def sources(self) -> list[tuple[str, str]]:
        """Each (source, as-of) that a priced line used, in first-use order."""
        seen: dict[tuple[str, str], None] = {}
        for resource in self.resources:
            for line in resource.lines + (resource.naive_lines or []) + (resource.max_lines or []):
                seen.setdefault((line.source, line.as_of), None)
        return list(seen)

    def at_maximum(self) -> "Estimate":
        """The estimate with every scalable group at its maximum size: what a budget gate set to the maximum
        compares (budgets.covered_resources(scope, estimate.at_maximum()))."""
        return replace(self, resources=[replace(r, lines=r.lines_at_maximum, max_lines=None) for r in self.resources])


def top_drivers(resources: Iterable[ResourceCost], count: int = 3) -> list[ResourceCost]:
    return sorted((r for r in resources if r.status == PRICED), key=lambda r: -r.monthly_usd)[:count]
