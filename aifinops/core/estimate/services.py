"""The services around the GPUs: WAF, Shield, SNS, Budgets, KMS, CloudWatch, Lambda, load balancers,
NAT, public IPs and EKS control planes; and the resource types AWS charges nothing for."""
from __future__ import annotations

import math
import re
from typing import Any

from aifinops.core.service_prices import (
    DAYS_PER_MONTH,
    service_dates,
    service_price,
    service_quantity,
    table_as_of,
)

from ..values import as_list
from .compute import hours_of
from .declared_usage import declared_usage
from .context import PricingContext
from .model import (
    BUDGETS,
    CLOUDTRAIL,
    CLOUDWATCH,
    CONFIG,
    EC2_OTHER,
    EKS,
    ELB,
    EVENTBRIDGE,
    KMS,
    LAMBDA,
    SECRETS_MANAGER,
    SHIELD,
    SNS,
    SQS,
    STEP_FUNCTIONS,
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
CONFORMANCE_PACK = "aws:cfg/conformancePack:ConformancePack"
REQUEST_CHUNK_KB = 64  # SQS and SNS bill each 64 KB chunk of a payload as one request


def service_line(service_key: tuple[str, str], billing_service: str, description: str, quantity: float,
          assumption: str = "") -> PriceLine:
    price = service_price(*service_key)
    return PriceLine(description, quantity, price.unit, price.usd, billing_service, price.source, price.as_of,
                     assumption)


def usage_priced(r: CostResource, ctx: PricingContext, usage_key: str, price_key: tuple[str, str],
                 billing_service: str, description: str, what: str, per: float = 1.0,
                 assumption: str = "usage file") -> Priced:
    """One line from one usage key (divided by `per` into the price's unit), or needs-usage with the rate."""
    usage = ctx.usage_for(r)
    if usage_key not in usage:
        price = service_price(*price_key)
        return needs_usage(f"{what} (${price.usd:g} per {price.unit}): set {usage_key} in the usage file")
    return Priced(lines=[service_line(price_key, billing_service, description, float(usage[usage_key]) / per,
                                      assumption)])


def optional_usage_line(usage: dict[str, Any], usage_key: str, price_key: tuple[str, str], billing_service: str,
                        description: str, per: float = 1.0) -> tuple[list[PriceLine], str]:
    """The usage-priced part of a resource that is priced anyway: its line, or a note saying it needs usage."""
    if usage_key in usage:
        return [service_line(price_key, billing_service, description, float(usage[usage_key]) / per,
                             "usage file")], ""
    price = service_price(*price_key)
    return [], f"needs usage: {description} not priced: set {usage_key} in the usage file (${price.usd:g} per {price.unit})"


def price_web_acl(r: CostResource, ctx: PricingContext) -> Priced:
    rules = [rule for rule in as_list(r.get("rules")) if isinstance(rule, dict)]
    lines = [service_line(("waf", "webAcl"), WAF, "web ACL", 1),
             service_line(("waf", "rule"), WAF, f"{len(rules)} rules (a managed rule group counts as one)", len(rules))]
    usage = ctx.usage_for(r)
    if "monthlyRequestsMillions" in usage:
        lines.append(service_line(("waf", "requests"), WAF, "requests inspected", usage["monthlyRequestsMillions"],
                           "usage file"))
        return Priced(lines=lines)
    priced = Priced(lines=lines)
    priced.note = "requests not priced: set monthlyRequestsMillions in the usage file ($0.60 per million)"
    return priced


def price_shield_subscription(r: CostResource, ctx: PricingContext) -> Priced:
    return Priced(lines=[service_line(("shield", "advancedSubscription"), SHIELD, "Shield Advanced subscription", 1,
                               "per organization, 1-year commitment; data transfer out fees not included")])


def request_chunks(usage: dict[str, Any]) -> tuple[float, str]:
    """Billed requests per API call: each 64 KB chunk of a payload is billed as one request."""
    size_kb = usage.get("averageMessageKb")
    if size_kb is None:
        return 1.0, "payloads up to 64 KB assumed (set averageMessageKb)"
    chunks = max(1, math.ceil(float(size_kb) / REQUEST_CHUNK_KB))
    return float(chunks), f"{float(size_kb):g} KB payloads = {chunks} billed 64 KB chunks each"


def price_topic(r: CostResource, ctx: PricingContext) -> Priced:
    usage, source = ctx.usage_for(r), "usage file"
    if not usage:  # an aifinops alert topic states its ceiling (see declared_usage)
        usage, source = declared_usage(r, ctx.by_urn.get(r.parent)), "declared by its component (alert topic ceiling)"
    fifo = r.get("fifoTopic") is True
    kind = "FIFO" if fifo else "standard"
    lines = []
    if "monthlyPublishes" in usage:
        chunks, chunk_note = request_chunks(usage)
        key = "fifoPublishes" if fifo else "publishes"
        lines.append(service_line(("sns", key), SNS, f"{kind} publishes", usage["monthlyPublishes"] * chunks / 1e6,
                           f"{source}; {chunk_note}"))
        if fifo and "averageMessageKb" in usage:
            gb = usage["monthlyPublishes"] * float(usage["averageMessageKb"]) / (1024 * 1024)
            lines.append(service_line(("sns", "fifoPayloadGb"), SNS, "FIFO payload data", gb, source))
    if "monthlyEmailDeliveries" in usage:
        lines.append(service_line(("sns", "emailDeliveries"), SNS, "email deliveries",
                           usage["monthlyEmailDeliveries"] / 1e5, source))
    if not lines:
        rate = service_price("sns", "fifoPublishes" if fifo else "publishes").usd
        return needs_usage(f"charged per {kind} publish (${rate:g} per million, each 64 KB chunk billed as one) and "
                           f"delivery: set monthlyPublishes in the usage file (alert topics publish a few times a "
                           f"month, inside the free tier)")
    priced = Priced(lines=lines)
    if fifo and "averageMessageKb" not in usage:
        priced.note = "FIFO payload data not priced: set averageMessageKb in the usage file"
    return priced


def price_queue(r: CostResource, ctx: PricingContext) -> Priced:
    usage = ctx.usage_for(r)
    fifo = r.get("fifoQueue") is True
    kind, key = ("FIFO", "fifoRequests") if fifo else ("standard", "requests")
    rate = service_price("sqs", key).usd
    if "monthlyRequestsMillions" not in usage:
        return needs_usage(f"charged per {kind} request (${rate:g} per million past the first million a month, each "
                           f"64 KB chunk billed as one): set monthlyRequestsMillions in the usage file (a dead-letter "
                           f"queue sees almost none)")
    chunks, chunk_note = request_chunks(usage)
    return Priced(lines=[service_line(("sqs", key), SQS, f"{kind} requests", usage["monthlyRequestsMillions"] * chunks,
                               f"usage file; {chunk_note}")])


def price_budget(r: CostResource, ctx: PricingContext) -> Priced:
    """Budgets are free; action-enabled budget-days past the free allowance cost $0.10 a day."""
    action_budgets = _action_enabled_budgets(ctx)
    if r not in action_budgets:
        return free("budgets without actions are free")
    allowance = service_quantity("budgets", "freeActionEnabledBudgetDays")
    days_before = action_budgets.index(r) * DAYS_PER_MONTH
    billable = max(0.0, days_before + DAYS_PER_MONTH - max(allowance, days_before))
    return Priced(lines=[service_line(("budgets", "actionEnabledBudgetDay"), BUDGETS, "action-enabled budget-days", billable,
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
    return Priced(lines=[service_line(("kms", "customerManagedKey"), KMS, "customer managed key", 1,
                               "requests not included ($0.03 per 10,000)")])


ANOMALY_BAND = "ANOMALY_DETECTION_BAND("
HIGH_RESOLUTION_SECONDS = 60  # a period under a minute makes a high-resolution alarm


def price_metric_alarm(r: CostResource, ctx: PricingContext) -> Priced:
    """Alarms bill per metric they evaluate: expressions are not metrics; an anomaly band adds its two bounds."""
    queries = [q for q in as_list(r.get("metricQueries")) if isinstance(q, dict)]
    metrics = sum(1 for q in queries if isinstance(q.get("metric"), dict)) if queries else 1
    bands = sum(1 for q in queries if ANOMALY_BAND in str(q.get("expression") or "").upper())
    periods = [_period(r.get("period"))] + [_period(q.get("metric", {}).get("period")) for q in queries
                                            if isinstance(q.get("metric"), dict)]
    high = any(p is not None and p < HIGH_RESOLUTION_SECONDS for p in periods)
    resolution = "high-resolution" if high else "standard-resolution"
    key = "alarm.highResolution" if high else "alarm"
    expressions = len(queries) - metrics - bands if queries else 0
    lines = [service_line(("cloudwatch", key), CLOUDWATCH, f"{resolution} alarm metrics", metrics,
                   f"{metrics} metric{'s' if metrics != 1 else ''}"
                   + (f"; {expressions} math expressions are not billed" if expressions > 0 else ""))]
    if bands:
        lines.append(service_line(("cloudwatch", key), CLOUDWATCH, "anomaly detection band bounds", 2 * bands,
                           f"{bands} band(s): an anomaly detection alarm bills its upper and lower bound as metrics"))
    return Priced(lines=lines)


def _period(value: Any) -> Any:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def price_composite_alarm(r: CostResource, ctx: PricingContext) -> Priced:
    return Priced(lines=[service_line(("cloudwatch", "compositeAlarm"), CLOUDWATCH, "composite alarm", 1)])


def price_dashboard(r: CostResource, ctx: PricingContext) -> Priced:
    return Priced(lines=[service_line(("cloudwatch", "dashboard"), CLOUDWATCH, "dashboard", 1,
                                      "the account's first 3 dashboards are free; not deducted")])


STANDARD_PARAMETER_BYTES = 4096


def price_ssm_parameter(r: CostResource, ctx: PricingContext) -> Priced:
    """Standard parameters are free; an Advanced one (or an Intelligent-Tiering one over the standard 4 KB)
    bills per month. API interactions are not priced."""
    advanced = r.get("tier") == "Advanced" or (
        r.get("tier") == "Intelligent-Tiering" and len(str(r.get("value") or "")) > STANDARD_PARAMETER_BYTES)
    if not advanced:
        return free("standard parameters are free")
    return Priced(lines=[service_line(("ssm", "advancedParameter"), "AWS Systems Manager", "advanced parameter", 1)])


def price_log_group(r: CostResource, ctx: PricingContext) -> Priced:
    usage = ctx.usage_for(r)
    if "monthlyIngestedGb" not in usage:
        return needs_usage("charged per GB ingested ($0.50) and stored: set monthlyIngestedGb in the usage file")
    lines = [service_line(("cloudwatch", "logsIngestion"), CLOUDWATCH, "logs ingested", usage["monthlyIngestedGb"], "usage file")]
    stored = usage.get("storedGb", usage["monthlyIngestedGb"])
    lines.append(service_line(("cloudwatch", "logsStorage"), CLOUDWATCH, "logs stored", stored,
                       "usage file" if "storedGb" in usage else "one month of ingest kept (set storedGb)"))
    return Priced(lines=lines)


def price_lambda(r: CostResource, ctx: PricingContext) -> Priced:
    usage = ctx.usage_for(r)
    arm = "arm64" in as_list(r.get("architectures"))
    architecture = "arm64" if arm else "x86_64"
    if "monthlyInvocations" not in usage:
        first = service_price("lambda", f"compute.{architecture}.tier1").usd
        return needs_usage(f"charged per request ($0.20 per million) and GB-second (${first:g} on {architecture}): "
                           f"set monthlyInvocations and averageDurationMs in the usage file")
    memory_gb = (r.get("memorySize") if isinstance(r.get("memorySize"), (int, float)) else 128) / 1024
    duration_s = float(usage.get("averageDurationMs", 1000)) / 1000
    invocations = float(usage["monthlyInvocations"])
    gb_seconds = invocations * duration_s * memory_gb
    assumption = (f"{duration_s:g} s per invocation" + ("" if "averageDurationMs" in usage else " (assumed)")
                  + "; volume tiers applied to this function alone (AWS applies them per account)")
    lines = [service_line(("lambda", "requests"), LAMBDA, "requests", invocations / 1e6, "usage file")]
    low = 0.0
    for tier in (1, 2, 3):
        key = f"compute.{architecture}.tier{tier}"
        ceiling = service_quantity("lambda", f"{key}.upToGbSeconds") if tier < 3 else None
        in_tier = max(0.0, min(gb_seconds, ceiling if ceiling is not None else gb_seconds) - low)
        if in_tier > 0 or tier == 1:
            span = f"above {low:,.0f}" if ceiling is None else f"{low:,.0f}-{ceiling:,.0f}"
            tiered = "" if tier == 1 and in_tier == gb_seconds else f" (GB-seconds {span})"
            lines.append(service_line(("lambda", key), LAMBDA, f"{architecture} compute at {memory_gb * 1024:g} MB"
                                      f"{tiered}", in_tier, assumption))
        low = ceiling if ceiling is not None else low
    return Priced(lines=lines)


def price_load_balancer(r: CostResource, ctx: PricingContext) -> Priced:
    kind = r.get("loadBalancerType") or "application"
    if kind not in ("application", "network"):
        return Priced(status="unpriced", note=f"no price for {kind} load balancers")
    usage = ctx.usage_for(r)
    hours, assumption = hours_of(usage, "the load balancer")
    lines = [service_line(("elb", kind), ELB, f"{kind} load balancer", hours, assumption)]
    if "averageLcu" in usage:
        lines.append(service_line(("elb", f"lcu.{kind}"), ELB, "capacity units", usage["averageLcu"] * hours, "usage file"))
    priced = Priced(lines=lines)
    if "averageLcu" not in usage:
        priced.note = "capacity units not priced: set averageLcu in the usage file"
    return priced


def price_nat_gateway(r: CostResource, ctx: PricingContext) -> Priced:
    usage = ctx.usage_for(r)
    hours, assumption = hours_of(usage, "the gateway")
    data, note = optional_usage_line(usage, "monthlyProcessedGb", ("vpc", "natGatewayData"), EC2_OTHER,
                                     "data processed")
    return Priced(lines=[service_line(("vpc", "natGateway"), EC2_OTHER, "NAT gateway", hours, assumption)] + data,
                  note=note)


def price_eip(r: CostResource, ctx: PricingContext) -> Priced:
    hours, assumption = hours_of(ctx.usage_for(r), "the address")
    return Priced(lines=[service_line(("vpc", "publicIpv4"), VPC, "public IPv4 address", hours, assumption)])


def eks_support(r: CostResource) -> tuple[str, str]:
    """("standard" | "extended", why) for a cluster's version, as of the price table's date.

    A version past its end of standard support runs in extended support (6x the rate) unless the cluster's
    upgrade policy is STANDARD, in which case AWS upgrades it instead.
    """
    version = r.get("version")
    as_of = table_as_of()
    if not isinstance(version, str) or not re.fullmatch(r"\d+\.\d+", version):
        return "standard", "version not set: EKS creates the latest, in standard support"
    if r.get("upgradePolicy", "supportType") == "STANDARD":
        return "standard", f"version {version}; upgradePolicy STANDARD: upgraded when standard support ends"
    ends = service_dates("eks", "standardSupportEnds")
    listed = sorted(ends, key=_version_key)
    end = ends.get(version)
    if end is None and _version_key(version) < _version_key(listed[0]):
        return "extended", f"version {version} is older than every version in the table ({listed[0]}+)"
    if end is None:
        return "standard", f"version {version} is newer than the table's versions: in standard support"
    if end <= as_of:
        return "extended", f"version {version}: standard support ended {end} (table as of {as_of})"
    return "standard", f"version {version}: standard support until {end} (table as of {as_of})"


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def price_config_evaluations(r: CostResource, ctx: PricingContext) -> Priced:
    """A Config rule (or a conformance pack's rules) costs per evaluation: one per change to a resource in scope."""
    key = "conformancePackEvaluation" if r.type == CONFORMANCE_PACK else "ruleEvaluation"
    usage = ctx.usage_for(r)
    if "monthlyEvaluations" not in usage:
        return needs_usage("charged per rule evaluation ($0.001): set monthlyEvaluations in the usage file (about "
                           "one per resource created or changed in the rule's scope, per rule)")
    return Priced(lines=[service_line(("config", key), CONFIG, "rule evaluations", usage["monthlyEvaluations"], "usage file")])


def price_config_recorder(r: CostResource, ctx: PricingContext) -> Priced:
    usage = ctx.usage_for(r)
    if "monthlyConfigurationItems" not in usage:
        return needs_usage("charged per configuration item recorded ($0.003): set monthlyConfigurationItems in the "
                           "usage file (one per change to a recorded resource)")
    return Priced(lines=[service_line(("config", "configurationItem"), CONFIG, "configuration items",
                               usage["monthlyConfigurationItems"], "usage file")])


def price_eks_cluster(r: CostResource, ctx: PricingContext) -> Priced:
    hours, assumption = hours_of(ctx.usage_for(r), "the control plane")
    support, why = eks_support(r)
    key = "cluster.extendedSupport" if support == "extended" else "cluster"
    return Priced(lines=[service_line(("eks", key), EKS, f"EKS control plane, {support} support", hours,
                               f"{assumption}; {why}")])


def price_secret(r: CostResource, ctx: PricingContext) -> Priced:
    calls, note = optional_usage_line(ctx.usage_for(r), "monthlyApiCalls", ("secretsmanager", "apiCalls"),
                                      SECRETS_MANAGER, "API calls", per=1e4)
    return Priced(lines=[service_line(("secretsmanager", "secret"), SECRETS_MANAGER, "secret", 1)] + calls, note=note)


def _has_data_events(r: CostResource) -> bool:
    basic = any(isinstance(s, dict) and s.get("dataResources") for s in as_list(r.get("eventSelectors")))
    advanced = any(isinstance(f, dict) and f.get("field") == "eventCategory" and "Data" in as_list(f.get("equals"))
                   for s in as_list(r.get("advancedEventSelectors")) if isinstance(s, dict)
                   for f in as_list(s.get("fieldSelectors")))
    return basic or advanced


def price_trail(r: CostResource, ctx: PricingContext) -> Priced:
    if not _has_data_events(r):
        return free("the first copy of management events is free (an additional trail pays $2.00 per 100,000)")
    return usage_priced(r, ctx, "monthlyDataEvents", ("cloudtrail", "dataEvents"), CLOUDTRAIL, "data events",
                        "data events are charged per event", per=1e5)


def price_state_machine(r: CostResource, ctx: PricingContext) -> Priced:
    usage = ctx.usage_for(r)
    if r.get("type") == "EXPRESS":
        if "monthlyInvocations" not in usage:
            return needs_usage("express workflows are charged per request ($1.00 per million) and GB-second: set "
                               "monthlyInvocations and averageDurationMs in the usage file")
        invocations = float(usage["monthlyInvocations"])
        seconds = float(usage.get("averageDurationMs", 1000)) / 1000
        return Priced(lines=[
            service_line(("stepfunctions", "expressRequests"), STEP_FUNCTIONS, "express requests", invocations / 1e6,
                         "usage file"),
            service_line(("stepfunctions", "expressDuration"), STEP_FUNCTIONS, "express duration at 64 MB",
                         invocations * seconds * 64 / 1024,
                         f"{seconds:g} s per execution" + ("" if "averageDurationMs" in usage else " (assumed)"))])
    return usage_priced(r, ctx, "monthlyStateTransitions", ("stepfunctions", "standard"), STEP_FUNCTIONS,
                        "state transitions", "standard workflows are charged per state transition", per=1000,
                        assumption="usage file; the account's free 4,000 a month not deducted")


def price_event_bus(r: CostResource, ctx: PricingContext) -> Priced:
    return usage_priced(r, ctx, "monthlyEventsMillions", ("eventbridge", "customEvents"), EVENTBRIDGE,
                        "custom events published", "custom events are charged per event published (AWS service "
                        "events are free)")


def price_schedule(r: CostResource, ctx: PricingContext) -> Priced:
    return usage_priced(r, ctx, "monthlyInvocations", ("eventbridge", "schedulerInvocations"), EVENTBRIDGE,
                        "scheduler invocations", "EventBridge Scheduler is charged per invocation", per=1e6,
                        assumption="usage file; free tier not deducted")


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
    "aws:appautoscaling/target:Target": "Application Auto Scaling is free: priced on what it scales",
    "aws:appautoscaling/policy:Policy": "Application Auto Scaling is free (its alarms are priced)",
    "aws:appautoscaling/scheduledAction:ScheduledAction": "Application Auto Scaling is free",
    "aws:sns/topicPolicy:TopicPolicy": "topic policies are free",
    "aws:sns/topicSubscription:TopicSubscription": "deliveries are priced on the topic",
    "aws:kms/alias:Alias": "aliases are free",
    "aws:kms/keyPolicy:KeyPolicy": "key policies are free",
    "aws:cloudwatch/eventRule:EventRule": "EventBridge rules on AWS service events are free",
    "aws:cloudwatch/eventTarget:EventTarget": "EventBridge rules on AWS service events are free",
    "aws:lambda/permission:Permission": "permissions are free",
    "aws:ssm/association:Association": "State Manager associations on EC2 instances are free",
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
    "aws:wafv2/ipSet:IpSet": "IP sets are free",
    "aws:wafv2/regexPatternSet:RegexPatternSet": "regex pattern sets are free",
    "aws:wafv2/ruleGroup:RuleGroup": "no charge of its own: a web ACL that references it pays for it as a rule",
    "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration": "priced on the log destination",
    "aws:backup/vault:Vault": "vaults are free: recovery points are priced on the backup plan",
    "aws:backup/selection:Selection": "priced on its backup plan",
    "aws:backup/vaultLockConfiguration:VaultLockConfiguration": "vault locks are free",
    "aws:backup/vaultPolicy:VaultPolicy": "vault policies are free",
    "aws:backup/vaultNotifications:VaultNotifications": "notifications are priced on the topic",
    "aws:ec2/eipAssociation:EipAssociation": "priced on the address",
    "aws:lb/targetGroup:TargetGroup": "target groups are free", "aws:lb/listener:Listener": "listeners are free",
    "aws:lb/targetGroupAttachment:TargetGroupAttachment": "free",
    "aws:cfg/deliveryChannel:DeliveryChannel": "priced on the recorder (delivery goes to your bucket)",
    "aws:cfg/recorderStatus:RecorderStatus": "priced on the recorder",
    "aws:organizations/policy:Policy": "AWS Organizations and its policies are free",
    "aws:organizations/policyAttachment:PolicyAttachment": "AWS Organizations and its policies are free",
    "aws:secretsmanager/secretVersion:SecretVersion": "priced on the secret",
    "aws:secretsmanager/secretPolicy:SecretPolicy": "secret policies are free",
    "aws:secretsmanager/secretRotation:SecretRotation": "rotation is free (its Lambda is priced)",
    "aws:cloudwatch/eventBusPolicy:EventBusPolicy": "event bus policies are free",
    "aws:ec2/launchConfiguration:LaunchConfiguration": "no charge for the launch configuration: priced on the "
                                                       "auto scaling groups that use it",
}
# Whole packages that never reach an AWS bill.
FREE_PACKAGES = {"random": "computed by the provider, no cloud resource", "tls": "computed by the provider",
                 "command": "runs a local command"}
# Kubernetes objects that hold no capacity of their own.
KUBERNETES_FREE_KINDS = ("Namespace", "NetworkPolicy", "PodDisruptionBudget", "HorizontalPodAutoscaler",
                         "ConfigMap", "Secret", "ServiceAccount", "Role", "RoleBinding", "ClusterRole",
                         "ClusterRoleBinding", "ResourceQuota", "LimitRange", "PriorityClass",
                         "ServiceMonitor", "PodMonitor", "PrometheusRule")  # the Prometheus Operator's configuration


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
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": price_composite_alarm,
    "aws:cloudwatch/dashboard:Dashboard": price_dashboard,
    "aws:ssm/parameter:Parameter": price_ssm_parameter,
    "aws:cloudwatch/logGroup:LogGroup": price_log_group,
    "aws:lambda/function:Function": price_lambda,
    "aws:lb/loadBalancer:LoadBalancer": price_load_balancer,
    "aws:alb/loadBalancer:LoadBalancer": price_load_balancer,
    "aws:ec2/natGateway:NatGateway": price_nat_gateway,
    "aws:ec2/eip:Eip": price_eip,
    "aws:eks/cluster:Cluster": price_eks_cluster,
    "aws:cfg/rule:Rule": price_config_evaluations,
    CONFORMANCE_PACK: price_config_evaluations,
    "aws:cfg/recorder:Recorder": price_config_recorder,
    "aws:secretsmanager/secret:Secret": price_secret,
    "aws:cloudtrail/trail:Trail": price_trail,
    "aws:sfn/stateMachine:StateMachine": price_state_machine,
    "aws:cloudwatch/eventBus:EventBus": price_event_bus,
    "aws:scheduler/schedule:Schedule": price_schedule,
}

