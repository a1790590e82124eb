"""The aifinops-cost policy pack: `pulumi preview --policy-pack policies/cost` (or `aifinops preview`).

Builds the pack and nothing else: PolicyPack() serves the Analyzer over gRPC and never returns, so the
policies live in importable modules listed in `policies/cost/__init__.py`.
"""
from pulumi_policy import EnforcementLevel, PolicyPack

from aifinops.policies.cost import PACK_NAME, POLICIES

PolicyPack(
    name=PACK_NAME,
    policies=POLICIES,
    enforcement_level=EnforcementLevel.MANDATORY,
    description="Cost-allocation tags on every taggable AWS resource and approved GPU instance types only.",
)
