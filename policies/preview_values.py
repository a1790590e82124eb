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


def plain(value: Any) -> Any:
    """Policy properties (proxied or not) as plain dicts and lists, UNKNOWN where a value is unknown."""
    return plain_data(value, (proxy.UnknownValueError,))
