"""Reads which pulumi-aws resource types take a `tags` map, from the installed SDK's own classes.

The result is the table `aifinops.core.tags` reads (`core/data/aws_tag_shapes.json`), so that the core,
the checkov checks and the Lambda handlers know taggability without importing pulumi_aws. A test
regenerates the table from the pinned SDK and compares; after upgrading pulumi-aws, rewrite it with
`python -m aifinops.taggable_types`.
"""
from __future__ import annotations

import importlib
import inspect
import json
import re
import sys
from importlib import metadata
from pathlib import Path

from .core.tags import ASG_TYPE, TAG_SHAPES_FILE


def aws_resource_classes() -> dict[str, tuple[str, str]]:
    """type token -> (python module, class name), from pulumi-aws's own resource-module registry."""
    import pulumi_aws

    source = Path(pulumi_aws.__file__).read_text()
    match = re.search(r'resource_modules="""(.*?)"""', source, re.S)
    if match is None:  # pragma: no cover - would mean the SDK changed its layout
        raise RuntimeError("pulumi_aws no longer lists its resource modules; update aifinops/taggable_types.py")
    classes = {}
    for module in json.loads(match.group(1)):
        for token, class_name in module["classes"].items():
            classes[token] = (module["fqn"], class_name)
    return classes


def takes_tag_map(module: str, class_name: str) -> bool:
    # The resource class's own constructor, not `<Class>Args`: where names collide the SDK calls the
    # args class `<Class>InitArgs`, and `<Class>Args` is then a nested block's type.
    resource_class = getattr(importlib.import_module(module), class_name, None)
    constructor = getattr(resource_class, "_internal_init", None)
    if constructor is None:
        return False
    parameter = inspect.signature(constructor).parameters.get("tags")
    return parameter is not None and "Mapping" in str(parameter.annotation)


def read_tag_shapes() -> dict[str, object]:
    """The table as the installed pulumi-aws defines it."""
    tagged, untagged = [], []
    for token, (module, class_name) in sorted(aws_resource_classes().items()):
        if token == ASG_TYPE:
            continue  # tags are blocks, not a map: core.tags handles the group itself
        (tagged if takes_tag_map(module, class_name) else untagged).append(token)
    return {"source": f"pulumi-aws {metadata.version('pulumi-aws')} resource classes", "map": tagged,
            "none": untagged}


def main() -> int:
    TAG_SHAPES_FILE.write_text(json.dumps(read_tag_shapes(), indent=0) + "\n")
    print(f"wrote {TAG_SHAPES_FILE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
