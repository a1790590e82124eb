"""BackupPlan: the default schedule, vault and key, lock, copies, selections, the role, and every bad argument."""
from __future__ import annotations

import json

import pytest

from aifinops.components.backup_plan import (
    SERVICE_ROLE_POLICIES,
    BackupPlan,
    BackupPlanArgs,
    BackupRule,
    CopyTarget,
    VaultLock,
    default_rules,
)
from tests.conftest import only, tagged_config


# This module reads what components render from ids and ARNs (IAM and resource policies, references),
# so the `preview` fixture gives AWS-shaped values here, as `aifinops preview --mock-outputs` does.
PREVIEW_MOCK_OUTPUTS = True


PROGRAM = """
import pulumi
from aifinops.components.backup_plan import BackupPlan, BackupPlanArgs, BackupRule, CopyTarget, VaultLock
from aifinops.components.tiered_bucket import TieredBucket
from aifinops.components.tagging import register_cost_tags
register_cost_tags(pulumi.Config().require_object("costTags"))
data = TieredBucket("data")
plan = BackupPlan("bk", BackupPlanArgs({args}))
pulumi.export("vault", plan.vault_arn)
"""
KEY = "arn:aws:kms:us-east-1:123456789012:key/1111"
OTHER_ACCOUNT_VAULT = "arn:aws:backup:us-east-1:210987654321:backup-vault:central"


def build(preview, args: str = ""):
    return preview(PROGRAM.format(args=args), tagged_config())


def plan_rules(graph) -> dict[str, dict]:
    return {rule["ruleName"]: rule for rule in only(graph, "aws:backup/plan:Plan").inputs["rules"]}


def test_default_schedule_daily_weekly_monthly(preview):
    graph = build(preview)
    vault = only(graph, "aws:backup/vault:Vault")
    rules = plan_rules(graph)
    assert list(rules) == ["daily", "weekly", "monthly"]
    assert {name: rule["schedule"] for name, rule in rules.items()} == {
        "daily": "cron(0 5 ? * * *)", "weekly": "cron(0 5 ? * SUN *)", "monthly": "cron(0 5 1 * ? *)"}
    assert rules["daily"]["lifecycle"] == {"deleteAfter": 30}
    # Weekly: cold after 30 days, then kept the 90 days cold storage bills anyway.
    assert rules["weekly"]["lifecycle"] == {"coldStorageAfter": 30, "deleteAfter": 120,
                                            "optInToArchiveForSupportedResources": True}
    assert rules["monthly"]["lifecycle"] == {"deleteAfter": 365}
    for rule in rules.values():
        assert rule["targetVaultName"] == vault.outputs["name"]
        assert rule["enableContinuousBackup"] is False and "copyActions" not in rule
        assert (rule["startWindow"], rule["completionWindow"]) == (60, 1440)
    assert not graph.of_type("aws:backup/vaultLockConfiguration:VaultLockConfiguration")


def test_vault_is_encrypted_with_its_own_rotating_key_and_tagged(preview):
    graph = build(preview)
    key = only(graph, "aws:kms/key:Key")
    vault = only(graph, "aws:backup/vault:Vault")
    assert key.inputs["enableKeyRotation"] is True and key.inputs["deletionWindowInDays"] == 30
    # The default key policy, written out (checkov's CKV2_AWS_64 asks for an explicit one).
    statement, = json.loads(key.inputs["policy"])["Statement"]
    assert statement["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"} and statement["Action"] == "kms:*"
    assert vault.inputs["kmsKeyArn"] == key.outputs["arn"]
    assert vault.inputs["tags"]["CostCenter"] == "ml"
    component = only(graph, "aifinops:backup:BackupPlan")
    assert all(r.parent == component.urn for r in graph.custom_resources() if r.name.startswith("bk"))
    assert graph.stack_outputs["vault"] == vault.outputs["arn"] == component.outputs["vaultArn"]
    with_key = build(preview, f"kms_key_arn='{KEY}'")
    assert not with_key.of_type("aws:kms/key:Key")
    assert only(with_key, "aws:backup/vault:Vault").inputs["kmsKeyArn"] == KEY


def test_service_role_has_the_managed_backup_and_restore_policies_only(preview):
    graph = build(preview)
    role = only(graph, "aws:iam/role:Role")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust == [{"Effect": "Allow", "Principal": {"Service": "backup.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    attached = sorted(a.inputs["policyArn"] for a in graph.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment"))
    assert attached == sorted(SERVICE_ROLE_POLICIES.values())
    assert all(arn.startswith("arn:aws:iam::aws:policy/") and "Backup" in arn for arn in attached)
    assert not graph.of_type("aws:iam/rolePolicy:RolePolicy") and not graph.of_type("aws:iam/policy:Policy")


def test_selection_by_tag_after_the_role_can_act(preview):
    graph = build(preview)
    selection = only(graph, "aws:backup/selection:Selection")
    assert selection.inputs["selectionTags"] == [{"type": "STRINGEQUALS", "key": "Backup", "value": "true"}]
    assert selection.inputs["planId"] == only(graph, "aws:backup/plan:Plan").outputs["id"]
    assert selection.inputs["iamRoleArn"] == only(graph, "aws:iam/role:Role").outputs["arn"]
    attachments = {a.urn for a in graph.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")}
    assert attachments <= set(selection.dependencies)


def test_selection_by_explicit_resources(preview):
    graph = build(preview, "selection_tags={}, resources=[data.arn]")
    selection = only(graph, "aws:backup/selection:Selection")
    bucket = next(r for r in graph.of_type("aws:s3/bucket:Bucket") if r.name == "data")
    assert selection.name == "bk-resources" and selection.inputs["resources"] == [bucket.outputs["arn"]]
    assert bucket.urn in selection.property_dependencies["resources"]
    both = build(preview, "selection_tags={'Backup': 'true', 'Tier': 'gold'}, resources=[data.arn]")
    assert sorted(s.name for s in both.of_type("aws:backup/selection:Selection")) == ["bk-resources", "bk-tagged"]


def test_continuous_backup_on_the_daily_rule(preview):
    rules = plan_rules(build(preview, "continuous_backup=True"))
    assert {name: rule["enableContinuousBackup"] for name, rule in rules.items()} == {
        "daily": True, "weekly": False, "monthly": False}


@pytest.mark.parametrize("mode, changeable", [("governance", None), ("compliance", 3)])
def test_vault_lock_modes(preview, mode, changeable):
    graph = build(preview, f"vault_lock=VaultLock(mode='{mode}', min_retention_days=7, max_retention_days=400)")
    lock = only(graph, "aws:backup/vaultLockConfiguration:VaultLockConfiguration").inputs
    assert lock["backupVaultName"] == only(graph, "aws:backup/vault:Vault").outputs["name"]
    assert (lock["minRetentionDays"], lock["maxRetentionDays"]) == (7, 400)
    assert lock.get("changeableForDays") == changeable


def test_copy_to_another_region_creates_a_vault_there(preview):
    graph = build(preview, "copy_to=CopyTarget(region='us-west-2'), "
                           "rules=[BackupRule('daily', 'cron(0 3 ? * * *)', 35), "
                           "BackupRule('hourly', 'cron(15 * ? * * *)', 2, copy=False)]")
    copy_vault = next(v for v in graph.of_type("aws:backup/vault:Vault") if v.name == "bk-copy-vault")
    copy_key = next(k for k in graph.of_type("aws:kms/key:Key") if k.name == "bk-copy-key")
    assert copy_vault.inputs["region"] == copy_key.inputs["region"] == "us-west-2"
    assert copy_vault.inputs["kmsKeyArn"] == copy_key.outputs["arn"]
    assert json.loads(copy_key.inputs["policy"]) == json.loads(
        next(k for k in graph.of_type("aws:kms/key:Key") if k.name == "bk-key").inputs["policy"])
    assert copy_vault.outputs["arn"].startswith("arn:aws:backup:us-west-2:")
    rules = plan_rules(graph)
    assert rules["daily"]["copyActions"] == [{"destinationVaultArn": copy_vault.outputs["arn"],
                                              "lifecycle": {"deleteAfter": 35}}]
    assert "copyActions" not in rules["hourly"]


def test_copy_to_a_vault_in_another_account(preview):
    graph = build(preview, f"copy_to=CopyTarget(vault_arn='{OTHER_ACCOUNT_VAULT}')")
    assert [v.name for v in graph.of_type("aws:backup/vault:Vault")] == ["bk-vault"]
    for rule in plan_rules(graph).values():
        assert rule["copyActions"][0]["destinationVaultArn"] == OTHER_ACCOUNT_VAULT
        assert rule["copyActions"][0]["lifecycle"] == rule["lifecycle"]


def test_default_rules_satisfy_aws_backup_rules():
    rules = default_rules(continuous=True)
    weekly = next(r for r in rules if r.name == "weekly")
    assert weekly.delete_after_days >= weekly.cold_storage_after_days + 90
    assert [r.name for r in rules if r.continuous] == ["daily"]


def rule(**changes) -> BackupRule:
    values = dict(name="nightly", schedule="cron(0 2 ? * * *)", delete_after_days=30)
    values.update(changes)
    return BackupRule(**values)


@pytest.mark.parametrize("kwargs, message", [
    (dict(rules=[rule(schedule="0 2 * * *")]),
     r"rules\[0\] \('nightly'\).schedule: expected an AWS cron expression such as 'cron\(0 5 \? \* \* \*\)', got '0 2 \* \* \*'"),
    (dict(rules=[rule(schedule="rate(1 day)")]), r"schedule: expected an AWS cron expression"),
    (dict(rules=[rule(schedule="cron(0 2 * * * *)")]), r"Invalid combination of day-of-month"),
    (dict(rules=[rule(schedule="cron(0 25 ? * * *)")]), r"got 'cron\(0 25 \? \* \* \*\)': Invalid hour value '25'"),
    (dict(rules=[rule(schedule="cron(0 2 ? * * 3000)")]), "Invalid year value"),
    (dict(rules=[rule(schedule="cron(*/15 * ? * * *)")]), "AWS Backup runs a rule at most once an hour"),
    (dict(rules=[rule(delete_after_days=100, cold_storage_after_days=30)]),
     r"rules\[0\] \('nightly'\).delete_after_days: recovery points stay in cold storage at least 90 days, so "
     r"delete_after_days must be at least cold_storage_after_days \+ 90 = 120; got 100"),
    (dict(rules=[rule(delete_after_days=0)]), r"delete_after_days: expected a whole number from 1 to 36500 days, got 0"),
    (dict(rules=[rule(cold_storage_after_days=0, delete_after_days=200)]), "cold_storage_after_days: expected a whole number"),
    (dict(rules=[rule(continuous=True, delete_after_days=60)]),
     r"\('nightly'\).delete_after_days: continuous backups are kept at most 35 days, got 60"),
    (dict(rules=[rule(continuous=True, delete_after_days=30, cold_storage_after_days=1)]),
     "cold_storage_after_days: continuous backups cannot move to cold storage"),
    (dict(rules=[rule(continuous="yes")]), "continuous: expected true or false"),
    (dict(rules=[rule(start_window_minutes=30)]), "start_window_minutes: expected a whole number of at least 60 minutes"),
    (dict(rules=[rule(start_window_minutes=120, completion_window_minutes=150)]),
     r"completion_window_minutes: expected a whole number of at least 180 minutes \(the start window, 120, plus 60\)"),
    (dict(rules=[rule(copy="no")]), "copy: expected true or false"),
    (dict(rules=[rule(name="nightly backup")]), r"rules\[0\].name: expected 1-50 letters, digits"),
    (dict(rules=[rule(), rule()]), r"rules\[1\].name: rule names must be unique; 'nightly' is also rules\[0\]"),
    (dict(rules=[rule(continuous=True), rule(name="other", continuous=True)]),
     r"a plan can keep continuous backups in one rule only, got \['nightly', 'other'\]"),
    (dict(rules=[]), "rules: expected a non-empty list of BackupRule"),
    (dict(rules=[{"name": "x"}]), r"rules\[0\]: expected a BackupRule"),
    (dict(rules=[rule()], continuous_backup=True), "continuous_backup: applies to the default rules only"),
    (dict(continuous_backup=1), "continuous_backup: expected true or false"),
    (dict(kms_key_arn="my-key"), "kms_key_arn: expected an ARN of the kms service"),
    (dict(vault_lock=VaultLock(mode="strict")), r"vault_lock.mode: expected one of 'governance', 'compliance', got 'strict'"),
    (dict(vault_lock=VaultLock(min_retention_days=30, max_retention_days=7)),
     r"vault_lock.max_retention_days: expected at least min_retention_days \(30\), got 7"),
    (dict(vault_lock=VaultLock(max_retention_days=200)),
     "vault_lock: rule 'monthly' keeps recovery points 365 days, outside the lock's retention range 7-200 days; "
     "AWS Backup would fail its jobs"),
    (dict(vault_lock=VaultLock(min_retention_days=60)), "rule 'daily' keeps recovery points 30 days"),
    (dict(vault_lock=VaultLock(mode="compliance", changeable_for_days=1)),
     "vault_lock.changeable_for_days: expected a whole number of at least 3 days, got 1"),
    (dict(vault_lock={"mode": "governance"}), "vault_lock: expected VaultLock or None"),
    (dict(copy_to=CopyTarget()), "copy_to: expected exactly one of region or vault_arn"),
    (dict(copy_to=CopyTarget(region="us-west-2", vault_arn=OTHER_ACCOUNT_VAULT)), "expected exactly one of region or vault_arn"),
    (dict(copy_to=CopyTarget(region="oregon")), "copy_to.region: expected an AWS region name"),
    (dict(copy_to=CopyTarget(vault_arn=KEY)), "copy_to.vault_arn: expected an ARN of the backup service"),
    (dict(copy_to="us-west-2"), "copy_to: expected CopyTarget or None"),
    (dict(selection_tags={}, resources=[]), "selection_tags, resources: a plan that selects nothing backs nothing up"),
    (dict(selection_tags={"Backup": True}), "selection_tags: expected a mapping of string tag keys"),
    (dict(resources=["my-bucket"]), r"resources\[0\]: expected a resource ARN, got 'my-bucket'"),
    (dict(resources="arn:aws:s3:::data"), "resources: expected a list of resource ARNs"),
    (dict(tags=["Team"]), "tags: expected a mapping"),
])
def test_bad_arguments_fail_before_anything_is_registered(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BackupPlan("bad", BackupPlanArgs(**kwargs))


def test_args_must_be_backup_plan_args():
    with pytest.raises(ValueError, match="args: expected BackupPlanArgs, got list"):
        BackupPlan("bad", [])
