"""CostAllocationTags: activates the cost tag keys for billing, so Budgets, Cost Explorer and anomaly
monitors can filter and group spend by them.

AWS only accepts keys it has already seen on a resource in the account (they appear in billing up to
24 hours after first use), so a brand-new key may need a second `pulumi up` the next day.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional, Sequence

import pulumi
import pulumi_aws as aws

from aifinops.core.argument_checks import string_list
from aifinops.core.tags import DEFAULT_REQUIRED_TAGS

TYPE_TOKEN = "aifinops:cost:CostAllocationTags"
TAG_KEY_PATTERN = re.compile(r"^(?!aws:)[\w.:/=+\-@ ]{1,128}$")


@dataclass
class CostAllocationTagsArgs:
    """tag_keys: the user tag keys to activate (default: the required cost tags CostCenter, Project, Environment)."""

    tag_keys: Sequence[str] = field(default_factory=lambda: list(DEFAULT_REQUIRED_TAGS))


def child_name(name: str, tag_key: str) -> str:
    return f"{name}-{re.sub(r'[^A-Za-z0-9]+', '-', tag_key).strip('-').lower()}"


class CostAllocationTags(pulumi.ComponentResource):
    """One active aws.costexplorer.CostAllocationTag per key."""

    tag_keys: list[str]

    def __init__(self, name: str, args: Optional[CostAllocationTagsArgs] = None,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        args = args if args is not None else CostAllocationTagsArgs()
        if not isinstance(args, CostAllocationTagsArgs):
            raise ValueError(f"args: expected CostAllocationTagsArgs, got {type(args).__name__}")
        keys = string_list("tag_keys", args.tag_keys, min_items=1)
        for index, key in enumerate(keys):
            if not TAG_KEY_PATTERN.match(key):
                raise ValueError(f"tag_keys[{index}]: expected a user tag key of 1 to 128 characters (letters, digits, "
                                 f"spaces and _ . : / = + - @, not starting with 'aws:'), got {key!r}")
        names = [child_name(name, key) for key in keys]
        clashes = sorted({n for n in names if names.count(n) > 1})
        if clashes:
            raise ValueError(f"tag_keys: {keys!r} give clashing child names {clashes!r}; keys must differ in more than "
                             f"case or punctuation")

        super().__init__(TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        for key, child_resource_name in zip(keys, names):
            aws.costexplorer.CostAllocationTag(child_resource_name, tag_key=key, status="Active", opts=child)
        self.tag_keys = keys
        self.register_outputs({"tagKeys": keys})
