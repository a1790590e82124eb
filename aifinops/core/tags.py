"""Cost-allocation tags: the default keys, which AWS resource types can carry tags, and the tags a
resource really ends up with.

Which pulumi-aws types take a `tags` map is read from the pinned pulumi-aws SDK's own resource classes by
`aifinops.taggable_types` and kept in `data/aws_tag_shapes.json` (a test regenerates it and compares), so
this module needs no pulumi. An `aws:` type the table does not list is unknown to this aifinops version:
`is_known_aws_type` lets the policies report it instead of passing it.

Effective tags come from everywhere they can come from:
- the resource's own `tags` map;
- its provider's `defaultTags` (the AWS provider merges them into every taggable resource, except auto
  scaling groups: the provider documents that default tags do not apply to aws_autoscaling_group);
- for an auto scaling group: tag blocks with `propagateAtLaunch: true` (only those reach the instances it
  launches, which is where the cost is) and the `instance` tag specifications of its launch template.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, Optional

from .values import UNKNOWN, as_list, dig, is_unknown, plain

DEFAULT_REQUIRED_TAGS = ("CostCenter", "Project", "Environment")
# What AWS accepts across services (the tagging API's pattern); keys starting with aws: are AWS's own.
TAG_KEY = re.compile(r"^[\w .:/=+\-@]{1,128}$")
TAG_VALUE = re.compile(r"^[\w .:/=+\-@]{0,256}$")
ASG_TYPE = "aws:autoscaling/group:Group"
LAUNCH_TEMPLATE_TYPE = "aws:ec2/launchTemplate:LaunchTemplate"
# Launch templates tag what they launch through tag specifications; these are the kinds we tag.
LAUNCH_TEMPLATE_TAGGED_KINDS = ("instance", "volume")
TAG_SHAPES_FILE = Path(__file__).parent / "data" / "aws_tag_shapes.json"


@lru_cache(maxsize=1)
def _tag_shapes() -> dict[str, Any]:
    document = json.loads(TAG_SHAPES_FILE.read_text())
    return {"map": frozenset(document["map"]), "none": frozenset(document["none"]), "source": document["source"]}


def tags_shape(type_token: str) -> Optional[str]:
    """'map' for resources whose `tags` is a key/value map, 'asg' for auto scaling groups, else None."""
    if type_token == ASG_TYPE:
        return "asg"
    return "map" if type_token in _tag_shapes()["map"] else None


def is_taggable(type_token: str) -> bool:
    return tags_shape(type_token) is not None


def is_known_aws_type(type_token: str) -> bool:
    """Whether the pulumi-aws version this table was read from has the type (tagged or not)."""
    shapes = _tag_shapes()
    return type_token == ASG_TYPE or type_token in shapes["map"] or type_token in shapes["none"]


def tag_shapes_source() -> str:
    return _tag_shapes()["source"]


def user_tag_key(key: Any) -> bool:
    """A key a user may set: AWS's tag key characters, 1-128 of them, not in the reserved aws: prefix."""
    return isinstance(key, str) and bool(TAG_KEY.match(key)) and not key.lower().startswith("aws:")


def merge_tags(type_token: str, props: Mapping[str, Any], tags: Mapping[str, str]) -> dict[str, Any]:
    """Return props with `tags` added where the resource can carry them. Explicit tags win."""
    shape = tags_shape(type_token)
    result = dict(props)
    if shape == "map":
        existing = props.get("tags")
        result["tags"] = {**tags, **(existing if isinstance(existing, dict) else {})}
    elif shape == "asg":
        blocks = [dict(b) for b in props.get("tags") or [] if isinstance(b, dict)]
        present = {b.get("key") for b in blocks}
        blocks += [{"key": k, "value": v, "propagateAtLaunch": True} for k, v in tags.items() if k not in present]
        result["tags"] = blocks
    if type_token == LAUNCH_TEMPLATE_TYPE:
        result["tagSpecifications"] = _launch_template_specs(props.get("tagSpecifications"), tags)
    return result


def _launch_template_specs(specs: Any, tags: Mapping[str, str]) -> list[dict[str, Any]]:
    result = [dict(s) for s in specs or [] if isinstance(s, dict)]
    for kind in LAUNCH_TEMPLATE_TAGGED_KINDS:
        spec = next((s for s in result if s.get("resourceType") == kind), None)
        if spec is None:
            result.append({"resourceType": kind, "tags": dict(tags)})
        else:
            spec["tags"] = {**tags, **(spec.get("tags") or {})}
    return result


def validate_cost_tags(tags: Any, required: Any = DEFAULT_REQUIRED_TAGS, argument: str = "costTags") -> dict[str, str]:
    """Check that every required key has a non-empty string value; return the tags as a plain dict.

    `required` None means the default keys (a stack with no `requiredTags` config)."""
    if required is None:
        required = DEFAULT_REQUIRED_TAGS
    if not isinstance(tags, Mapping):
        raise ValueError(f"{argument}: expected a mapping of tag keys to values, got {tags!r}")
    if isinstance(required, str) or not all(isinstance(k, str) for k in required):
        raise ValueError(f"requiredTags: expected a list of tag keys, got {required!r}")
    missing = [key for key in required if not isinstance(tags.get(key), str) or not tags.get(key).strip()]
    if missing:
        raise ValueError(f"{argument}: required cost tag(s) {', '.join(missing)} missing or empty in {dict(tags)!r}; "
                         f"expected a non-empty value for each of {', '.join(required)}")
    bad = {k: v for k, v in tags.items() if not isinstance(v, str)}
    if bad:
        raise ValueError(f"{argument}: tag values must be strings, got {bad!r}")
    return dict(tags)


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
    Returns {} for resources that cannot carry tags (see `tags_shape`).
    """
    shape = tags_shape(resource_type)
    # Only the tags are copied (plain), not the whole resource: this runs for every resource of a stack.
    own = plain(dig(UNKNOWN if is_unknown(props) else props, "tags"))
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
