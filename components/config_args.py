"""Builds a component's Args dataclass from stack config (camelCase keys, nested objects).

Stacks describe components in YAML; this turns `{"instanceType": "g5.xlarge", "spot": {...}}` into
`GpuInstanceArgs(instance_type="g5.xlarge", spot=SpotOptions(...))`, rejecting unknown keys by name.
"""
from __future__ import annotations

import collections.abc
import dataclasses
import re
import typing
from typing import Any, Mapping, TypeVar

T = TypeVar("T")


def snake_case(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def camel_case(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def build_args(args_class: type[T], raw: Any, where: str) -> T:
    """Construct `args_class` from a config mapping; `where` names the config path in errors."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: expected a mapping, got {raw!r}")
    hints = _type_hints(args_class)
    fields = {f.name: f for f in dataclasses.fields(args_class)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        name = snake_case(str(key))
        if name not in fields:
            allowed = ", ".join(camel_case(f) for f in fields)
            raise ValueError(f"{where}.{key}: unknown setting; expected one of {allowed}")
        values[name] = _convert(hints[name], value, f"{where}.{key}")
    missing = [camel_case(n) for n, f in fields.items()
               if n not in values and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ValueError(f"{where}: required setting(s) {', '.join(missing)} missing")
    return args_class(**values)


def _type_hints(args_class: type) -> dict[str, Any]:
    # pulumi.Input is a forward reference to pulumi.Output: give it the name so hints resolve.
    import pulumi

    return typing.get_type_hints(args_class, localns={"Output": pulumi.Output, "T": Any})


def _convert(hint: Any, value: Any, where: str) -> Any:
    """Nested dataclasses (and lists of them) are built recursively; anything else passes through."""
    for candidate in _candidates(hint):
        if dataclasses.is_dataclass(candidate) and isinstance(value, Mapping):
            return build_args(candidate, value, where)
        origin = typing.get_origin(candidate)
        if origin in (list, tuple, collections.abc.Sequence) and isinstance(value, list):
            (item,) = typing.get_args(candidate)[:1] or (Any,)
            if any(dataclasses.is_dataclass(c) for c in _candidates(item)):
                return [_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _candidates(hint: Any) -> list[Any]:
    if typing.get_origin(hint) is typing.Union:
        return [a for a in typing.get_args(hint) if a is not type(None)]
    return [hint]
