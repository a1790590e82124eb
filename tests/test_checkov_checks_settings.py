"""Our checkov checks and the aifinops-cost policies are one rule set: same policy names, config keys,
defaults and verdicts. (The checks themselves run inside checkov: see test_checkov_scan.)"""
from __future__ import annotations

import json

import pytest

from aifinops.core import catalog
from aifinops.core.tags import DEFAULT_REQUIRED_TAGS
from aifinops.policies.checkov_checks import aifinops_check_settings as settings
from aifinops.policies.cost import approved_gpu_instance_types, required_cost_tags

POLICY_MODULES = {settings.REQUIRED_TAGS_POLICY: required_cost_tags,
                  settings.APPROVED_TYPES_POLICY: approved_gpu_instance_types}


@pytest.mark.parametrize("name", sorted(POLICY_MODULES))
def test_checks_use_the_policy_names_config_keys_and_defaults_of_the_cost_pack(name):
    policy_schema = POLICY_MODULES[name].SCHEMA.properties
    ours = next(p for p in settings.checks_pack().policies if p.name == name).config_schema["properties"]
    assert POLICY_MODULES[name].NAME == name
    assert set(ours) == set(policy_schema)
    assert {key: spec["default"] for key, spec in ours.items()} == \
        {key: spec["default"] for key, spec in policy_schema.items()}


def test_default_required_tags_are_read_from_the_tagging_module():
    assert settings.default_required_tags() == tuple(DEFAULT_REQUIRED_TAGS)


def test_config_files_merge_in_order_and_levels_reach_each_check(tmp_path, monkeypatch):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text(json.dumps({"all": "advisory", "required-cost-tags": {"requiredTags": ["Team"]}}))
    second.write_text(json.dumps({"approved-gpu-instance-types": {"enforcementLevel": "disabled"}}))
    monkeypatch.setenv(settings.CONFIG_ENV, f"{first}:{second}")
    assert settings.policy_properties(settings.REQUIRED_TAGS_POLICY)["requiredTags"] == ["Team"]
    assert settings.policy_properties(settings.APPROVED_TYPES_POLICY) is None  # disabled: the checks stay silent
    assert settings.check_enforcement_levels((str(first), str(second))) == {
        "CKV_AIFINOPS_1": "advisory", "CKV_AIFINOPS_2": "disabled", "CKV_AIFINOPS_3": "disabled"}


APPROVED = [catalog.normalize_instance_type(t) for t in ("g5.xlarge", "ml.g6.xlarge", "p4d.24xlarge")]


@pytest.mark.parametrize("value, rejected", [
    ("g5.xlarge", False), ("g6.xlarge", False), ("ml.g6.xlarge", False), ("ml.p5.48xlarge", True),
    ("p5.48xlarge", True), ("t3.micro", False), ("m7i.large", False), ("p4d", False), ("g6", True),
    ("trn1.32xlarge", True), ("not-a-type", True), ("p7", True), ("optimal", False)])  # fail closed: issue 13
def test_the_checks_judge_instance_types_as_the_policy_does(value, rejected):
    """Both ask aifinops.core.catalog.approval_problem; the checks must read a bare family as a family."""
    problem = settings.approval_problem(value, frozenset(APPROVED))
    assert bool(problem) is rejected
    assert problem == catalog.approval_problem(value, APPROVED, is_family="." not in value)
