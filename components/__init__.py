"""aifinops components: Pulumi ComponentResources for AI workloads on AWS that keep the bill in check.

    from aifinops.components import GpuInstance, GpuInstanceArgs, register_cost_tags

Every component and its `...Args` is exported here. They load on first use, so importing one helper
module (or the checkov suppressions) does not import every component and pulumi_aws with it.
Components build on `aifinops.core` and never import the command, the policies or the automation.
"""
from __future__ import annotations

import importlib
from typing import Any

# Public name -> the module (in this package) that defines it.
_EXPORTS = {
    "AlertTopic": "alert_topic", "AlertTopicArgs": "alert_topic",
    "BackupPlan": "backup_plan", "BackupPlanArgs": "backup_plan",
    "BudgetGuard": "budget_guard", "BudgetGuardArgs": "budget_guard",
    "CostAllocationTags": "cost_allocation_tags", "CostAllocationTagsArgs": "cost_allocation_tags",
    "CostAnomalyAlerts": "cost_anomaly_alerts", "CostAnomalyAlertsArgs": "cost_anomaly_alerts",
    "CostBudget": "cost_budget", "CostBudgetArgs": "cost_budget",
    "DdosCostResponse": "ddos_cost_response", "DdosCostResponseArgs": "ddos_cost_response",
    "CostDataExport": "cost_data_export", "CostDataExportArgs": "cost_data_export",
    "CostDashboard": "cost_dashboard", "CostDashboardArgs": "cost_dashboard",
    "GpuFleet": "gpu_fleet", "GpuFleetArgs": "gpu_fleet", "ReservedBaseline": "gpu_fleet",
    "ScheduledScaling": "gpu_fleet", "TargetTracking": "gpu_fleet", "office_hours": "gpu_fleet",
    "GpuInference": "gpu_inference", "GpuInferenceArgs": "gpu_inference", "InferenceAutoscaling": "gpu_inference",
    "KarpenterNodePoolArgs": "gpu_inference",
    "GpuMetricsArgs": "gpu_inference_metrics", "LowUtilisationAlarm": "gpu_metrics_agent",
    "GpuInstance": "gpu_instance", "GpuInstanceArgs": "gpu_instance",
    "IdleGpuReaper": "idle_gpu_reaper", "IdleGpuReaperArgs": "idle_gpu_reaper",
    "PublicLoadBalancer": "public_load_balancer", "PublicLoadBalancerArgs": "public_load_balancer",
    "ShieldProtection": "shield_protection", "ShieldProtectionArgs": "shield_protection",
    "EmergencyContact": "shield_protection",
    "SageMakerEndpoint": "sagemaker_endpoint", "SageMakerEndpointArgs": "sagemaker_endpoint",
    "ServerlessInference": "sagemaker_endpoint", "AsyncInference": "sagemaker_endpoint",
    "EndpointAutoscaling": "sagemaker_endpoint", "DataCapture": "sagemaker_endpoint",
    "ModelRegistry": "model_registry", "ModelRegistryArgs": "model_registry",
    "TagCompliance": "tag_compliance", "TagComplianceArgs": "tag_compliance", "AutoTaggingArgs": "tag_compliance",
    "RecorderArgs": "tag_compliance", "TagPolicyArgs": "tag_compliance",
    "TieredBucket": "tiered_bucket", "TieredBucketArgs": "tiered_bucket",
    "WafRateLimit": "waf_rate_limit", "WafRateLimitArgs": "waf_rate_limit",
    "FunctionSettings": "automation_lambda",
    "register_cost_tags": "tagging",
    "build_args": "config_args",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
