"""No secret value reaches a report: text that quotes one shows `[secret]` instead.

The graph keeps secrets wrapped (`{SIG_KEY: SECRET_SIG, "value": ...}`), and whatever renders values
(`blind`) prints `[secret]` for them. A policy pack, though, sees plain values, as it does under the
Pulumi CLI, and may quote them in a message or an exception; so every string that is secret anywhere in
the graph (in any resource's inputs or outputs, or the stack's outputs, at any depth, including what a
secret object or list holds) is replaced in the text that comes back from the packs, before it becomes
a finding of any report. Non-string secrets (numbers, booleans) are left to `blind`: their text would
match digits in unrelated places.
"""
from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING, Any, Iterable

from .engine import BLINDED, SECRET_SIG, SIG_KEY, is_secret
from .graph import ResourceGraph

if TYPE_CHECKING:  # pragma: no cover (the estimator imports this module without the policy runner)
    from .policy_runner import PolicyRun


def secret_strings(graph: ResourceGraph) -> tuple[str, ...]:
    """Every string held under a secret wrapper in the graph, longest first (so a secret that contains
    another is replaced whole)."""
    found: set[str] = set()
    for resource in graph:
        _collect(resource.inputs, False, found)
        _collect(resource.outputs, False, found)
    _collect(graph.stack_outputs, False, found)
    return tuple(sorted((s for s in found if s.strip()), key=lambda s: (-len(s), s)))


def _collect(value: Any, secret: bool, found: set[str]) -> None:
    if is_secret(value):
        _collect(value.get("value"), True, found)
    elif isinstance(value, dict):
        for item in value.values():
            _collect(item, secret, found)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _collect(item, secret, found)
    elif secret and isinstance(value, str):
        found.add(value)


def mask_text(text: str, secrets: Iterable[str]) -> str:
    """`text` with each secret replaced where it stands as a whole token (the SDK makes a whole tag map
    secret when one of its values is, so short innocent values such as 'x' are secrets too: they must
    not be cut out of longer words)."""
    for secret in secrets:
        if secret in text:
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", BLINDED, text)
    return text


def blind_values(value: Any) -> Any:
    """Like `blind`, but a secret map keeps its keys (each value shows `[secret]`): the estimator groups
    by tag key, and a tag map made secret by one secret value must still group as `[secret]`."""
    if is_secret(value):
        inner = value.get("value")
        if isinstance(inner, dict):
            return {key: blind_values(_as_secret(item)) for key, item in inner.items()}
        return BLINDED
    if isinstance(value, dict):
        return {key: blind_values(item) for key, item in value.items()}
    if isinstance(value, list):
        return [blind_values(item) for item in value]
    return value


def _as_secret(value: Any) -> Any:
    return value if is_secret(value) else {SIG_KEY: SECRET_SIG, "value": value}


def mask_policy_run(run: "PolicyRun", graph: ResourceGraph) -> "PolicyRun":
    """The run with every secret of the graph masked in its violations' messages."""
    secrets = secret_strings(graph)
    if not secrets:
        return run
    run.violations = [dataclasses.replace(v, message=mask_text(v.message, secrets)) for v in run.violations]
    return run
