"""The services around the GPUs: WAF, Shield, SNS, Budgets, KMS, CloudWatch, Lambda, load balancers,
NAT, public IPs and EKS control planes; and the resource types AWS charges nothing for."""
from __future__ import annotations

from typing import Any

from aifinops.core.service_prices import DAYS_PER_MONTH, service_price, service_quantity

from ..values import as_list
from .compute import hours_of
from .context import PricingContext
from .model import (
    BUDGETS,
    CLOUDWATCH,
    EC2_OTHER,
    EKS,
    ELB,
    KMS,
    LAMBDA,
    SHIELD,
    SNS,
    SQS,
    VPC,
    WAF,
    Priced,
    PriceLine,
    free,
    needs_usage,
)
from .view import CostResource

BUDGET = "aws:budgets/budget:Budget"
BUDGET_ACTION = "aws:budgets/budgetAction:BudgetAction"


def _line(service_key: tuple[str, str], billing_service: str, description: str, quantity: float,
          assumption: str = "") -> PriceLine:
    price = service_price(*service_key)
    return PriceLine(description, quantity, price.unit, price.usd, billing_service, price.source, price.as_of,
                     assumption)


def price_web_acl(r: CostResource, ctx: PricingContext) -> Priced:
    rules = [rule for rule in as_list(r.get("rules")) if isinstance(rule, dict)]
    lines = [_line(("waf", "webAcl"), WAF, "web ACL", 1),
             _line(("waf", "rule"), WAF, f"{len(rules)} rules (a managed rule group counts as one)", len(rules))]
    usage = ctx.usage_for(r)
    if "monthlyRequestsMillions" in usage:
        lines.append(_line(("waf", "requests"), WAF, "requests inspected", usage["monthlyRequestsMillions"],
                           "usage file"))
        return Priced(lines=lines)
    priced = Priced(lines=lines)
    priced.note = "requests not priced: set monthlyRequestsMillions in the usage file ($0.60 per million)"
    return priced


def price_shield_subscription(r: CostResource, ctx: PricingContext) -> Priced:
    return Priced(lines=[_line(("shield", "advancedSubscription"), SHIELD, "Shield Advanced subscription", 1,
                               "per organization, 1-year commitment; data transfer out fees not included")])


def price_topic(r: CostResource, ctx: PricingContext) -> Priced:
    usage = ctx.usage_for(r)
    lines = []
    if "monthlyPublishes" in usage:
        lines.append(_line(("sns", "publishes"), SNS, "publishes", usage["monthlyPublishes"] / 1e6, "usage file"))
    if "monthlyEmailDeliveries" in usage:
        lines.append(_line(("sns", "emailDeliveries"), SNS, "email deliveries",
                           usage["monthlyEmailDeliveries"] / 1e5, "usage file"))
    if not lines:
        return needs_usage("charged per publish ($0.50 per million) and delivery: set monthlyPublishes in the "
                           "usage file (alert topics publish a few times a month, inside the free tier)")
    return Priced(lines=lines)


def price_queue(r: CostResource, ctx: PricingContext) -> Priced:
    usage = ctx.usage_for(r)
    if "monthlyRequestsMillions" not in usage:
        return needs_usage("charged per request ($0.40 per million past the first million a month): set "
                           "monthlyRequestsMillions in the usage file (a dead-letter queue sees almost none)")
    return Priced(lines=[_line(("sqs", "requests"), SQS, "requests", usage["monthlyRequestsMillions"], "usage file")])


def price_budget(r: CostResource, ctx: PricingContext) -> Priced:
    """Budgets are free; action-enabled budget-days past the free allowance cost $0.10 a day."""
    action_budgets = _action_enabled_budgets(ctx)
    if r not in action_budgets:
        return free("budgets without actions are free")
    allowance = service_quantity("budgets", "freeActionEnabledBudgetDays")
    days_before = action_budgets.index(r) * DAYS_PER_MONTH
    billable = max(0.0, days_before + DAYS_PER_MONTH - max(allowance, days_before))
    return Priced(lines=[_line(("budgets", "actionEnabledBudgetDay"), BUDGETS, "action-enabled budget-days", billable,
                               f"{len(action_budgets)} action-enabled budgets in the stack share the free "
                               f"{allowance:g} budget-days a month (assumes none elsewhere in the account)")])


def _action_enabled_budgets(ctx: PricingContext) -> list[CostResource]:
    found = []
    for action in ctx.of_type(BUDGET_ACTION):
        budget = ctx.linked(action, "budgetName", action.get("budgetName"), BUDGET)
        if budget is not None and budget not in found:
            found.append(budget)
    return sorted(found, key=lambda b: b.urn)


def price_kms_key(r: CostResource, ctx: PricingContext) -> Priced:
    return Priced(lines=[_line(("kms", "customerManagedKey"), KMS, "customer managed key", 1,
                               "requests not included ($0.03 per 10,000)")])


def price_metric_alarm(r: CostResource, ctx: PricingContext) -> Priced:
    metrics = max(1, len(as_list(r.get("metricQueries"))))
    return Priced(lines=[_line(("cloudwatch", "alarm"), CLOUDWATCH, "alarm metrics", metrics)])


def price_log_group(r: CostResource, ctx: PricingContext) -> Priced:
    usage = ctx.usage_for(r)
    if "monthlyIngestedGb" not in usage:
        return needs_usage("charged per GB ingested ($0.50) and stored: set monthlyIngestedGb in the usage file")
    lines = [_line(("cloudwatch", "logsIngestion"), CLOUDWATCH, "logs ingested", usage["monthlyIngestedGb"], "usage file")]
    stored = usage.get("storedGb", usage["monthlyIngestedGb"])
    lines.append(_line(("cloudwatch", "logsStorage"), CLOUDWATCH, "logs stored", stored,
                       "usage file" if "storedGb" in usage else "one month of ingest kept (set storedGb)"))
    return Priced(lines=lines)


def price_lambda(r: CostResource, ctx: PricingContext) -> Priced:
    usage = ctx.usage_for(r)
    if "monthlyInvocations" not in usage:
        return needs_usage("charged per request and GB-second: set monthlyInvocations and averageDurationMs "
                           "in the usage file")
    memory_gb = (r.get("memorySize") if isinstance(r.get("memorySize"), (int, float)) else 128) / 1024
    duration_s = float(usage.get("averageDurationMs", 1000)) / 1000
    invocations = float(usage["monthlyInvocations"])
    return Priced(lines=[
        _line(("lambda", "requests"), LAMBDA, "requests", invocations / 1e6, "usage file"),
        _line(("lambda", "compute"), LAMBDA, f"compute at {memory_gb * 1024:g} MB", invocations * duration_s * memory_gb,
              f"{duration_s:g} s per invocation" + ("" if "averageDurationMs" in usage else " (assumed)"))])


def price_load_balancer(r: CostResource, ctx: PricingContext) -> Priced:
    kind = r.get("loadBalancerType") or "application"
    if kind not in ("application", "network"):
        return Priced(status="unpriced", note=f"no price for {kind} load balancers")
    usage = ctx.usage_for(r)
    hours, assumption = hours_of(usage, "the load balancer")
    lines = [_line(("elb", kind), ELB, f"{kind} load balancer", hours, assumption)]
    if "averageLcu" in usage:
        lines.append(_line(("elb", f"lcu.{kind}"), ELB, "capacity units", usage["averageLcu"] * hours, "usage file"))
    priced = Priced(lines=lines)
    if "averageLcu" not in usage:
        priced.note = "capacity units not priced: set averageLcu in the usage file"
    return priced


def price_nat_gateway(r: CostResource, ctx: PricingContext) -> Priced:
    usage = ctx.usage_for(r)
    hours, assumption = hours_of(usage, "the gateway")
    lines = [_line(("vpc", "natGateway"), EC2_OTHER, "NAT gateway", hours, assumption)]
    if "monthlyProcessedGb" in usage:
        lines.append(_line(("vpc", "natGatewayData"), EC2_OTHER, "data processed", usage["monthlyProcessedGb"], "usage file"))
    return Priced(lines=lines)


def price_eip(r: CostResource, ctx: PricingContext) -> Priced:
    hours, assumption = hours_of(ctx.usage_for(r), "the address")
    return Priced(lines=[_line(("vpc", "publicIpv4"), VPC, "public IPv4 address", hours, assumption)])


def price_eks_cluster(r: CostResource, ctx: PricingContext) -> Priced:
    hours, assumption = hours_of(ctx.usage_for(r), "the control plane")
    return Priced(lines=[_line(("eks", "cluster"), EKS, "EKS control plane", hours, assumption)])


# Types that AWS charges nothing for by themselves, and why (so the report can say so).
FREE_TYPES: dict[str, str] = {
    **{t: "IAM is free" for t in (
        "aws:iam/role:Role", "aws:iam/policy:Policy", "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "aws:iam/instanceProfile:InstanceProfile",
        "aws:iam/policyAttachment:PolicyAttachment", "aws:iam/serviceLinkedRole:ServiceLinkedRole")},
    **{t: "no charge of its own: the bucket's storage and requests are priced on the bucket" for t in (
        "aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "aws:s3/bucketPolicy:BucketPolicy",
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls", "aws:s3/bucketLogging:BucketLogging",
        "aws:s3/bucketLoggingV2:BucketLoggingV2", "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
        "aws:s3/bucketIntelligentTieringConfiguration:BucketIntelligentTieringConfiguration",
        "aws:s3/bucketNotification:BucketNotification")},
    "aws:ec2/launchTemplate:LaunchTemplate": "no charge for the template: priced on what launches from it",
    "aws:ec2/securityGroup:SecurityGroup": "security groups are free",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "security groups are free",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "security groups are free",
    "aws:autoscaling/schedule:Schedule": "scheduled actions are free",
    "aws:autoscaling/policy:Policy": "scaling policies are free (their alarms are priced)",
    "aws:autoscaling/lifecycleHook:LifecycleHook": "lifecycle hooks are free",
    "aws:sns/topicPolicy:TopicPolicy": "topic policies are free",
    "aws:sns/topicSubscription:TopicSubscription": "deliveries are priced on the topic",
    "aws:kms/alias:Alias": "aliases are free",
    "aws:kms/keyPolicy:KeyPolicy": "key policies are free",
    "aws:cloudwatch/eventRule:EventRule": "EventBridge rules on AWS service events are free",
    "aws:cloudwatch/eventTarget:EventTarget": "EventBridge rules on AWS service events are free",
    "aws:lambda/permission:Permission": "permissions are free",
    "aws:budgets/budgetAction:BudgetAction": "priced on its budget (action-enabled budget-days)",
    "aws:costexplorer/anomalyMonitor:AnomalyMonitor": "Cost Anomaly Detection is free",
    "aws:costexplorer/anomalySubscription:AnomalySubscription": "Cost Anomaly Detection is free",
    "aws:costexplorer/costAllocationTag:CostAllocationTag": "activating cost allocation tags is free",
    "aws:bcmdata/export:Export": "Data Exports delivers CUR 2.0 free: its storage is priced on the bucket",
    "aws:glue/catalogDatabase:CatalogDatabase": "the Glue Data Catalog's first million objects are free",
    "aws:glue/catalogTable:CatalogTable": "the Glue Data Catalog's first million objects are free",
    "aws:athena/workgroup:Workgroup": "the workgroup is free; each query is billed per TB scanned ($5/TB in "
                                      "us-east-1), up to the workgroup's per-query cutoff",
    "aws:athena/namedQuery:NamedQuery": "saved queries are free; running one is billed on the workgroup",
    "aws:shield/protection:Protection": "included in the Shield Advanced subscription",
    "aws:shield/protectionGroup:ProtectionGroup": "included in the Shield Advanced subscription",
    "aws:shield/protectionHealthCheckAssociation:ProtectionHealthCheckAssociation": "included in Shield Advanced",
    "aws:wafv2/webAclAssociation:WebAclAssociation": "associations are free",
    "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration": "priced on the log destination",
    "aws:backup/vault:Vault": "vaults are free: recovery points are priced on the backup plan",
    "aws:backup/selection:Selection": "priced on its backup plan",
    "aws:backup/vaultLockConfiguration:VaultLockConfiguration": "vault locks are free",
    "aws:backup/vaultPolicy:VaultPolicy": "vault policies are free",
    "aws:backup/vaultNotifications:VaultNotifications": "notifications are priced on the topic",
    "aws:ec2/eipAssociation:EipAssociation": "priced on the address",
    "aws:lb/targetGroup:TargetGroup": "target groups are free", "aws:lb/listener:Listener": "listeners are free",
    "aws:lb/targetGroupAttachment:TargetGroupAttachment": "free",
}
# Whole packages that never reach an AWS bill.
FREE_PACKAGES = {"random": "computed by the provider, no cloud resource", "tls": "computed by the provider",
                 "command": "runs a local command"}
# Kubernetes objects that hold no capacity of their own.
KUBERNETES_FREE_KINDS = ("Namespace", "NetworkPolicy", "PodDisruptionBudget", "HorizontalPodAutoscaler",
                         "ConfigMap", "Secret", "ServiceAccount", "Role", "RoleBinding", "ClusterRole",
                         "ClusterRoleBinding", "ResourceQuota", "LimitRange", "PriorityClass")


def price_kubernetes(r: CostResource, ctx: PricingContext) -> Priced:
    kind = r.type.rsplit(":", 1)[-1]
    if kind in KUBERNETES_FREE_KINDS:
        return free(f"a Kubernetes {kind} holds no capacity")
    if kind == "Service" and r.get("spec", "type") not in ("LoadBalancer",):
        return free("a cluster-internal Service holds no capacity")
    return Priced(status="unpriced", note=f"a Kubernetes {kind} runs on cluster nodes: price the node group, "
                                          f"fleet or Karpenter capacity that serves it")


PRICERS = {
    "aws:wafv2/webAcl:WebAcl": price_web_acl,
    "aws:shield/subscription:Subscription": price_shield_subscription,
    "aws:sns/topic:Topic": price_topic,
    "aws:sqs/queue:Queue": price_queue,
    BUDGET: price_budget,
    "aws:kms/key:Key": price_kms_key,
    "aws:cloudwatch/metricAlarm:MetricAlarm": price_metric_alarm,
    "aws:cloudwatch/logGroup:LogGroup": price_log_group,
    "aws:lambda/function:Function": price_lambda,
    "aws:lb/loadBalancer:LoadBalancer": price_load_balancer,
    "aws:alb/loadBalancer:LoadBalancer": price_load_balancer,
    "aws:ec2/natGateway:NatGateway": price_nat_gateway,
    "aws:ec2/eip:Eip": price_eip,
    "aws:eks/cluster:Cluster": price_eks_cluster,
}


def free_reason(resource: CostResource) -> Any:
    return FREE_TYPES.get(resource.type) or FREE_PACKAGES.get(resource.package)
