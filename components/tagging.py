"""The stack transform that puts cost-allocation tags on every taggable AWS resource.

What can carry tags, and how tags merge, is `aifinops.core.tags`: the same rules the policies, the
estimator and the checkov export apply.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

import pulumi

from aifinops.core.tags import DEFAULT_REQUIRED_TAGS, is_taggable, merge_tags, validate_cost_tags

__all__ = ["DEFAULT_REQUIRED_TAGS", "register_cost_tags", "registered_cost_tags", "validate_cost_tags"]

_registered: dict[str, str] = {}  # what this program registered: Kubernetes objects carry them as labels


def registered_cost_tags() -> dict[str, str]:
    """The cost tags register_cost_tags put on this stack (empty before it is called)."""
    return dict(_registered)


def register_cost_tags(tags: Mapping[str, str], required: Any = DEFAULT_REQUIRED_TAGS) -> dict[str, str]:
    """Register a stack-wide transform that puts `tags` on every taggable AWS resource.

    Runs in the engine for every registration, so it reaches resources inside components too.
    """
    cost_tags = validate_cost_tags(tags, required)
    _registered.clear()
    _registered.update(cost_tags)

    def add_cost_tags(args: pulumi.ResourceTransformArgs) -> Optional[pulumi.ResourceTransformResult]:
        if not args.custom or not args.type_.startswith("aws:"):
            return None
        if not is_taggable(args.type_):
            return None
        return pulumi.ResourceTransformResult(props=merge_tags(args.type_, args.props, cost_tags), opts=args.opts)

    pulumi.runtime.register_resource_transform(add_cost_tags)
    return cost_tags
