"""Reading policy properties during preview: aifinops.core.values, plus the policy SDK's proxy.

The policy SDK hands policies a proxy that raises UnknownValueError the moment an unknown value is read,
which would abort the whole policy with an advisory "can't run policy during preview". `plain()` here
turns the proxy into plain data with UNKNOWN in place of each unknown value, so a policy decides per
value and behaves the same in-process and over gRPC.
"""
from __future__ import annotations

from typing import Any

from pulumi_policy import proxy

from aifinops.core.values import UNKNOWN, as_list, dig, is_true, is_unknown
from aifinops.core.values import plain as plain_data

__all__ = ["UNKNOWN", "as_list", "dig", "is_true", "is_unknown", "plain"]

# The SDK's proxies keep a copy of every container, with nested proxies, under the key "__target" (its own
# serializer reads them so). Reading that copy skips a check and a path list per item; an unknown value
# is then the engine's sentinel string, which is_unknown() knows.
_PROXIES = (proxy._DictProxy, proxy._ListProxy)  # noqa: SLF001 the SDK is pinned (pyproject.toml)


def plain(value: Any) -> Any:
    """Policy properties (proxied or not) as plain dicts and lists, UNKNOWN where a value is unknown."""
    if type(value) in _PROXIES:
        target = value["__target"]
        if isinstance(target, dict):
            return {key: plain(item) for key, item in target.items()}
        return [plain(item) for item in target]
    return plain_data(value, (proxy.UnknownValueError,))
