"""BackupPlan: AWS Backup for the data that training depends on (datasets, checkpoints, EBS, EFS).

A KMS-encrypted vault (optionally locked), a plan with daily, weekly and monthly rules by default,
optional continuous backup (point-in-time restore for S3), optional copies to another region or account,
and selections by tag or by resource. The service role gets AWS's managed backup and restore policies
and nothing else.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws
from aws_cron_expression_validator.validator import AWSCronExpressionValidator

from aifinops.core.argument_checks import arn_in_region, aws_region, flag, one_of, whole_number

from .gpu_instance import validate_tags

# AWS-managed policies for the AWS Backup service role: backup and restore, plus S3's own pair.
SERVICE_ROLE_POLICIES = {
    "backup": "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
    "restore": "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
    "s3-backup": "arn:aws:iam::aws:policy/AWSBackupServiceRolePolicyForS3Backup",
    "s3-restore": "arn:aws:iam::aws:policy/AWSBackupServiceRolePolicyForS3Restore",
}
RULE_NAME_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,50}$")
COLD_STORAGE_MINIMUM_DAYS = 90  # recovery points in cold storage are kept (and billed) at least 90 days
CONTINUOUS_MAX_RETENTION_DAYS = 35
MIN_START_WINDOW_MINUTES = 60
MIN_WINDOW_GAP_MINUTES = 60  # the completion window must exceed the start window by an hour
MAX_RETENTION_DAYS = 36500  # vault lock and recovery point retention ceiling (100 years)
MIN_CHANGEABLE_FOR_DAYS = 3  # compliance-mode grace period before a vault lock becomes immutable
DEFAULT_SELECTION_TAGS = {"Backup": "true"}


@dataclass
class BackupRule:
    """One schedule of the plan.

    - schedule: an AWS cron expression in UTC, e.g. "cron(0 5 ? * * *)" (05:00 every day); AWS Backup runs
      a rule at most once an hour.
    - delete_after_days: how long recovery points are kept.
    - cold_storage_after_days: default None (recovery points stay warm). Resources that support cold
      storage (EFS, DynamoDB, EBS archive) move there; S3 backups stay warm. Cold recovery points are kept
      at least 90 days, so delete_after_days must be at least cold_storage_after_days + 90.
    - continuous: default False. Continuous backup (point-in-time restore, S3 and RDS) keeps at most 35
      days and never goes cold; other resources get snapshots on the schedule.
    - start_window_minutes: default 60 (AWS's minimum). completion_window_minutes: default 1440 (a daily
      job that has not finished in a day is cancelled rather than overlapping the next one).
    - copy: default True: copied to the plan's copy target, when it has one, with the same lifecycle.
    """

    name: str
    schedule: str
    delete_after_days: int
    cold_storage_after_days: Optional[int] = None
    continuous: bool = False
    start_window_minutes: int = 60
    completion_window_minutes: int = 1440
    copy: bool = True


def default_rules(continuous: bool = False) -> list[BackupRule]:
    """The common schedule: daily kept 30 days; weekly, cold after 30 and kept 90 days past that;
    monthly kept a year."""
    return [
        BackupRule("daily", "cron(0 5 ? * * *)", delete_after_days=30, continuous=continuous),
        BackupRule("weekly", "cron(0 5 ? * SUN *)", delete_after_days=30 + COLD_STORAGE_MINIMUM_DAYS,
                   cold_storage_after_days=30),
        BackupRule("monthly", "cron(0 5 1 * ? *)", delete_after_days=365),
    ]


@dataclass
class VaultLock:
    """Lock the vault so recovery points cannot be deleted early, nor kept past the maximum.

    mode: "governance" (default; users with the right IAM permission can remove the lock) or "compliance"
    (after `changeable_for_days`, default 3, nobody can remove it, not even the root user).
    min_retention_days: default 7. max_retention_days: default None (no maximum). Every rule's retention
    must lie between them, or AWS Backup fails its jobs.
    """

    mode: Literal["governance", "compliance"] = "governance"
    min_retention_days: Optional[int] = 7
    max_retention_days: Optional[int] = None
    changeable_for_days: int = MIN_CHANGEABLE_FOR_DAYS


@dataclass
class CopyTarget:
    """Where recovery points are copied: `region` (the component creates a vault and key there) or
    `vault_arn` (an existing vault, e.g. in another account, whose access policy allows the copy)."""

    region: Optional[str] = None
    vault_arn: Optional[pulumi.Input[str]] = None


@dataclass
class BackupPlanArgs:
    """Arguments of BackupPlan. Nothing is required.

    - rules: default `default_rules(continuous_backup)`: daily kept 30 days, weekly cold after 30 and
      deleted at 120, monthly kept 365 days.
    - continuous_backup: default False; with the default rules, the daily rule keeps continuous backups.
    - kms_key_arn: default None: the component creates a KMS key with rotation for the vault.
    - vault_lock: default None (no lock). copy_to: default None (no copies).
    - selection_tags: default {"Backup": "true"}: every resource carrying any of these tags is backed up.
      resources: ARNs backed up whatever their tags (default none). Give {} and a list to select only by ARN.
    - tags: extra tags for the vault, plan and key (cost tags come from the stack).
    """

    rules: Optional[list[BackupRule]] = None
    continuous_backup: bool = False
    kms_key_arn: Optional[pulumi.Input[str]] = None
    vault_lock: Optional[VaultLock] = None
    copy_to: Optional[CopyTarget] = None
    selection_tags: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SELECTION_TAGS))
    resources: list[pulumi.Input[str]] = field(default_factory=list)
    tags: Mapping[str, str] = field(default_factory=dict)


def validate_schedule(argument: str, schedule: Any) -> str:
    """An AWS cron expression (six fields, one of day-of-month/day-of-week '?') at most hourly."""
    expected = "an AWS cron expression such as 'cron(0 5 ? * * *)'"
    if not isinstance(schedule, str) or not (schedule.startswith("cron(") and schedule.endswith(")")):
        raise ValueError(f"{argument}: expected {expected}, got {schedule!r}")
    fields = schedule[len("cron("):-1].strip()
    try:
        AWSCronExpressionValidator.validate(fields)
    except ValueError as error:
        raise ValueError(f"{argument}: expected {expected}, got {schedule!r}: {error}") from None
    if not fields.split(" ")[0].isdigit():
        raise ValueError(f"{argument}: AWS Backup runs a rule at most once an hour, so the minute field must be a "
                         f"single minute; got {schedule!r}")
    return schedule


def validate_rule(where: str, rule: Any) -> BackupRule:
    if not isinstance(rule, BackupRule):
        raise ValueError(f"{where}: expected a BackupRule, got {rule!r}")
    if not isinstance(rule.name, str) or not RULE_NAME_PATTERN.match(rule.name):
        raise ValueError(f"{where}.name: expected 1-50 letters, digits, '.', '_' or '-', got {rule.name!r}")
    label = f"{where} ('{rule.name}')"
    validate_schedule(f"{label}.schedule", rule.schedule)
    delete_after = whole_number(f"{label}.delete_after_days", rule.delete_after_days, 1, MAX_RETENTION_DAYS, "days")
    if flag(f"{label}.continuous", rule.continuous):
        if rule.cold_storage_after_days is not None:
            raise ValueError(f"{label}.cold_storage_after_days: continuous backups cannot move to cold storage; "
                             f"expected None, got {rule.cold_storage_after_days!r}")
        if delete_after > CONTINUOUS_MAX_RETENTION_DAYS:
            raise ValueError(f"{label}.delete_after_days: continuous backups are kept at most "
                             f"{CONTINUOUS_MAX_RETENTION_DAYS} days, got {delete_after}")
    if rule.cold_storage_after_days is not None:
        cold = whole_number(f"{label}.cold_storage_after_days", rule.cold_storage_after_days, 1, unit="days")
        minimum = cold + COLD_STORAGE_MINIMUM_DAYS
        if delete_after < minimum:
            raise ValueError(f"{label}.delete_after_days: recovery points stay in cold storage at least "
                             f"{COLD_STORAGE_MINIMUM_DAYS} days, so delete_after_days must be at least "
                             f"cold_storage_after_days + {COLD_STORAGE_MINIMUM_DAYS} = {minimum}; got {delete_after}")
    start = whole_number(f"{label}.start_window_minutes", rule.start_window_minutes, MIN_START_WINDOW_MINUTES,
                         unit="minutes")
    whole_number(f"{label}.completion_window_minutes", rule.completion_window_minutes, start + MIN_WINDOW_GAP_MINUTES,
                 unit=f"minutes (the start window, {start}, plus {MIN_WINDOW_GAP_MINUTES})")
    flag(f"{label}.copy", rule.copy)
    return rule


def validate_rules(argument: str, rules: Any) -> list[BackupRule]:
    if isinstance(rules, (str, bytes)) or not isinstance(rules, Sequence) or not rules:
        raise ValueError(f"{argument}: expected a non-empty list of BackupRule, got {rules!r}")
    names: dict[str, int] = {}
    for index, rule in enumerate(rules):
        validate_rule(f"{argument}[{index}]", rule)
        if rule.name in names:
            raise ValueError(f"{argument}[{index}].name: rule names must be unique; {rule.name!r} is also "
                             f"{argument}[{names[rule.name]}]")
        names[rule.name] = index
    continuous = [rule.name for rule in rules if rule.continuous]
    if len(continuous) > 1:
        raise ValueError(f"{argument}: a plan can keep continuous backups in one rule only, got {continuous}")
    return list(rules)


def validate_vault_lock(argument: str, lock: Any, rules: Sequence[BackupRule]) -> Optional[VaultLock]:
    if lock is None:
        return None
    if not isinstance(lock, VaultLock):
        raise ValueError(f"{argument}: expected VaultLock or None, got {lock!r}")
    one_of(f"{argument}.mode", lock.mode, ("governance", "compliance"))
    low = high = None
    if lock.min_retention_days is not None:
        low = whole_number(f"{argument}.min_retention_days", lock.min_retention_days, 1, MAX_RETENTION_DAYS, "days")
    if lock.max_retention_days is not None:
        high = whole_number(f"{argument}.max_retention_days", lock.max_retention_days, 1, MAX_RETENTION_DAYS, "days")
    if low is not None and high is not None and low > high:
        raise ValueError(f"{argument}.max_retention_days: expected at least min_retention_days ({low}), got {high}")
    if lock.mode == "compliance":
        whole_number(f"{argument}.changeable_for_days", lock.changeable_for_days, MIN_CHANGEABLE_FOR_DAYS, unit="days")
    for rule in rules:
        if (low is not None and rule.delete_after_days < low) or (high is not None and rule.delete_after_days > high):
            raise ValueError(f"{argument}: rule '{rule.name}' keeps recovery points {rule.delete_after_days} days, "
                             f"outside the lock's retention range {low or 1}-{high or MAX_RETENTION_DAYS} days; "
                             f"AWS Backup would fail its jobs")
    return lock


def validate_copy_target(argument: str, target: Any) -> Optional[CopyTarget]:
    if target is None:
        return None
    if not isinstance(target, CopyTarget):
        raise ValueError(f"{argument}: expected CopyTarget or None, got {target!r}")
    if (target.region is None) == (target.vault_arn is None):
        raise ValueError(f"{argument}: expected exactly one of region or vault_arn, got region={target.region!r}, "
                         f"vault_arn={target.vault_arn!r}")
    if target.region is not None:
        aws_region(f"{argument}.region", target.region)
    else:
        arn_in_region(f"{argument}.vault_arn", target.vault_arn, "backup", None)
    return target


def validate_resources(argument: str, resources: Any) -> list[pulumi.Input[str]]:
    if isinstance(resources, (str, bytes)) or not isinstance(resources, Sequence):
        raise ValueError(f"{argument}: expected a list of resource ARNs, got {resources!r}")
    for index, arn in enumerate(resources):
        if isinstance(arn, pulumi.Output):
            continue
        if not isinstance(arn, str) or not arn.startswith("arn:"):
            raise ValueError(f"{argument}[{index}]: expected a resource ARN, got {arn!r}")
    return list(resources)


def account_key_policy(identity: Any, partition: Any) -> str:
    """The KMS default key policy, written out: the account administers the key through IAM."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "AccountAdministersThroughIam", "Effect": "Allow",
        "Principal": {"AWS": f"arn:{partition.partition}:iam::{identity.account_id}:root"},
        "Action": "kms:*", "Resource": "*",
    }]})


def lifecycle_input(rule: BackupRule) -> dict[str, Any]:
    lifecycle: dict[str, Any] = {"delete_after": rule.delete_after_days}
    if rule.cold_storage_after_days is not None:
        # Lets EBS snapshots use the archive tier too (it has the same 90-day minimum).
        lifecycle.update(cold_storage_after=rule.cold_storage_after_days,
                         opt_in_to_archive_for_supported_resources=True)
    return lifecycle


def plan_rule_input(rule: BackupRule, vault_name: pulumi.Input[str],
                    copy_vault_arn: Optional[pulumi.Input[str]]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "rule_name": rule.name, "target_vault_name": vault_name, "schedule": rule.schedule,
        "start_window": rule.start_window_minutes, "completion_window": rule.completion_window_minutes,
        "enable_continuous_backup": rule.continuous, "lifecycle": lifecycle_input(rule),
    }
    if copy_vault_arn is not None and rule.copy:
        entry["copy_actions"] = [{"destination_vault_arn": copy_vault_arn, "lifecycle": lifecycle_input(rule)}]
    return entry


class BackupPlan(pulumi.ComponentResource):
    """An AWS Backup vault, plan and selections: daily, weekly and monthly recovery points by default."""

    vault_name: pulumi.Output[str]
    vault_arn: pulumi.Output[str]
    plan_id: pulumi.Output[str]
    plan_arn: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    copy_vault_arn: Optional[pulumi.Output[str]]

    def __init__(self, name: str, args: Optional[BackupPlanArgs] = None,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        # Validate everything before registering anything.
        args = BackupPlanArgs() if args is None else args
        if not isinstance(args, BackupPlanArgs):
            raise ValueError(f"args: expected BackupPlanArgs, got {type(args).__name__}")
        flag("continuous_backup", args.continuous_backup)
        if args.rules is not None and args.continuous_backup:
            raise ValueError("continuous_backup: applies to the default rules only; with your own rules, set "
                             "continuous=True on the rule that should keep continuous backups")
        rules = validate_rules("rules", default_rules(args.continuous_backup) if args.rules is None else args.rules)
        arn_in_region("kms_key_arn", args.kms_key_arn, "kms", None)
        lock = validate_vault_lock("vault_lock", args.vault_lock, rules)
        copy_to = validate_copy_target("copy_to", args.copy_to)
        selection_tags = validate_tags("selection_tags", args.selection_tags)
        resources = validate_resources("resources", args.resources)
        if not selection_tags and not resources:
            raise ValueError("selection_tags, resources: a plan that selects nothing backs nothing up; expected "
                             "selection tags (e.g. {'Backup': 'true'}) or resource ARNs, got neither")
        tags = validate_tags("tags", args.tags) or None

        super().__init__("aifinops:backup:BackupPlan", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        key_arn = args.kms_key_arn
        if key_arn is None:
            key_arn = self._key(f"{name}-key", f"AWS Backup vault {name}", None, tags).arn
        vault = aws.backup.Vault(f"{name}-vault", kms_key_arn=key_arn, tags=tags, opts=child)
        if lock is not None:
            aws.backup.VaultLockConfiguration(
                f"{name}-vault-lock", backup_vault_name=vault.name, min_retention_days=lock.min_retention_days,
                max_retention_days=lock.max_retention_days,
                changeable_for_days=lock.changeable_for_days if lock.mode == "compliance" else None, opts=child)
        self.copy_vault_arn = None
        if copy_to is not None:
            self.copy_vault_arn = self._copy_vault(name, copy_to, tags)
        plan_rules = [plan_rule_input(rule, vault.name, self.copy_vault_arn) for rule in rules]
        plan = aws.backup.Plan(f"{name}-plan", rules=plan_rules, tags=tags, opts=child)
        role = aws.iam.Role(f"{name}-role", assume_role_policy=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "backup.amazonaws.com"},
                           "Action": "sts:AssumeRole"}],
        }), tags=tags, opts=child)
        attachments = [aws.iam.RolePolicyAttachment(f"{name}-{purpose}", role=role.name, policy_arn=arn, opts=child)
                       for purpose, arn in SERVICE_ROLE_POLICIES.items()]
        # A selection made before its role can act fails its first jobs.
        selection_opts = pulumi.ResourceOptions(parent=self, depends_on=attachments)
        if selection_tags:
            aws.backup.Selection(f"{name}-tagged", iam_role_arn=role.arn, plan_id=plan.id, selection_tags=[
                {"type": "STRINGEQUALS", "key": key, "value": value} for key, value in selection_tags.items()],
                opts=selection_opts)
        if resources:
            aws.backup.Selection(f"{name}-resources", iam_role_arn=role.arn, plan_id=plan.id, resources=resources,
                                 opts=selection_opts)

        self.vault_name = vault.name
        self.vault_arn = vault.arn
        self.plan_id = plan.id
        self.plan_arn = plan.arn
        self.role_arn = role.arn
        self.register_outputs({"vaultName": vault.name, "vaultArn": vault.arn, "planId": plan.id,
                               "planArn": plan.arn, "roleArn": role.arn, "copyVaultArn": self.copy_vault_arn})

    def _copy_vault(self, name: str, target: CopyTarget, tags: Optional[dict[str, str]]) -> pulumi.Output[str]:
        if target.vault_arn is not None:
            return pulumi.Output.from_input(target.vault_arn)
        child = pulumi.ResourceOptions(parent=self)
        key = self._key(f"{name}-copy-key", f"AWS Backup copy vault {name}", target.region, tags)
        return aws.backup.Vault(f"{name}-copy-vault", region=target.region, kms_key_arn=key.arn, tags=tags,
                                opts=child).arn

    def _key(self, name: str, description: str, region: Optional[str], tags: Optional[dict[str, str]]) -> aws.kms.Key:
        """A vault key: rotated yearly, 30 days to cancel a deletion, its key policy written out."""
        invoke = pulumi.InvokeOptions(parent=self)
        policy = pulumi.Output.all(aws.get_caller_identity_output(opts=invoke), aws.get_partition_output(opts=invoke)) \
            .apply(lambda values: account_key_policy(*values))
        return aws.kms.Key(name, region=region, description=description, enable_key_rotation=True,
                           deletion_window_in_days=30, policy=policy, tags=tags,
                           opts=pulumi.ResourceOptions(parent=self))
