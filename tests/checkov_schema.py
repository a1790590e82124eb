"""What the pulumi-aws SDK says about a resource's properties: which are lists of objects (blocks that
Pulumi pluralised) and which are maps of user keys. Used to check aifinops/checkov/mapping.json."""
from __future__ import annotations

import importlib
import inspect
import re
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable

from aifinops.taggable_types import aws_resource_classes

ARGS_NAME = re.compile(r"'(\w+Args)'")
SKIPPED_PARAMETERS = {"self", "__self__", "resource_name", "opts", "__props__"}


@dataclass
class PropertyShapes:
    list_blocks: set[str] = field(default_factory=set)  # wire names of lists of objects, at any depth
    maps: set[str] = field(default_factory=set)  # wire names of string-keyed maps, at any depth
    names: set[str] = field(default_factory=set)  # every wire name, at any depth


def wire_name(python_name: str) -> str:
    head, *rest = python_name.rstrip("_").split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def resource_init(type_token: str) -> Callable[..., Any]:
    module_name, class_name = aws_resource_classes()[type_token]
    resource_class = getattr(importlib.import_module(module_name), class_name)
    return resource_class._internal_init


@lru_cache(maxsize=None)
def property_shapes(type_token: str, skip: frozenset[str] = frozenset()) -> PropertyShapes:
    """Walk the resource's input types; properties named in `skip` (e.g. JSON documents) are not entered."""
    shapes = PropertyShapes()
    init = resource_init(type_token)
    _walk(init, sys.modules[init.__module__], shapes, skip, set())
    return shapes


def _walk(function: Callable[..., Any], module: Any, shapes: PropertyShapes, skip: frozenset[str],
          visited: set[str]) -> None:
    for name, parameter in inspect.signature(function).parameters.items():
        if name in SKIPPED_PARAMETERS:
            continue
        wire = wire_name(name)
        shapes.names.add(wire)
        annotation = str(parameter.annotation)
        nested = ARGS_NAME.findall(annotation)
        if wire in skip:
            continue
        if nested:
            if "Sequence[" in annotation.split(nested[0])[0]:
                shapes.list_blocks.add(wire)
            if nested[0] not in visited:
                visited.add(nested[0])
                nested_class = getattr(module, nested[0], None) or _find_args_class(module, nested[0])
                if nested_class is not None:
                    _walk(nested_class.__init__, sys.modules[nested_class.__module__], shapes, skip, visited)
        elif "Mapping[" in annotation:
            shapes.maps.add(wire)


def _find_args_class(module: Any, name: str) -> Any:
    package = module.__name__.rsplit(".", 1)[0]
    for candidate in (f"{module.__name__}._inputs", f"{package}._inputs", "pulumi_aws._inputs"):
        try:
            found = getattr(importlib.import_module(candidate), name, None)
        except ImportError:
            continue
        if found is not None:
            return found
    return None
