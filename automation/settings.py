"""Handler settings travel as Lambda environment variables: one variable per field, `AIFINOPS_<FIELD>`.

The components that deploy a handler build its settings dataclass (which validates every field) and
write it out with `to_env`; the handler reads it back with `from_env`. One definition, both sides.
"""
from __future__ import annotations

import dataclasses
import json
import typing
from typing import Any, Mapping, TypeVar

ENV_PREFIX = "AIFINOPS_"
T = TypeVar("T")


def env_name(field_name: str) -> str:
    return ENV_PREFIX + field_name.upper()


def to_env(settings: Any) -> dict[str, str]:
    """Every field that is not None, as strings; sequences and mappings as JSON."""
    env = {}
    for item in dataclasses.fields(settings):
        value = getattr(settings, item.name)
        if value is None:
            continue
        if isinstance(value, bool):
            env[env_name(item.name)] = "true" if value else "false"
        elif isinstance(value, (tuple, list, dict)):
            env[env_name(item.name)] = json.dumps(value, sort_keys=True)
        else:
            env[env_name(item.name)] = str(value)
    return env


def from_env(settings_class: type[T], environ: Mapping[str, str]) -> T:
    """Build `settings_class` from the variables present; absent ones keep their defaults."""
    hints = typing.get_type_hints(settings_class)
    values = {}
    for item in dataclasses.fields(settings_class):
        name = env_name(item.name)
        if name in environ:
            values[item.name] = _decode(hints[item.name], environ[name], name)
    return settings_class(**values)


def _decode(hint: Any, raw: str, name: str) -> Any:
    kinds = [a for a in typing.get_args(hint) if a is not type(None)] if typing.get_origin(hint) is typing.Union \
        else [hint]
    kind = kinds[0]
    origin = typing.get_origin(kind) or kind
    if kind is bool:
        if raw.strip().lower() not in ("true", "false"):
            raise ValueError(f"{name}: expected 'true' or 'false', got {raw!r}")
        return raw.strip().lower() == "true"
    if kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            raise ValueError(f"{name}: expected {'a whole number' if kind is int else 'a number'}, got {raw!r}") from None
    if origin in (tuple, dict):
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            raise ValueError(f"{name}: expected JSON ({'a list' if origin is tuple else 'an object'}), got {raw!r}") \
                from None
        if origin is tuple:
            return tuple(value) if isinstance(value, list) else value
        if isinstance(value, dict):
            return {k: tuple(v) if isinstance(v, list) else v for k, v in value.items()}
        return value
    return raw
