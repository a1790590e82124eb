"""The tag audit: which resources lack the required cost tags, and (with rules) filling them in.

`audit` reads the inventory and lists what is missing, with counts per resource type; `audit_from_config`
reads the same from the latest results of the account's AWS Config REQUIRED_TAGS rules (a few paged calls
per rule instead of listing every resource). `fix` works out
the tags the rules give each resource and applies them through the tagging API, batch by batch; a
resource the API refuses is reported and the rest carry on. A dry run unless `apply=True`.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Sequence

from botocore.exceptions import BotoCoreError, ClientError

from aifinops.core.required_tags import CONFIG_RULE_IDENTIFIER, config_rule_keys

from .action_log import ActionLog
from .aws_clients import AwsClients
from .ec2_instances import describe_error
from .tag_inventory import SWEEPS, AuditedResource, Inventory, collect
from .tag_rules import RuleLookups, TagRule, derive_tags

JOB = "tag-fix"
TAG_BATCH = 20  # TagResources accepts at most 20 ARNs per call


@dataclass(frozen=True)
class Finding:
    resource: AuditedResource
    missing: tuple[str, ...]


@dataclass
class TagAudit:
    required: tuple[str, ...]
    inventory: Inventory

    @property
    def findings(self) -> list[Finding]:
        found = []
        for arn in sorted(self.inventory.resources):
            resource = self.inventory.resources[arn]
            missing = tuple(t for t in self.required if not resource.tags.get(t, "").strip())
            if missing:
                found.append(Finding(resource, missing))
        return found

    def counts(self) -> dict[str, dict[str, int]]:
        """resource type -> {"resources": n, "missingTags": m}."""
        totals: dict[str, dict[str, int]] = defaultdict(lambda: {"resources": 0, "missingTags": 0})
        for resource in self.inventory.resources.values():
            totals[resource.resource_type]["resources"] += 1
        for finding in self.findings:
            totals[finding.resource.resource_type]["missingTags"] += 1
        return dict(sorted(totals.items()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "requiredTags": list(self.required),
            "resources": len(self.inventory.resources),
            "missingTags": len(self.findings),
            "countsByType": self.counts(),
            "findings": [{"arn": f.resource.arn, "resourceType": f.resource.resource_type, "missing": list(f.missing),
                          "tags": f.resource.tags, "sources": sorted(f.resource.sources)} for f in self.findings],
            "errors": [{"arn": arn, "error": error} for arn, error in self.inventory.errors],
        }


def audit(clients: AwsClients, required: Sequence[str], sweeps: Sequence[str] = SWEEPS,
          resource_types: Sequence[str] = ()) -> TagAudit:
    if isinstance(required, str) or not required or not all(isinstance(t, str) and t for t in required):
        raise ValueError(f"required: expected a non-empty list of tag keys, got {required!r}")
    return TagAudit(tuple(required), collect(clients, sweeps, resource_types=resource_types))


def fix(clients: AwsClients, result: TagAudit, rules: Sequence[TagRule], apply: bool = False) -> ActionLog:
    """Fill the missing tags the rules can give; report the rest. Nothing is written unless `apply`."""
    report = ActionLog(JOB, dry_run=not apply)
    lookups = RuleLookups(clients)
    planned: dict[tuple[tuple[str, str], ...], list[AuditedResource]] = defaultdict(list)
    reasons: dict[str, str] = {}
    for finding in result.findings:
        derived = derive_tags(finding.resource, finding.missing, rules, lookups)
        unfilled = [t for t in finding.missing if t not in derived]
        if unfilled:
            report.record(finding.resource.arn, "tag", "reported", f"no rule gives {', '.join(unfilled)}")
        if derived:
            planned[tuple(sorted((k, v) for k, (v, _) in derived.items()))].append(finding.resource)
            reasons[finding.resource.arn] = "; ".join(f"{k}={v} ({why})" for k, (v, why) in derived.items())
    for arn, error in lookups.errors:
        report.record(arn, "look-up", "failed", error)
    tagging = clients.client("resourcegroupstaggingapi")
    for tags, resources in planned.items():
        for start in range(0, len(resources), TAG_BATCH):
            batch = resources[start:start + TAG_BATCH]
            failed: dict[str, str] = {}
            if apply:
                failed = _tag_batch(tagging, [r.arn for r in batch], dict(tags))
            for resource in batch:
                if resource.arn in failed:
                    report.record(resource.arn, "tag", "failed", failed[resource.arn], tags=dict(tags))
                else:
                    report.changed(resource.arn, "tag", reasons[resource.arn], tags=dict(tags))
    return report


def _tag_batch(tagging: Any, arns: list[str], tags: dict[str, str]) -> dict[str, str]:
    """ARN -> why it was not tagged (an empty mapping when all were)."""
    try:
        response = tagging.tag_resources(ResourceARNList=arns, Tags=tags)
    except (ClientError, BotoCoreError) as error:
        return {arn: describe_error(error) for arn in arns}
    return {arn: f"{info.get('ErrorCode', 'Error')}: {info.get('ErrorMessage', '')}".rstrip(": ")
            for arn, info in (response.get("FailedResourcesMap") or {}).items()}


# -- the audit from AWS Config: the REQUIRED_TAGS rules' results instead of a scan -------------------------
COMPLIANCE_PAGE_SIZE = 100  # get_compliance_details_by_config_rule's maximum


class ConfigSourceError(RuntimeError):
    """AWS Config cannot answer for the account (no recorder, no rule, no finished evaluation): an empty
    result would pass for a clean account, so the audit stops instead."""


@dataclass(frozen=True)
class ConfigRule:
    name: str
    keys: tuple[str, ...]


@dataclass(frozen=True)
class ConfigFinding:
    resource_type: str  # AWS::EC2::Instance
    resource_id: str
    rules: tuple[str, ...]  # the rules it fails
    required: tuple[str, ...]  # the keys those rules require (Config does not say which is missing)
    annotation: str = ""


@dataclass
class ConfigTagAudit:
    rules: list[ConfigRule]
    evaluated: dict[tuple[str, str], dict[str, str]]  # (type, id) -> rule name -> COMPLIANT | NON_COMPLIANT
    annotations: dict[tuple[str, str], str]

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(key for rule in self.rules for key in rule.keys))

    @property
    def findings(self) -> list[ConfigFinding]:
        keys = {rule.name: rule.keys for rule in self.rules}
        found = []
        for (resource_type, resource_id), results in sorted(self.evaluated.items()):
            failed = tuple(sorted(name for name, result in results.items() if result == "NON_COMPLIANT"))
            if failed:
                required = tuple(dict.fromkeys(k for name in failed for k in keys.get(name, ())))
                found.append(ConfigFinding(resource_type, resource_id, failed, required,
                                           self.annotations.get((resource_type, resource_id), "")))
        return found

    def counts(self) -> dict[str, dict[str, int]]:
        totals: dict[str, dict[str, int]] = defaultdict(lambda: {"resources": 0, "missingTags": 0})
        for resource_type, _ in self.evaluated:
            totals[resource_type]["resources"] += 1
        for finding in self.findings:
            totals[finding.resource_type]["missingTags"] += 1
        return dict(sorted(totals.items()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": "config", "requiredTags": list(self.required),
            "rules": [{"name": r.name, "requiredTags": list(r.keys)} for r in self.rules],
            "resources": len(self.evaluated), "missingTags": len(self.findings), "countsByType": self.counts(),
            "findings": [{"resourceType": f.resource_type, "resourceId": f.resource_id, "rules": list(f.rules),
                          "requiredTags": list(f.required), "annotation": f.annotation} for f in self.findings],
            "errors": [],
        }


def audit_from_config(clients: AwsClients, rule_names: Sequence[str] = ()) -> ConfigTagAudit:
    """The REQUIRED_TAGS rules' latest results (all such rules in the region, or those named)."""
    config = clients.client("config")
    recorders = config.describe_configuration_recorder_status().get("ConfigurationRecordersStatus", [])
    if not any(r.get("recording") for r in recorders):
        raise ConfigSourceError(f"AWS Config is not recording in {clients.region_name} (no configuration recorder "
                                "is on), so its rules evaluate nothing; turn the recorder on (TagCompliance's "
                                "`recorder` can) or audit with --source scan")
    rules = _required_tags_rules(config, rule_names, clients.region_name)
    statuses = {s["ConfigRuleName"]: s for page in config.get_paginator("describe_config_rule_evaluation_status")
                .paginate(ConfigRuleNames=[r.name for r in rules]) for s in page.get("ConfigRulesEvaluationStatus", [])}
    for rule in rules:
        status = statuses.get(rule.name, {})
        if not status.get("LastSuccessfulEvaluationTime"):
            problem = f" (last error: {status['LastErrorCode']}: {status.get('LastErrorMessage', '')})" \
                if status.get("LastErrorCode") else ""
            raise ConfigSourceError(f"Config rule {rule.name} has not finished an evaluation yet{problem}; its "
                                    "results would be incomplete: wait for it or audit with --source scan")
    evaluated: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
    annotations: dict[tuple[str, str], str] = {}
    for rule in rules:
        pages = config.get_paginator("get_compliance_details_by_config_rule").paginate(
            ConfigRuleName=rule.name, ComplianceTypes=["COMPLIANT", "NON_COMPLIANT"],
            PaginationConfig={"PageSize": COMPLIANCE_PAGE_SIZE})
        for page in pages:
            for result in page.get("EvaluationResults", []):
                qualifier = result["EvaluationResultIdentifier"]["EvaluationResultQualifier"]
                resource = (qualifier["ResourceType"], qualifier["ResourceId"])
                evaluated[resource][rule.name] = result["ComplianceType"]
                if result["ComplianceType"] == "NON_COMPLIANT" and result.get("Annotation"):
                    annotations[resource] = result["Annotation"]
    return ConfigTagAudit(rules, dict(evaluated), annotations)


def _required_tags_rules(config: Any, rule_names: Sequence[str], region: str) -> list[ConfigRule]:
    arguments = {"ConfigRuleNames": list(rule_names)} if rule_names else {}
    found = [rule for page in config.get_paginator("describe_config_rules").paginate(**arguments)
             for rule in page.get("ConfigRules", [])]
    required_tags = [r for r in found if (r.get("Source") or {}).get("Owner") == "AWS"
                     and (r.get("Source") or {}).get("SourceIdentifier") == CONFIG_RULE_IDENTIFIER]
    other = [r["ConfigRuleName"] for r in found if r not in required_tags]
    if rule_names and other:
        raise ConfigSourceError(f"--config-rule: {', '.join(other)} is not an AWS managed REQUIRED_TAGS rule")
    if not required_tags:
        raise ConfigSourceError(f"no AWS Config REQUIRED_TAGS rule in {region}; deploy TagCompliance (or name one "
                                "with --config-rule), or audit with --source scan")
    return [ConfigRule(r["ConfigRuleName"], config_rule_keys(r.get("InputParameters"))) for r in required_tags]
