"""What aifinops's checkov checks share: the policy config they obey and the catalog they judge with.

checkov runs in its own virtualenv, without aifinops installed, so this module finds the repository
from its own path (policies/checkov_checks/ -> the repository root) and imports only the pulumi-free
parts of it: `components.catalog` (accelerated types, approved defaults) and
`aifinops.policy_pack_config` (the `--policy-pack-config` format, reconciled as the policy packs are).
Settings come from the files named in $AIFINOPS_POLICY_CONFIG (os.pathsep-separated), in the same
format and with the same policy names and defaults as the `aifinops-cost` policy pack.
"""
from __future__ import annotations

import ast
import importlib
import os
import sys
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any, Mapping, Optional

CHECKS_DIR = Path(__file__).resolve().parent
REPO_ROOT = CHECKS_DIR.parents[1]
CONFIG_ENV = "AIFINOPS_POLICY_CONFIG"
REQUIRED_TAGS_POLICY = "required-cost-tags"
APPROVED_TYPES_POLICY = "approved-gpu-instance-types"
DISABLED = "disabled"
# Which policy each of our checks mirrors: its enforcement level in the config applies to the check too.
CHECK_POLICIES = {"CKV_AIFINOPS_1": REQUIRED_TAGS_POLICY, "CKV_AIFINOPS_2": APPROVED_TYPES_POLICY,
                  "CKV_AIFINOPS_3": APPROVED_TYPES_POLICY}
# How an exported plan shows a map value (a tag) that is unknown until apply: present, value unknown.
KNOWN_AFTER_APPLY = "(known after apply)"


def _repo_module(name: str) -> ModuleType:
    if str(REPO_ROOT) not in sys.path:
        sys.path.append(str(REPO_ROOT))  # appended: never shadows what the running tool has installed
    return importlib.import_module(name)


catalog = _repo_module("components.catalog")
policy_pack_config = _repo_module("aifinops.policy_pack_config")


@lru_cache(maxsize=1)
def default_required_tags() -> tuple[str, ...]:
    """components.tagging.DEFAULT_REQUIRED_TAGS, read from the source: that module needs pulumi."""
    tree = ast.parse((REPO_ROOT / "components" / "tagging.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "DEFAULT_REQUIRED_TAGS" for t in node.targets):
            return tuple(ast.literal_eval(node.value))
    raise RuntimeError("components/tagging.py no longer defines DEFAULT_REQUIRED_TAGS as a literal")


def _string_list(default: list[str]) -> dict[str, Any]:
    return {"type": "array", "items": {"type": "string", "minLength": 1}, "uniqueItems": True, "default": default}


def checks_pack() -> Any:
    """The two aifinops-cost policies these checks mirror, with their config properties and defaults."""
    info = policy_pack_config.PolicyInfo
    return policy_pack_config.PackInfo(name="aifinops-checkov-checks", version="1", directory=CHECKS_DIR, policies=(
        info(REQUIRED_TAGS_POLICY, "Taggable AWS resources carry the required cost-allocation tags.", "mandatory",
             {"properties": {"requiredTags": _string_list(list(default_required_tags())),
                             "allowedValues": {"type": "object", "default": {},
                                               "additionalProperties": {"type": "array",
                                                                        "items": {"type": "string"}}}}}),
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
