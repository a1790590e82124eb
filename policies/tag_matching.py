"""Matching a resource's tags against configured tags, the same way in every policy that selects by tag."""
from __future__ import annotations

from typing import Any, Mapping

from pulumi_policy import PolicyResource

from aifinops.core.tags import effective_tags

from .preview_values import UNKNOWN
from .stack_resources import StackResources


def tags_of(stack: StackResources, resource: PolicyResource) -> Any:
    """The tags the resource will carry (its own and its provider's default tags), or UNKNOWN."""
    return effective_tags(resource.resource_type, stack.props(resource), stack.provider_props(resource))


def tag_matches(tags: Any, key: str, value: str) -> bool:
    """tags[key] == value; "*" matches any value, and an unknown value matches."""
    if tags is UNKNOWN:
        return True
    if not isinstance(tags, Mapping) or key not in tags:
        return False
    return value == "*" or tags[key] is UNKNOWN or tags[key] == value


def exempt(tags: Any, exempt_tags: Mapping[str, str]) -> bool:
    """The resource carries one of the exempting tags (definitely: unknown tags exempt nothing)."""
    return isinstance(tags, Mapping) and any(
        key in tags and (value == "*" or tags[key] == value) for key, value in exempt_tags.items())
