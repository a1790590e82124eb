"""The aifinops-cost policy pack: what decides the bill. Add a policy: one module, one line below."""
from . import approved_gpu_instance_types, required_cost_tags

PACK_NAME = "aifinops-cost"
POLICIES = [
    required_cost_tags.POLICY,
    approved_gpu_instance_types.POLICY,
]
