"""The aifinops-security policy pack: `pulumi preview --policy-pack policies/security` (or `aifinops preview`).

Builds the pack and nothing else: PolicyPack() serves the Analyzer over gRPC and never returns, so the
policies live in importable modules listed in `policies/security/__init__.py`.
"""
from pulumi_policy import EnforcementLevel, PolicyPack

from aifinops.policies.security import PACK_NAME, POLICIES

PolicyPack(
    name=PACK_NAME,
    policies=POLICIES,
    enforcement_level=EnforcementLevel.MANDATORY,
    description="Security baseline: encrypted S3 and EBS, S3 public access blocked, IMDSv2, no public GPU hosts.",
)
