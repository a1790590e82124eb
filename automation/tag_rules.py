"""Rules that say where a missing cost tag's value comes from, for `aifinops audit tags --fix`.

A rules document (YAML or JSON, read by the caller) looks like:

    rules:
      - tag: CostCenter
        fromVpcTag: CostCenter          # the value of this tag on the resource's VPC
      - tag: CostCenter
        fromCreator:                    # who created it (CloudTrail), matched as shell-style patterns
          "arn:aws:iam::123456789012:user/alice": ml-research
          "arn:aws:sts::123456789012:assumed-role/ml-platform/*": platform
      - tag: Environment
        value: dev                      # a fixed value
        resourceTypes: [ec2:instance, ec2:volume]

For each tag a resource lacks, the first rule for that tag that yields a value wins. Rules only add
missing tags; they never change a tag that is there.
"""
from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

from botocore.exceptions import BotoCoreError, ClientError

from .aws_clients import AwsClients
from .ec2_instances import describe_error, tag_dict
from .tag_inventory import AuditedResource

SOURCES = ("value", "fromVpcTag", "fromCreator")
_RULE_KEYS = {"tag", "resourceTypes", *SOURCES}


@dataclass(frozen=True)
class TagRule:
    tag: str
    value: Optional[str] = None
    from_vpc_tag: Optional[str] = None
    from_creator: Optional[tuple[tuple[str, str], ...]] = None  # (principal pattern, value), in order
    resource_types: tuple[str, ...] = ()

    def applies_to(self, resource: AuditedResource) -> bool:
        return not self.resource_types or resource.resource_type in self.resource_types


def parse_rules(document: Any, where: str = "rules file") -> list[TagRule]:
    """Validate a rules document; errors name the rule, the key, the value and what was expected."""
    if not isinstance(document, Mapping) or not isinstance(document.get("rules"), list) or not document["rules"]:
        raise ValueError(f"{where}: expected a mapping with a non-empty list 'rules', got {document!r}")
    return [_parse_rule(raw, f"{where}: rules[{index}]") for index, raw in enumerate(document["rules"])]


def _parse_rule(raw: Any, where: str) -> TagRule:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: expected a mapping, got {raw!r}")
    unknown = sorted(set(raw) - _RULE_KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}; expected {', '.join(sorted(_RULE_KEYS))}")
    tag = raw.get("tag")
    if not isinstance(tag, str) or not tag:
        raise ValueError(f"{where}.tag: expected the tag key to fill in, got {tag!r}")
    sources = [s for s in SOURCES if s in raw]
    if len(sources) != 1:
        raise ValueError(f"{where}: expected exactly one of {', '.join(SOURCES)}, got {sources or 'none'}")
    types = raw.get("resourceTypes", [])
    if not isinstance(types, list) or not all(isinstance(t, str) and ":" in t for t in types):
        raise ValueError(f"{where}.resourceTypes: expected a list like ['ec2:instance', 's3:bucket'], got {types!r}")
    source = sources[0]
    value = raw[source]
    if source in ("value", "fromVpcTag") and (not isinstance(value, str) or not value):
        raise ValueError(f"{where}.{source}: expected a non-empty string, got {value!r}")
    if source == "fromCreator" and (not isinstance(value, Mapping) or not value or not all(
            isinstance(k, str) and k and isinstance(v, str) and v for k, v in value.items())):
        raise ValueError(f"{where}.fromCreator: expected a mapping of principal ARN patterns to tag values, got {value!r}")
    return TagRule(tag, value=value if source == "value" else None,
                   from_vpc_tag=value if source == "fromVpcTag" else None,
                   from_creator=tuple(value.items()) if source == "fromCreator" else None,
                   resource_types=tuple(types))


class RuleLookups:
    """What rules read from the account, fetched once and only when a rule needs it."""

    def __init__(self, clients: AwsClients) -> None:
        self._clients = clients
        self._vpc_tags: Optional[dict[str, dict[str, str]]] = None
        self._creators: dict[str, Optional[str]] = {}
        self.errors: list[tuple[str, str]] = []

    def vpc_tags(self, vpc_id: str) -> dict[str, str]:
        if self._vpc_tags is None:
            self._vpc_tags = {}
            for page in self._clients.client("ec2").get_paginator("describe_vpcs").paginate():
                for vpc in page.get("Vpcs", []):
                    self._vpc_tags[vpc["VpcId"]] = tag_dict(vpc.get("Tags"))
        return self._vpc_tags.get(vpc_id, {})

    def creator(self, resource: AuditedResource) -> Optional[str]:
        """The ARN of the principal whose call created the resource, from CloudTrail's 90-day event history."""
        if resource.arn not in self._creators:
            self._creators[resource.arn] = self._look_up_creator(resource)
        return self._creators[resource.arn]

    def _look_up_creator(self, resource: AuditedResource) -> Optional[str]:
        creations = []
        try:
            pages = self._clients.client("cloudtrail").get_paginator("lookup_events").paginate(
                LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": resource.resource_id}])
            for page in pages:
                creations += [e for e in page.get("Events", []) if e.get("EventName", "").startswith(("Create", "Run"))]
        except (ClientError, BotoCoreError) as error:
            self.errors.append((resource.arn, f"looking up the creator in CloudTrail: {describe_error(error)}"))
            return None
        if not creations:
            return None
        first = min(creations, key=lambda e: e["EventTime"])
        try:
            identity = json.loads(first.get("CloudTrailEvent") or "{}").get("userIdentity") or {}
        except json.JSONDecodeError:
            identity = {}
        return identity.get("arn") or first.get("Username")


def derive_tags(resource: AuditedResource, missing: Sequence[str], rules: Sequence[TagRule],
                lookups: RuleLookups) -> dict[str, tuple[str, str]]:
    """tag -> (value, where it came from), for the missing tags some rule can fill."""
    derived: dict[str, tuple[str, str]] = {}
    for tag in missing:
        for rule in rules:
            if rule.tag != tag or not rule.applies_to(resource):
                continue
            found = _apply(rule, resource, lookups)
            if found is not None:
                derived[tag] = found
                break
    return derived


def _apply(rule: TagRule, resource: AuditedResource, lookups: RuleLookups) -> Optional[tuple[str, str]]:
    if rule.value is not None:
        return rule.value, "fixed value"
    if rule.from_vpc_tag is not None:
        value = lookups.vpc_tags(resource.vpc_id).get(rule.from_vpc_tag) if resource.vpc_id else None
        return (value, f"tag {rule.from_vpc_tag} of {resource.vpc_id}") if value else None
    creator = lookups.creator(resource)
    if creator:
        for pattern, value in rule.from_creator or ():
            if fnmatch.fnmatchcase(creator, pattern):
                return value, f"created by {creator}"
    return None
