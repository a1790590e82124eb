"""The required cost tags as one definition: what the `required-cost-tags` policy checks at preview, the
AWS Config rules check in the account, and an AWS Organizations tag policy enforces.

The definition is the policy's config (`requiredTags`, `allowedValues`), read from a `--policy-pack-config`
file or given directly, so a PR check and the account's continuous checks never disagree. This module
turns it into:
- the input parameters of AWS Config's managed `REQUIRED_TAGS` rule, which checks at most six keys per rule
  (`tag1Key`..`tag6Key`, each `tagNValue` a comma-separated list of allowed values): more keys, more rules;
- the JSON of an Organizations tag policy (`{"tags": {<key lowercased>: {"tag_key": {"@@assign": ...}}}}`).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

from .errors import PolicyPackError
from .policy_config import PackInfo, PolicyInfo, PolicyPackConfig, load_config_file, parse_config, reconcile
from .tags import DEFAULT_REQUIRED_TAGS, user_tag_key

REQUIRED_COST_TAGS_POLICY = "required-cost-tags"
# The config properties of `required-cost-tags` (its JSON schema, defaults included): the policy pack, the
# checkov checks and this module all read the same properties.
REQUIRED_COST_TAGS_PROPERTIES: dict[str, Any] = {
    "requiredTags": {
        "type": "array", "items": {"type": "string", "minLength": 1}, "uniqueItems": True,
        "default": list(DEFAULT_REQUIRED_TAGS),
        "description": "Tag keys every taggable resource must carry with a non-empty value.",
    },
    "allowedValues": {
        "type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}},
        "default": {},
        "description": "Optional: tag key -> the only values it may take, e.g. {\"Environment\": [\"dev\", \"prod\"]}.",
    },
}

CONFIG_RULE_IDENTIFIER = "REQUIRED_TAGS"
CONFIG_RULE_MAX_KEYS = 6  # the managed rule's tag1Key..tag6Key
CONFIG_RULE_MAX_PARAMETERS = 1024  # characters of a rule's InputParameters JSON
CONFIG_SCOPE_MAX_TYPES = 100  # ComplianceResourceTypes
TAG_POLICY_MAX_CHARACTERS = 10_000  # an Organizations tag policy document
# The resource types the managed REQUIRED_TAGS rule evaluates, from the rule's page in the AWS Config
# developer guide (docs.aws.amazon.com/config/latest/developerguide/required-tags.html).
REQUIRED_TAGS_RESOURCE_TYPES = (
    "AWS::ACM::Certificate", "AWS::AutoScaling::AutoScalingGroup", "AWS::CloudFormation::Stack",
    "AWS::CodeBuild::Project", "AWS::DynamoDB::Table", "AWS::EC2::CustomerGateway", "AWS::EC2::Instance",
    "AWS::EC2::InternetGateway", "AWS::EC2::NetworkAcl", "AWS::EC2::NetworkInterface", "AWS::EC2::RouteTable",
    "AWS::EC2::SecurityGroup", "AWS::EC2::Subnet", "AWS::EC2::Volume", "AWS::EC2::VPC", "AWS::EC2::VPNConnection",
    "AWS::EC2::VPNGateway", "AWS::ElasticLoadBalancing::LoadBalancer", "AWS::ElasticLoadBalancingV2::LoadBalancer",
    "AWS::RDS::DBInstance", "AWS::RDS::DBSecurityGroup", "AWS::RDS::DBSnapshot", "AWS::RDS::DBSubnetGroup",
    "AWS::RDS::EventSubscription", "AWS::Redshift::Cluster", "AWS::Redshift::ClusterParameterGroup",
    "AWS::Redshift::ClusterSecurityGroup", "AWS::Redshift::ClusterSnapshot", "AWS::Redshift::ClusterSubnetGroup",
    "AWS::S3::Bucket",
)
# Tag policies and the Config rule accept a trailing * in an allowed value, as a wildcard.
_ALLOWED_VALUE = re.compile(r"^[\w .:/=+\-@*]{1,256}$")
_CONFIG_TYPE = re.compile(r"^AWS::[A-Za-z0-9]+::[A-Za-z0-9]+$")
_TAG_POLICY_TYPE = re.compile(r"^[a-z0-9-]+:([A-Za-z0-9-]+|ALL_SUPPORTED|\*)$")


def _policy_pack() -> PackInfo:
    """A pack of the one policy, to reconcile a config file with the policy's schema defaults."""
    policy = PolicyInfo(REQUIRED_COST_TAGS_POLICY, "required cost tags", "mandatory",
                        {"properties": REQUIRED_COST_TAGS_PROPERTIES})
    return PackInfo(name="aifinops-required-tags", version="1", directory=Path("."), policies=(policy,))


@dataclass(frozen=True)
class RequiredTags:
    """Tag keys every resource must carry, and for some of them the only values they may take.

    - keys: default CostCenter, Project, Environment (the `required-cost-tags` default).
    - allowed_values: key -> allowed values (default none: any non-empty value). Only required keys may be
      listed: the Config rule and the tag policy check values of the keys they require.
    """

    keys: tuple[str, ...] = DEFAULT_REQUIRED_TAGS
    allowed_values: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        keys = self.keys
        if isinstance(keys, str) or not isinstance(keys, Sequence) or not keys:
            raise ValueError(f"required_tags.keys: expected a non-empty list of tag keys, got {keys!r}")
        for key in keys:
            if not user_tag_key(key):
                raise ValueError(f"required_tags.keys: expected tag keys of 1-128 letters, digits, spaces and "
                                 f"_.:/=+-@, not starting with aws:, got {key!r}")
        if len({k.lower() for k in keys}) != len(keys):
            raise ValueError(f"required_tags.keys: expected keys that differ in more than case (tag policies and "
                             f"the Config rule would treat them as one), got {list(keys)!r}")
        if not isinstance(self.allowed_values, Mapping):
            raise ValueError(f"required_tags.allowed_values: expected a mapping of tag keys to lists of values, "
                             f"got {self.allowed_values!r}")
        allowed: dict[str, tuple[str, ...]] = {}
        for key, values in self.allowed_values.items():
            if key not in keys:
                raise ValueError(f"required_tags.allowed_values: {key!r} is not a required key ({', '.join(keys)}); "
                                 "the REQUIRED_TAGS rule checks values only of the keys it requires")
            if isinstance(values, str) or not isinstance(values, Sequence) or not values:
                raise ValueError(f"required_tags.allowed_values.{key}: expected a non-empty list of values, got {values!r}")
            for value in values:
                if not isinstance(value, str) or not _ALLOWED_VALUE.match(value):
                    raise ValueError(f"required_tags.allowed_values.{key}: expected values of 1-256 letters, digits, "
                                     f"spaces and _.:/=+-@* (no commas: the Config rule separates values with "
                                     f"commas), got {value!r}")
            allowed[key] = tuple(values)
        object.__setattr__(self, "keys", tuple(keys))
        object.__setattr__(self, "allowed_values", allowed)

    @staticmethod
    def from_policy_config(document: Any, origin: str = "policy config") -> "RequiredTags":
        """From a `--policy-pack-config` document: its `required-cost-tags` entry over the policy's defaults."""
        return RequiredTags._from_config(lambda: parse_config(document, origin))

    @staticmethod
    def from_policy_config_file(path: str | Path) -> "RequiredTags":
        """From a `--policy-pack-config` file, the one the PR check runs the packs with."""
        return RequiredTags._from_config(lambda: load_config_file(path))

    @staticmethod
    def _from_config(read: Callable[[], PolicyPackConfig]) -> "RequiredTags":
        try:
            settings = reconcile(_policy_pack(), [read()])[REQUIRED_COST_TAGS_POLICY]
        except PolicyPackError as error:
            raise ValueError(str(error)) from None
        return RequiredTags(tuple(settings.properties["requiredTags"]),
                            {k: tuple(v) for k, v in settings.properties["allowedValues"].items()})

    def config_rule_parameters(self) -> list[dict[str, str]]:
        """The InputParameters of each REQUIRED_TAGS rule needed: six keys per rule, in order."""
        rules = []
        for start in range(0, len(self.keys), CONFIG_RULE_MAX_KEYS):
            parameters: dict[str, str] = {}
            for number, key in enumerate(self.keys[start:start + CONFIG_RULE_MAX_KEYS], start=1):
                parameters[f"tag{number}Key"] = key
                if key in self.allowed_values:
                    parameters[f"tag{number}Value"] = ",".join(self.allowed_values[key])
            if len(json.dumps(parameters)) > CONFIG_RULE_MAX_PARAMETERS:
                raise ValueError(f"required_tags: the Config rule for {', '.join(self.keys[start:start + 6])} would "
                                 f"need {len(json.dumps(parameters))} characters of input parameters; AWS Config "
                                 f"accepts {CONFIG_RULE_MAX_PARAMETERS}: list fewer allowed values")
            rules.append(parameters)
        return rules

    def tag_policy(self, enforced_for: Sequence[str] = ()) -> str:
        """An Organizations tag policy: each key with its exact case and allowed values; `enforced_for`
        (e.g. ec2:instance) makes non-compliant tagging operations on those types fail instead of only
        being reported."""
        statements = {}
        for key in self.keys:
            statement: dict[str, Any] = {"tag_key": {"@@assign": key}}
            if key in self.allowed_values:
                statement["tag_value"] = {"@@assign": list(self.allowed_values[key])}
            if enforced_for:
                statement["enforced_for"] = {"@@assign": list(enforced_for)}
            statements[key.lower()] = statement
        document = json.dumps({"tags": statements}, separators=(",", ":"))
        if len(document) > TAG_POLICY_MAX_CHARACTERS:
            raise ValueError(f"tag_policy: the policy would be {len(document)} characters; AWS Organizations "
                             f"accepts {TAG_POLICY_MAX_CHARACTERS}: enforce on fewer resource types")
        return document


def validate_config_resource_types(argument: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise ValueError(f"{argument}: expected a non-empty list of AWS Config resource types such as "
                         f"AWS::EC2::Instance, got {value!r}")
    for item in value:
        if not isinstance(item, str) or not _CONFIG_TYPE.match(item):
            raise ValueError(f"{argument}: expected AWS Config resource types such as AWS::EC2::Instance, got {item!r}")
    if len(value) > CONFIG_SCOPE_MAX_TYPES:
        raise ValueError(f"{argument}: a Config rule's scope takes at most {CONFIG_SCOPE_MAX_TYPES} resource types, "
                         f"got {len(value)}")
    return tuple(dict.fromkeys(value))


def validate_tag_policy_types(argument: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ValueError(f"{argument}: expected a list of tag policy resource types such as ec2:instance, got {value!r}")
    for item in value:
        if not isinstance(item, str) or not _TAG_POLICY_TYPE.match(item):
            raise ValueError(f"{argument}: expected tag policy resource types such as ec2:instance or "
                             f"s3:ALL_SUPPORTED, got {item!r}")
    return tuple(dict.fromkeys(value))


def config_rule_keys(input_parameters: Optional[str]) -> tuple[str, ...]:
    """The tag keys a REQUIRED_TAGS rule checks, from its InputParameters JSON (tag1Key..tag6Key)."""
    try:
        parameters = json.loads(input_parameters or "{}")
    except json.JSONDecodeError:
        return ()
    if not isinstance(parameters, Mapping):
        return ()
    return tuple(parameters[f"tag{n}Key"] for n in range(1, CONFIG_RULE_MAX_KEYS + 1)
                 if isinstance(parameters.get(f"tag{n}Key"), str))
