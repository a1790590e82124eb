"""What aifinops's checkov checks share: the policy config they obey and the catalog they judge with.

checkov runs in its own virtualenv, usually without aifinops installed, so this module loads the
pulumi-free core (`aifinops.core`: the catalog, the tag defaults, the `--policy-pack-config` format)
from the aifinops these checks ship with: the installed package, or this repository. Nothing else of
aifinops is imported, and nothing is put on sys.path, so checkov's own packages stay as they are.
Settings come from the files named in $AIFINOPS_POLICY_CONFIG (os.pathsep-separated), in the same
format and with the same policy names and defaults as the `aifinops-cost` policy pack.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any, Mapping, Optional

CHECKS_DIR = Path(__file__).resolve().parent
CONFIG_ENV = "AIFINOPS_POLICY_CONFIG"
APPROVED_TYPES_POLICY = "approved-gpu-instance-types"
DISABLED = "disabled"
# How an exported plan shows a map value (a tag) that is unknown until apply: present, value unknown.
KNOWN_AFTER_APPLY = "(known after apply)"


def _aifinops_package_dir() -> Path:
    """The `aifinops` package next to these checks: <site-packages>/aifinops/policies/checkov_checks when
    installed, <repository>/policies/checkov_checks beside <repository>/aifinops in a checkout."""
    for root in (CHECKS_DIR.parents[1], CHECKS_DIR.parents[1].parent):
        candidate = root if root.name == "aifinops" else root / "aifinops"
        if (candidate / "core" / "__init__.py").is_file():
            return candidate
    raise RuntimeError(f"aifinops checkov checks: no aifinops/core package found near {CHECKS_DIR}")


def _core_module(name: str) -> ModuleType:
    """aifinops.core.<name>, loading the `aifinops` package from our own files if checkov lacks it."""
    if "aifinops" not in sys.modules and importlib.util.find_spec("aifinops") is None:
        package_dir = _aifinops_package_dir()
        spec = importlib.util.spec_from_file_location("aifinops", package_dir / "__init__.py",
                                                      submodule_search_locations=[str(package_dir)])
        package = importlib.util.module_from_spec(spec)
        sys.modules["aifinops"] = package
        spec.loader.exec_module(package)
    return importlib.import_module(f"aifinops.core.{name}")


catalog = _core_module("catalog")
policy_pack_config = _core_module("policy_config")
tags = _core_module("tags")
required_tags = _core_module("required_tags")
REQUIRED_TAGS_POLICY = required_tags.REQUIRED_COST_TAGS_POLICY
# Which policy each of our checks mirrors: its enforcement level in the config applies to the check too.
CHECK_POLICIES = {"CKV_AIFINOPS_1": REQUIRED_TAGS_POLICY, "CKV_AIFINOPS_2": APPROVED_TYPES_POLICY,
                  "CKV_AIFINOPS_3": APPROVED_TYPES_POLICY}


def default_required_tags() -> tuple[str, ...]:
    return tuple(tags.DEFAULT_REQUIRED_TAGS)


def _string_list(default: list[str]) -> dict[str, Any]:
    return {"type": "array", "items": {"type": "string", "minLength": 1}, "uniqueItems": True, "default": default}


def checks_pack() -> Any:
    """The two aifinops-cost policies these checks mirror, with their config properties and defaults."""
    info = policy_pack_config.PolicyInfo
    return policy_pack_config.PackInfo(name="aifinops-checkov-checks", version="1", directory=CHECKS_DIR, policies=(
        info(REQUIRED_TAGS_POLICY, "Taggable AWS resources carry the required cost-allocation tags.", "mandatory",
             {"properties": required_tags.REQUIRED_COST_TAGS_PROPERTIES}),
        info(APPROVED_TYPES_POLICY, "Accelerated instance types must be on the approved list.", "mandatory",
             {"properties": {"approvedInstanceTypes": _string_list(list(catalog.DEFAULT_APPROVED_INSTANCE_TYPES))}}),
    ))


def config_files() -> tuple[str, ...]:
    return tuple(p for p in os.environ.get(CONFIG_ENV, "").split(os.pathsep) if p)


@lru_cache(maxsize=8)
def load_settings(files: tuple[str, ...]) -> Mapping[str, Any]:
    """Policy name -> PolicySettings: schema defaults, then each file; raises PolicyPackError when invalid."""
    configs = [policy_pack_config.load_config_file(path) for path in files]
    return policy_pack_config.reconcile(checks_pack(), configs)


def check_enforcement_levels(files: tuple[str, ...]) -> dict[str, str]:
    """Check id -> the enforcement level of the policy it mirrors (mandatory, advisory, disabled, ...)."""
    settings = load_settings(files)
    return {check_id: settings[policy].enforcement_level for check_id, policy in CHECK_POLICIES.items()}


def policy_properties(policy: str) -> Optional[Mapping[str, Any]]:
    """The policy's effective properties, or None when the config disables it."""
    settings = load_settings(config_files())[policy]
    return None if settings.enforcement_level == DISABLED else settings.properties


def approval_problem(value: str, approved: frozenset[str]) -> str:
    """The catalog's judgement (the policy's too); a value without a size, such as Batch's `p4d`, is a family."""
    return catalog.approval_problem(value, approved, is_family="." not in value)


def unwrap(value: Any) -> Any:
    """checkov wraps Terraform values in one-element lists, at every level: take them out."""
    while isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value
