"""Reading resource properties without tripping over values that are unknown during preview.

During `pulumi preview` a property computed by another resource (a bucket's id, an instance's IP) is
unknown: the engine sends a sentinel string in its place. `plain()` turns properties into ordinary dicts
and lists with UNKNOWN in place of each unknown value, so every consumer (policies, the estimator, the
checkov export) decides per value, usually that an unknown is not a failure.

The policy SDK wraps properties in a proxy that raises on reading an unknown value; the policies pass
that exception type as `unreadable` (see aifinops.policies.preview_values), which keeps this module free
of pulumi.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# The engine's per-type sentinels for unknown values (pulumi's rpc.py and pulumi_policy's proxy.py define
# the same strings; a test checks they still match). The string one is what a preview sends for any type.
UNKNOWN_STRING_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
UNKNOWN_SENTINELS = frozenset((
    "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",  # boolean
    "3eeb2bf0-c639-47a8-9e75-3b44932eb421",  # number
    UNKNOWN_STRING_VALUE,
    "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",  # array
    "030794c1-ac77-496b-92df-f27374a8bd58",  # asset
    "e48ece36-62e2-4504-bad9-02848725956a",  # archive
    "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",  # object
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
    return value is UNKNOWN or (isinstance(value, str) and value in UNKNOWN_SENTINELS)


def plain(value: Any, unreadable: tuple[type[BaseException], ...] = ()) -> Any:
    """Properties as plain dicts and lists, UNKNOWN where a value is unknown.

    `unreadable`: exceptions that reading a mapping or sequence item may raise for an unknown item."""
    # Plain dicts and lists first: most values already are, and the abstract-class checks below cost
    # more than the copy (a tenth of a pack's AnalyzeStack went to them).
    kind = type(value)
    if kind is dict:
        return {key: plain(item, unreadable) for key, item in value.items()}
    if kind is list:
        return [plain(item, unreadable) for item in value]
    if is_unknown(value):
        return UNKNOWN
    if isinstance(value, Mapping):
        result = {}
        for key in list(iter(value)):
            try:
                result[key] = plain(value[key], unreadable)
            except unreadable:
                result[key] = UNKNOWN
        return result
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        items = []
        for index in range(len(value)):
            try:
                items.append(plain(value[index], unreadable))
            except unreadable:
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
