"""Work that the policies of a pack repeat within one Analyzer call, done once per call.

pulumi-policy converts a resource's properties (and its provider's) from protobuf once per policy, and
gives every stack policy its own copy of the stack: in AnalyzeStack, each of a pack's five stack policies
converted all 10,000 resources again, and each budget policy estimated the whole stack again. That came
last in a preview, after the program. `install` wraps the SDK's Analyzer servicer so that each Analyze
and AnalyzeStack call has a memo of its own:
  - `once_per_call(key, compute)` keeps `compute()` there (the stack's cost views, its estimate);
  - the SDK's protobuf-to-dict conversion of a message is kept there too. Only that step: the SDK still
    builds every policy's own values and proxies from it, so no policy sees what another could change.
Outside a call (a policy's validate called directly, as unit tests do) nothing is kept. What
`once_per_call` keeps is shared by the policies of the call: they must not change it.
"""
from __future__ import annotations

import contextvars
import functools
from types import ModuleType
from typing import Any, Callable, Optional, TypeVar

T = TypeVar("T")
_MEMO: contextvars.ContextVar[Optional[dict[Any, Any]]] = contextvars.ContextVar("aifinops_call_memo", default=None)
_SERVED_WITH_MEMO = ("Analyze", "AnalyzeStack")


def once_per_call(key: Any, compute: Callable[[], T], of: Any = None) -> T:
    """compute(), once per Analyzer call for `key` (every time outside a call). `of`: the object the result
    is computed from, when it is one of many (a message, a list of views): it is kept with the result, so
    that its id, part of the key, stays its own for the call."""
    memo = _MEMO.get()
    if memo is None:
        return compute()
    slot = (key, id(of))
    kept = memo.get(slot)
    if kept is None or kept[0] is not of:
        kept = memo[slot] = (of, compute())
    return kept[1]


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


class JsonFormatWithMemo:
    """Stands in for `json_format` in the SDK's module: MessageToDict of a message is kept for the call.

    The dict it returns is only read by the SDK (pulumi_policy.deserialize builds new values from it)."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module

    def __getattr__(self, name: str) -> Any:
        return getattr(self.module, name)

    def MessageToDict(self, message: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N802 the SDK's name
        if args or kwargs:
            return self.module.MessageToDict(message, *args, **kwargs)
        return once_per_call("MessageToDict", lambda: self.module.MessageToDict(message), of=message)


def install(servicer_class: Any, sdk_module: Optional[ModuleType] = None) -> None:
    """Give the SDK's Analyzer servicer a memo per Analyze and AnalyzeStack call, and `sdk_module` (the
    module that defines it) the conversion kept in it. Idempotent; what the class or module lacks is left."""
    for name in _SERVED_WITH_MEMO:
        method = getattr(servicer_class, name, None)
        if method is not None and not getattr(method, "with_call_memo", False):
            setattr(servicer_class, name, with_memo(method))
    json_format = getattr(sdk_module, "json_format", None)
    if json_format is not None and not isinstance(json_format, JsonFormatWithMemo):
        sdk_module.json_format = JsonFormatWithMemo(json_format)
