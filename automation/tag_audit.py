"""The tag audit: which resources lack the required cost tags, and (with rules) filling them in.

`audit` reads the inventory and lists what is missing, with counts per resource type. `fix` works out
the tags the rules give each resource and applies them through the tagging API, batch by batch; a
resource the API refuses is reported and the rest carry on. A dry run unless `apply=True`.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Sequence

from botocore.exceptions import BotoCoreError, ClientError

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
