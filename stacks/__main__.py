"""The example AI platform: composes aifinops components from the stack's config.

Each config section (tieredBuckets, gpuInstances, gpuFleets, costBudgets, ...) is a list of components of one kind, each with a `name` and
that component's settings in camelCase. Sections are built in order, so later ones can refer to
earlier components by name.
"""
import pulumi

from aifinops.components.alert_topic import AlertTopic, AlertTopicArgs
from aifinops.components.backup_plan import BackupPlan, BackupPlanArgs
from aifinops.components.budget_guard import BudgetGuard, BudgetGuardArgs
from aifinops.components.config_args import build_args
from aifinops.components.cost_allocation_tags import CostAllocationTags, CostAllocationTagsArgs
from aifinops.components.cost_anomaly_alerts import CostAnomalyAlerts, CostAnomalyAlertsArgs
from aifinops.components.cost_budget import CostBudget, CostBudgetArgs
from aifinops.components.cost_dashboard import CostDashboard, CostDashboardArgs
from aifinops.components.ddos_cost_response import DdosCostResponse, DdosCostResponseArgs
from aifinops.components.cost_data_export import CostDataExport, CostDataExportArgs
from aifinops.components.gpu_fleet import GpuFleet, GpuFleetArgs
from aifinops.components.gpu_inference import GpuInference, GpuInferenceArgs
from aifinops.components.gpu_instance import GpuInstance, GpuInstanceArgs
from aifinops.components.idle_gpu_reaper import IdleGpuReaper, IdleGpuReaperArgs
from aifinops.components.model_registry import ModelRegistry, ModelRegistryArgs
from aifinops.components.public_load_balancer import PublicLoadBalancer, PublicLoadBalancerArgs
from aifinops.components.sagemaker_endpoint import SageMakerEndpoint, SageMakerEndpointArgs
from aifinops.components.shield_protection import ShieldProtection, ShieldProtectionArgs
from aifinops.components.tag_compliance import TagCompliance, TagComplianceArgs
from aifinops.components.tagging import register_cost_tags
from aifinops.components.tiered_bucket import TieredBucket, TieredBucketArgs
from aifinops.components.waf_rate_limit import WafRateLimit, WafRateLimitArgs

config = pulumi.Config()
cost_tags = register_cost_tags(config.require_object("costTags"), config.get_object("requiredTags"))
built: dict[str, pulumi.ComponentResource] = {}


def entries(section: str) -> list[dict]:
    items = config.get_object(section) or []
    if not isinstance(items, list) or not all(isinstance(i, dict) and isinstance(i.get("name"), str) for i in items):
        raise ValueError(f"config {section}: expected a list of objects, each with a 'name'")
    return items


def settings(item: dict) -> dict:
    return {k: v for k, v in item.items() if k != "name"}


def resource_arn(reference: str, where: str) -> pulumi.Input[str]:
    """An ARN as given, or the ARN of a component built earlier in this stack, by its name."""
    if isinstance(reference, str) and reference.startswith("arn:"):
        return reference
    arn = getattr(built.get(reference), "arn", None) if isinstance(reference, str) else None
    if arn is None:
        raise ValueError(f"{where}: expected an ARN or the name of a component built earlier "
                         f"({', '.join(built) or 'none yet'}), got {reference!r}")
    return arn


def arns_by_label(raw: dict, key: str, where: str) -> None:
    """Replace each value of the mapping raw[key] (an ARN or a component name) with an ARN."""
    if isinstance(raw.get(key), dict):
        raw[key] = {label: resource_arn(ref, f"{where}.{key}.{label}") for label, ref in raw[key].items()}


def instance_id(reference: str, where: str) -> pulumi.Input[str]:
    """An instance id as given, or the id of a GpuInstance built earlier in this stack, by its name."""
    if isinstance(reference, str) and reference.startswith("i-"):
        return reference
    found = getattr(built.get(reference), "instance_id", None) if isinstance(reference, str) else None
    if found is None:
        raise ValueError(f"{where}: expected an instance id or the name of a gpuInstances entry, got {reference!r}")
    return found


def components_of(raw: dict, key: str, kind: type, where: str) -> None:
    """Replace the list raw[key] of component names with those components, which must be of `kind`."""
    names = raw.get(key)
    if not isinstance(names, list):
        return
    found = []
    for j, reference in enumerate(names):
        component = built.get(reference) if isinstance(reference, str) else None
        if not isinstance(component, kind):
            raise ValueError(f"{where}.{key}[{j}]: expected the name of a {kind.__name__} built earlier, got {reference!r}")
        found.append(component)
    raw[key] = found


# The stack's alert topic first: GPU instances and fleets send their low-utilisation alarms to it by name.
for i, item in enumerate(entries("alertTopics")):
    built[item["name"]] = topic = AlertTopic(item["name"], build_args(AlertTopicArgs, settings(item),
                                                                      f"alertTopics[{i}]"))
    pulumi.export(f"{item['name']}TopicArn", topic.arn)

# Storage next: compute and backup plans refer to buckets by name.
for i, item in enumerate(entries("tieredBuckets")):
    args = build_args(TieredBucketArgs, settings(item), f"tieredBuckets[{i}]")
    built[item["name"]] = bucket = TieredBucket(item["name"], args)
    pulumi.export(f"{item['name']}BucketName", bucket.bucket_name)

for i, item in enumerate(entries("backupPlans")):
    raw = settings(item)
    if isinstance(raw.get("resources"), list):
        raw["resources"] = [resource_arn(r, f"backupPlans[{i}].resources[{j}]") for j, r in enumerate(raw["resources"])]
    args = build_args(BackupPlanArgs, raw, f"backupPlans[{i}]")
    built[item["name"]] = plan = BackupPlan(item["name"], args)
    pulumi.export(f"{item['name']}VaultArn", plan.vault_arn)

for i, item in enumerate(entries("gpuInstances")):
    raw = settings(item)
    for key in ("checkpointBucketArn", "alertTopicArn"):
        if key in raw:
            raw[key] = resource_arn(raw[key], f"gpuInstances[{i}].{key}")
    args = build_args(GpuInstanceArgs, raw, f"gpuInstances[{i}]")
    built[item["name"]] = instance = GpuInstance(item["name"], args)
    pulumi.export(f"{item['name']}HourlyUsd", instance.hourly_price_usd)
    pulumi.export(f"{item['name']}InstanceId", instance.instance_id)

# Fleets, then the public edge (load balancers, WAF, Shield: by name or ARN), then Kubernetes inference.
for i, item in enumerate(entries("gpuFleets")):
    raw = settings(item)
    for key in ("checkpointBucketArn", "alertTopicArn"):
        if key in raw:
            raw[key] = resource_arn(raw[key], f"gpuFleets[{i}].{key}")
    built[item["name"]] = fleet = GpuFleet(item["name"], build_args(GpuFleetArgs, raw, f"gpuFleets[{i}]"))
    pulumi.export(f"{item['name']}HourlyCostRangeUsd", fleet.hourly_cost_range_usd)
    pulumi.export(f"{item['name']}AsgName", fleet.asg_name)

for i, item in enumerate(entries("loadBalancers")):
    args = build_args(PublicLoadBalancerArgs, settings(item), f"loadBalancers[{i}]")
    built[item["name"]] = PublicLoadBalancer(item["name"], args)

for i, item in enumerate(entries("wafRateLimits")):
    raw = settings(item)
    arns_by_label(raw, "associations", f"wafRateLimits[{i}]")
    built[item["name"]] = waf = WafRateLimit(item["name"], build_args(WafRateLimitArgs, raw, f"wafRateLimits[{i}]"))
    pulumi.export(f"{item['name']}WebAclArn", waf.web_acl_arn)

for i, item in enumerate(entries("shieldProtections")):
    raw = settings(item)
    arns_by_label(raw, "resources", f"shieldProtections[{i}]")
    built[item["name"]] = ShieldProtection(item["name"], build_args(ShieldProtectionArgs, raw,
                                                                    f"shieldProtections[{i}]"))

for i, item in enumerate(entries("gpuInferences")):
    args = build_args(GpuInferenceArgs, settings(item), f"gpuInferences[{i}]")
    built[item["name"]] = inference = GpuInference(item["name"], args)
    pulumi.export(f"{item['name']}Namespace", inference.namespace)

# SageMaker: model registries (with their artifact buckets), then endpoints.
for i, item in enumerate(entries("modelRegistries")):
    built[item["name"]] = registry = ModelRegistry(item["name"], build_args(ModelRegistryArgs, settings(item),
                                                                            f"modelRegistries[{i}]"))
    pulumi.export(f"{item['name']}ArtifactBucketName", registry.artifact_bucket_name)

for i, item in enumerate(entries("sagemakerEndpoints")):
    args = build_args(SageMakerEndpointArgs, settings(item), f"sagemakerEndpoints[{i}]")
    built[item["name"]] = endpoint = SageMakerEndpoint(item["name"], args)
    pulumi.export(f"{item['name']}EndpointName", endpoint.endpoint_name)

# Cost guardrails last: budget actions refer to instances built above, by name.
for i, item in enumerate(entries("costAllocationTags")):
    built[item["name"]] = CostAllocationTags(item["name"], build_args(CostAllocationTagsArgs, settings(item),
                                                                      f"costAllocationTags[{i}]"))

# The cost data lake: CUR 2.0 into S3, a Glue table, an Athena workgroup with the AI cost views.
for i, item in enumerate(entries("costDataExports")):
    built[item["name"]] = lake = CostDataExport(item["name"], build_args(CostDataExportArgs, settings(item),
                                                                         f"costDataExports[{i}]"))
    pulumi.export(f"{item['name']}DataLocation", lake.data_location)
    pulumi.export(f"{item['name']}Workgroup", lake.workgroup_name)
    pulumi.export(f"{item['name']}Database", lake.database_name)

for i, item in enumerate(entries("costBudgets")):
    raw = settings(item)
    action = raw.get("action")
    if isinstance(action, dict) and isinstance(action.get("instanceIds"), list):
        raw["action"] = {**action, "instanceIds": [instance_id(ref, f"costBudgets[{i}].action.instanceIds[{j}]")
                                                   for j, ref in enumerate(action["instanceIds"])]}
    built[item["name"]] = budget = CostBudget(item["name"], build_args(CostBudgetArgs, raw, f"costBudgets[{i}]"))
    pulumi.export(f"{item['name']}BudgetName", budget.budget_name)

for i, item in enumerate(entries("costAnomalyAlerts")):
    built[item["name"]] = alerts = CostAnomalyAlerts(item["name"], build_args(CostAnomalyAlertsArgs, settings(item),
                                                                              f"costAnomalyAlerts[{i}]"))
    pulumi.export(f"{item['name']}MonitorArn", alerts.monitor_arn)

# Dashboards last among the guardrails: their widgets come from the instances, fleets and budgets above.
for i, item in enumerate(entries("costDashboards")):
    raw = settings(item)
    for key, kind in (("gpuInstances", GpuInstance), ("gpuFleets", GpuFleet), ("budgets", CostBudget)):
        components_of(raw, key, kind, f"costDashboards[{i}]")
    built[item["name"]] = dashboard = CostDashboard(item["name"], build_args(CostDashboardArgs, raw,
                                                                             f"costDashboards[{i}]"))
    pulumi.export(f"{item['name']}DashboardName", dashboard.dashboard_name)

pulumi.export("costTags", cost_tags)

# Runtime automation: idle-GPU reapers, budget guards wired to a costBudgets entry by name, DDoS cost
# responses wired to a shieldProtections entry by name, and tag compliance.

for i, item in enumerate(entries("idleGpuReapers")):
    built[item["name"]] = reaper = IdleGpuReaper(item["name"], build_args(IdleGpuReaperArgs, settings(item),
                                                                          f"idleGpuReapers[{i}]"))
    pulumi.export(f"{item['name']}FunctionName", reaper.function_name)

for i, item in enumerate(entries("budgetGuards")):
    raw = settings(item)
    if "costBudget" in raw:
        budget_entry = next((b for b in entries("costBudgets") if b["name"] == raw["costBudget"]), None)
        if budget_entry is None:
            raise ValueError(f"budgetGuards[{i}].costBudget: expected the name of a costBudgets entry, "
                             f"got {raw['costBudget']!r}")
        raw["costBudget"] = built[budget_entry["name"]]
        raw.setdefault("costTags", budget_entry.get("tagFilters") or {})  # default: the budget's own tag filter
    built[item["name"]] = guard = BudgetGuard(item["name"], build_args(BudgetGuardArgs, raw, f"budgetGuards[{i}]"))
    pulumi.export(f"{item['name']}FunctionName", guard.function_name)

for i, item in enumerate(entries("ddosCostResponses")):
    raw = settings(item)
    if "shieldProtection" in raw:
        shield = built.get(raw["shieldProtection"])
        if not isinstance(shield, ShieldProtection):
            raise ValueError(f"ddosCostResponses[{i}].shieldProtection: expected the name of a shieldProtections entry, "
                             f"got {raw['shieldProtection']!r}")
        raw["shieldProtection"] = shield
    built[item["name"]] = response = DdosCostResponse(item["name"], build_args(DdosCostResponseArgs, raw,
                                                                               f"ddosCostResponses[{i}]"))
    pulumi.export(f"{item['name']}FunctionName", response.function_name)
for i, item in enumerate(entries("tagCompliance")):
    raw = settings(item)
    if "policyConfigFile" not in raw and config.get_object("requiredTags") is not None:
        raw.setdefault("requiredTags", {"keys": config.get_object("requiredTags")})  # default: the stack's own keys
    built[item["name"]] = compliance = TagCompliance(item["name"], build_args(TagComplianceArgs, raw,
                                                                              f"tagCompliance[{i}]"))
    pulumi.export(f"{item['name']}RuleNames", compliance.rule_names)
