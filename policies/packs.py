"""Builds and serves an aifinops policy pack: the whole of a pack's `__main__.py`.

The packs in this package and the ones `aifinops policy new` writes into a user's repository both call
`serve()`, as awsguard's users instantiate its pack: the policies live in this library and a pack
directory is three small files (PulumiPolicy.yaml, requirements.txt, __main__.py).
"""
from __future__ import annotations

import functools
import gc
import importlib
import inspect
import threading
from typing import Any, Callable, Mapping, Optional

import pulumi_policy.policy
from pulumi_policy import EnforcementLevel, PolicyPack

from . import call_memo

# The cyclic collector's thresholds while a pack serves (Python's defaults: 700, 10, 10). AnalyzeStack keeps
# every resource of the stack alive while the policies run, and with the defaults repeated collections over
# them made it grow faster than the stack: 7.5 s of CPU for 10,000 resources against 0.5 s for 1,000; with
# these, 4.2 s (benchmarks/engine.py). Reference counting still frees everything else at once.
_GC_THRESHOLDS = (50_000, 20, 100)
# AnalyzeStack builds every policy's copy of the stack, which lives until the policy returns, so the
# collections it triggers only re-scan those copies: 1.35 of 3.7 s of CPU for 10,000 resources, against
# 0.03 of 0.24 s for 1,000. It runs with the cyclic collector paused (reference counting still frees what
# it drops); the collector runs again once no such call is in flight.
_PAUSE_LOCK = threading.Lock()
_paused_calls = 0

# Pack kind -> (module with PACK_NAME and POLICIES, description).
PACKS = {
    "cost": ("aifinops.policies.cost",
             "Cost-allocation tags on every taggable AWS resource and approved GPU instance types only."),
    "security": ("aifinops.policies.security",
                 "Security baseline: encrypted S3 and EBS, S3 public access blocked, IMDSv2, no public GPU hosts."),
}


def serve(kind: str, name: Optional[str] = None, initial_config: Optional[Mapping[str, Any]] = None,
          enforcement_level: EnforcementLevel = EnforcementLevel.MANDATORY) -> None:
    """Serve the `kind` pack ("cost" or "security") over the Analyzer protocol; never returns.

    name: default the built-in pack's name (aifinops-cost, aifinops-security); initial_config: the policy
    config the pack starts with (`--policy-pack-config` still wins), e.g.
    {"approved-gpu-instance-types": {"approvedInstanceTypes": ["g5.xlarge"]}}."""
    if kind not in PACKS:
        raise ValueError(f"kind: expected one of {', '.join(PACKS)}, got {kind!r}")
    module_name, description = PACKS[kind]
    module = importlib.import_module(module_name)
    _collect_garbage_less_often()
    servicer = pulumi_policy.policy._PolicyAnalyzerServicer  # the SDK is pinned (pyproject.toml)
    call_memo.install(servicer, pulumi_policy.policy)
    _settings_signature_read_once(pulumi_policy.policy)
    if not getattr(servicer.AnalyzeStack, "collector_paused", False):
        servicer.AnalyzeStack = _collector_paused(servicer.AnalyzeStack)
    PolicyPack(name=name or module.PACK_NAME, policies=module.POLICIES, enforcement_level=enforcement_level,
               initial_config=dict(initial_config) if initial_config else None, description=description)


def _collect_garbage_less_often() -> None:
    """The modules imported so far live as long as the pack: freeze them out of every collection, and
    collect young objects less often (see _GC_THRESHOLDS)."""
    gc.freeze()
    gc.set_threshold(*_GC_THRESHOLDS)


def _settings_signature_read_once(sdk_module: Any) -> None:
    """pulumi-policy reads the signature of pulumi.runtime.Settings on every Analyzer call (to learn whether
    the installed SDK takes `organization`): about a quarter of its own time per Analyze. The class does
    not change while a pack runs, so the answer is kept. Idempotent."""
    if getattr(sdk_module, "signature", None) is inspect.signature:
        sdk_module.signature = functools.lru_cache(maxsize=None)(inspect.signature)


def _collector_paused(method: Callable[..., Any]) -> Callable[..., Any]:
    """`method` with the cyclic collector paused while it runs (see _PAUSE_LOCK); calls may overlap."""
    @functools.wraps(method)
    def serving(*args: Any, **kwargs: Any) -> Any:
        global _paused_calls
        with _PAUSE_LOCK:
            _paused_calls += 1
            gc.disable()
        try:
            return method(*args, **kwargs)
        finally:
            with _PAUSE_LOCK:
                _paused_calls -= 1
                if not _paused_calls:
                    gc.enable()
    serving.collector_paused = True  # type: ignore[attr-defined]
    return serving
