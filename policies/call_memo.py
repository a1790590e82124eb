"""Work that several policies of a pack share within one Analyzer call, done once per call.

pulumi-policy gives every stack policy its own copy of the stack's resources, so each budget policy
converted the whole stack and estimated it again: three times in the cost pack's AnalyzeStack, which
came last in a preview, after the program. The pack's server is wrapped (`install`) so that each
AnalyzeStack call has a memo of its own; `once_per_call(key, compute)` keeps `compute()` there. Outside
a call (a policy's validate called directly, as unit tests do) nothing is kept. What is kept is shared
by the policies of the call: they must not change it.
"""
from __future__ import annotations

import contextvars
import functools
from typing import Any, Callable, Optional, TypeVar

T = TypeVar("T")
_MEMO: contextvars.ContextVar[Optional[dict[Any, Any]]] = contextvars.ContextVar("aifinops_call_memo", default=None)


def once_per_call(key: Any, compute: Callable[[], T]) -> T:
    """compute(), once per Analyzer call for `key` (every time outside a call)."""
    memo = _MEMO.get()
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def with_memo(method: Callable[..., T]) -> Callable[..., T]:
    """The servicer method, run with a memo of its own (each gRPC call runs in a worker thread's context)."""
    @functools.wraps(method)
    def serving(*args: Any, **kwargs: Any) -> T:
        token = _MEMO.set({})
        try:
            return method(*args, **kwargs)
        finally:
            _MEMO.reset(token)
    serving.with_call_memo = True  # type: ignore[attr-defined]
    return serving


def install(servicer_class: Any) -> None:
    """Give the SDK's Analyzer servicer's AnalyzeStack a memo per call (once; a class without it is left)."""
    method = getattr(servicer_class, "AnalyzeStack", None)
    if method is not None and not getattr(method, "with_call_memo", False):
        servicer_class.AnalyzeStack = with_memo(method)
