"""Which policy raised, and what: the message for a policy whose validate raised inside a pack.

The Python policy SDK lets the exception out of its Analyze handler, so gRPC answers UNKNOWN with
only the exception's text, and the pack's gRPC server logs the traceback on its stderr. The policy is
named by asking again: the pack is configured with one policy enabled at a time and the resource is
analyzed once per policy (a few milliseconds, and only after a failure; the pack is closed afterwards,
as any failed set is). The exception's type comes from the last line of the logged traceback.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Sequence

import grpc

from .core.policy_config import PolicySettings

if TYPE_CHECKING:  # pragma: no cover
    from .policy_runner import PolicyPackProcess

TRACEBACK_START = "Traceback (most recent call last):"


def last_traceback(lines: Sequence[str]) -> list[str]:
    """The last Python traceback in a pack's output, through its exception line; [] if none."""
    starts = [index for index, line in enumerate(lines) if line.startswith(TRACEBACK_START)]
    if not starts:
        return []
    block = list(lines[starts[-1]:])
    for index in range(1, len(block)):
        if block[index] and not block[index][0].isspace():  # the first unindented line: "Type: message"
            return block[:index + 1]
    return block


def exception_type(traceback_lines: Sequence[str]) -> str:
    """'RuntimeError' from a traceback ending in 'RuntimeError: policy bug' ('' if there is none)."""
    if len(traceback_lines) < 2:
        return ""
    name = traceback_lines[-1].split(":", 1)[0].strip()
    return name.rsplit(".", 1)[-1] if name.replace(".", "").replace("_", "").isalnum() else ""


def raising_policy(process: "PolicyPackProcess", method: str, request: Any) -> Optional[str]:
    """The name of the policy that raises on `request` (Analyze or AnalyzeStack), or None if no single
    policy does (then the failure is reported without one)."""
    settings = process.settings
    info = process.info
    if info is None or not settings or process.stub is None:
        return None
    stack_call = method == "AnalyzeStack"
    candidates = [policy.name for policy in info.policies if policy.is_stack_policy == stack_call
                  and settings.get(policy.name, PolicySettings("disabled")).enforcement_level != "disabled"]
    call = getattr(process.stub, method)
    for candidate in candidates:
        alone = {name: PolicySettings(setting.enforcement_level if name == candidate else "disabled",
                                      setting.properties) for name, setting in settings.items()}
        try:
            process.configure(alone)
            call(request, timeout=process.timeout)
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.UNKNOWN:
                return candidate
            return None  # the pack went away or hangs: no answer to be had
        except Exception:  # noqa: BLE001 (a PolicyPackError from configure: stop asking)
            return None
    return None
