"""The aifinops-cost policy pack: `pulumi preview --policy-pack policies/cost` (or `aifinops preview`).

PolicyPack() serves the Analyzer over gRPC and never returns, so the policies live in importable modules
listed in `policies/cost/__init__.py`; `aifinops.policies.packs.serve` builds the pack from them.
"""
from aifinops.policies.packs import serve

serve("cost")
