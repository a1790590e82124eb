"""The aifinops-cost policy pack: what decides the bill. Add a policy: one module, one line below."""
from . import (
    approved_gpu_instance_types,
    budget_required_for_gpu_spend,
    gpu_fleet_spot_price_cap,
    karpenter_gpu_limits,
    monthly_cost_fully_priced,
    monthly_cost_within_budget,
    required_cost_tags,
    s3_lifecycle_required,
    sagemaker_spot_training,
)

PACK_NAME = "aifinops-cost"
POLICIES = [
    required_cost_tags.POLICY,
    approved_gpu_instance_types.POLICY,
    gpu_fleet_spot_price_cap.POLICY,
    karpenter_gpu_limits.POLICY,
    monthly_cost_within_budget.POLICY,
    monthly_cost_fully_priced.POLICY,
    budget_required_for_gpu_spend.POLICY,
    s3_lifecycle_required.POLICY,
    sagemaker_spot_training.POLICY,
]
