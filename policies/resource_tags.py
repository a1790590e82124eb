"""The tags a resource will really carry, from everywhere they can come from.

- the resource's own `tags` map;
- its provider's `defaultTags` (the AWS provider merges them into every taggable resource, except auto
  scaling groups: the provider documents that default tags do not apply to aws_autoscaling_group);
- for an auto scaling group: tag blocks with `propagateAtLaunch: true` (only those reach the instances it
  launches, which is where the cost is) and the `instance` tag specifications of its launch template.
"""
from __future__ import annotations

import json
from typing import Any, Mapping, Optional

from components.tagging import tags_shape

from .preview_values import UNKNOWN, as_list, dig, is_unknown, plain

ASG_TYPE = "aws:autoscaling/group:Group"
LAUNCH_TEMPLATE_TYPE = "aws:ec2/launchTemplate:LaunchTemplate"


def provider_default_tags(provider_props: Any) -> dict[str, Any] | Any:
    """The `defaultTags.tags` of an AWS provider's properties (config may hand it over as JSON text)."""
    default_tags = dig(provider_props, "defaultTags")
    if isinstance(default_tags, str) and not is_unknown(default_tags):
        try:
            default_tags = json.loads(default_tags)
        except ValueError:
            return {}
    tags = dig(default_tags, "tags")
    if tags is UNKNOWN:
        return UNKNOWN
    return dict(tags) if isinstance(tags, Mapping) else {}


def launch_template_instance_tags(template_props: Any) -> dict[str, Any]:
    """Tags a launch template puts on the instances it launches."""
    tags: dict[str, Any] = {}
    for spec in as_list(dig(template_props, "tagSpecifications")):
        if dig(spec, "resourceType") == "instance" and isinstance(dig(spec, "tags"), Mapping):
            tags.update(dig(spec, "tags"))
    return tags


def effective_tags(resource_type: str, props: Any, provider_props: Any = None,
                   launch_template_props: Optional[Any] = None) -> dict[str, Any] | Any:
    """Key -> value of the tags the resource (or, for an ASG, its instances) ends up with.

    Returns UNKNOWN when the tags as a whole cannot be known during preview; single values may be UNKNOWN.
    Returns {} for resources that cannot carry tags (see `components.tagging.tags_shape`).
    """
    props = plain(props)
    shape = tags_shape(resource_type)
    own = dig(props, "tags")
    if own is UNKNOWN:
        return UNKNOWN
    if shape == "map":
        defaults = provider_default_tags(plain(provider_props))
        if defaults is UNKNOWN:
            return UNKNOWN
        return {**defaults, **(own if isinstance(own, Mapping) else {})}
    if shape == "asg":
        tags = launch_template_instance_tags(launch_template_props) if launch_template_props is not None else {}
        for block in as_list(own):
            key = dig(block, "key")
            if block is UNKNOWN or key is UNKNOWN:
                return UNKNOWN
            propagate = dig(block, "propagateAtLaunch")
            if isinstance(key, str) and (propagate is True or propagate is UNKNOWN):
                tags[key] = dig(block, "value")
        return tags
    return {}
