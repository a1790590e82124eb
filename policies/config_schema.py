"""Policy config: JSON-schema properties with defaults, read the same way in every policy.

The engine (and `aifinops preview`) fills in schema defaults before it calls Configure; `setting()` falls
back to the same default when a policy runs without them (e.g. a policy constructed in-process).
"""
from __future__ import annotations

import copy
from typing import Any, Union

from pulumi_policy import PolicyConfigSchema, ResourceValidationArgs, StackValidationArgs


def config_schema(properties: dict[str, dict[str, Any]], required: list[str] | None = None) -> PolicyConfigSchema:
    """A policy's config schema. Every property must document a `default` (awsguard's convention)."""
    for key, spec in properties.items():
        if "default" not in spec:
            raise ValueError(f"policy config property {key!r} has no default")
    return PolicyConfigSchema(properties=properties, required=required)


def setting(args: Union[ResourceValidationArgs, StackValidationArgs], schema: PolicyConfigSchema, key: str) -> Any:
    """The configured value of `key`, or the schema's default."""
    config = args.get_config() or {}
    if key in config:
        return config[key]
    return copy.deepcopy(schema.properties[key]["default"])
