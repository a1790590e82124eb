"""Cost-allocation tags: which resources can carry them, and a stack transform that puts them there.

Taggability is read from the pulumi-aws SDK's own resource classes (a resource whose Args accept a
`tags` map), not from a hand-kept list, so it stays right as the provider grows.
"""
from __future__ import annotations

import importlib
import inspect
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, Optional

import pulumi

DEFAULT_REQUIRED_TAGS = ("CostCenter", "Project", "Environment")
ASG_TYPE = "aws:autoscaling/group:Group"
LAUNCH_TEMPLATE_TYPE = "aws:ec2/launchTemplate:LaunchTemplate"
# Launch templates tag what they launch through tag specifications; these are the kinds we tag.
LAUNCH_TEMPLATE_TAGGED_KINDS = ("instance", "volume")


@lru_cache(maxsize=1)
def _aws_resource_classes() -> dict[str, tuple[str, str]]:
    """type token -> (python module, class name), from pulumi-aws's own resource-module registry."""
    import pulumi_aws

    source = Path(pulumi_aws.__file__).read_text()
    match = re.search(r'resource_modules="""(.*?)"""', source, re.S)
    if match is None:  # pragma: no cover - would mean the SDK changed its layout
        raise RuntimeError("pulumi_aws no longer lists its resource modules; update components/tagging.py")
    classes = {}
    for module in json.loads(match.group(1)):
        for token, class_name in module["classes"].items():
            classes[token] = (module["fqn"], class_name)
    return classes


@lru_cache(maxsize=None)
def tags_shape(type_token: str) -> Optional[str]:
    """'map' for resources whose `tags` is a key/value map, 'asg' for auto scaling groups, else None."""
    if type_token == ASG_TYPE:
        return "asg"
    location = _aws_resource_classes().get(type_token)
    if location is None:
        return None
    # The resource class's own constructor, not `<Class>Args`: where names collide the SDK calls the
    # args class `<Class>InitArgs`, and `<Class>Args` is then a nested block's type.
    resource_class = getattr(importlib.import_module(location[0]), location[1], None)
    constructor = getattr(resource_class, "_internal_init", None)
    if constructor is None:
        return None
    parameter = inspect.signature(constructor).parameters.get("tags")
    if parameter is None or "Mapping" not in str(parameter.annotation):
        return None
    return "map"


def is_taggable(type_token: str) -> bool:
    return tags_shape(type_token) is not None


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


def register_cost_tags(tags: Mapping[str, str], required: Any = DEFAULT_REQUIRED_TAGS) -> dict[str, str]:
    """Register a stack-wide transform that puts `tags` on every taggable AWS resource.

    Runs in the engine for every registration, so it reaches resources inside components too.
    """
    cost_tags = validate_cost_tags(tags, required)

    def add_cost_tags(args: pulumi.ResourceTransformArgs) -> Optional[pulumi.ResourceTransformResult]:
        if not args.custom or not args.type_.startswith("aws:"):
            return None
        if not is_taggable(args.type_):
            return None
        return pulumi.ResourceTransformResult(props=merge_tags(args.type_, args.props, cost_tags), opts=args.opts)

    pulumi.runtime.register_resource_transform(add_cost_tags)
    return cost_tags
