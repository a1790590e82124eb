"""Reading resource properties during preview without tripping over unknown values.

During `pulumi preview` a property computed by another resource (a bucket's id, an instance's IP) is
unknown. The policy SDK hands policies a proxy that raises UnknownValueError the moment such a value is
read, which aborts the whole policy with an advisory "can't run policy during preview". `plain()` turns
the proxy into ordinary dicts and lists with UNKNOWN in place of each unknown value, so a policy decides
per value (usually: an unknown is not a failure) and behaves the same in-process and over gRPC.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import proxy

# The engine's per-type sentinels for unknown values, as they appear in raw (unproxied) properties.
_SENTINELS = frozenset((
    proxy.UNKNOWN_BOOLEAN_VALUE, proxy.UNKNOWN_NUMBER_VALUE, proxy.UNKNOWN_STRING_VALUE,
    proxy.UNKNOWN_ARRAY_VALUE, proxy.UNKNOWN_ASSET_VALUE, proxy.UNKNOWN_ARCHIVE_VALUE,
    proxy.UNKNOWN_OBJECT_VALUE,
))


class _Unknown:
    """A value that is computed by the cloud and so cannot be known during preview."""

    _instance = None

    def __new__(cls) -> "_Unknown":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unknown during preview>"


UNKNOWN = _Unknown()


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN or (isinstance(value, str) and value in _SENTINELS)


def plain(value: Any) -> Any:
    """Policy properties (proxied or not) as plain dicts and lists, UNKNOWN where a value is unknown."""
    if is_unknown(value):
        return UNKNOWN
    if isinstance(value, Mapping):
        result = {}
        for key in list(iter(value)):
            try:
                result[key] = plain(value[key])
            except proxy.UnknownValueError:
                result[key] = UNKNOWN
        return result
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        items = []
        for index in range(len(value)):
            try:
                items.append(plain(value[index]))
            except proxy.UnknownValueError:
                items.append(UNKNOWN)
        return items
    return value


def dig(value: Any, *path: Any) -> Any:
    """value[path[0]][path[1]]...: None when a step is missing, UNKNOWN when a step is unknown."""
    for key in path:
        if value is UNKNOWN:
            return UNKNOWN
        if isinstance(value, Mapping):
            value = value.get(key)
        elif isinstance(value, list) and isinstance(key, int) and -len(value) <= key < len(value):
            value = value[key]
        else:
            return None
    return value


def as_list(value: Any) -> list[Any]:
    """A list property as a list; a missing or unknown list is empty (callers check UNKNOWN first if it matters)."""
    return value if isinstance(value, list) else []


def is_true(value: Any) -> bool:
    """A boolean flag that is set: True, or "true" (launch templates spell some booleans as strings)."""
    return value is True or value == "true"
