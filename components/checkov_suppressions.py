"""checkov suppressions, declared in the component module whose resources they concern.

A component that knowingly fails a checkov check says so at module level, next to the code, with
the reason a reviewer needs:

    suppress_checkov(
        component_type="aifinops:compute:GpuInstance", resource_type="aws:ec2/instance:Instance",
        check_id="CKV_AWS_XXX", reason="why failing this check is right for this component")

It applies to resources of `resource_type` created anywhere inside a component of `component_type`
(both read from the resource's URN), in every stack that uses the component. A stack program that
creates resources itself declares them with `component_type=STACK` ("pulumi:pulumi:Stack"): that covers
resources it creates directly, not those inside components. `aifinops preview --checkov` reports the
matching checks as suppressed, with the reason; nothing else is hidden.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Optional

STACK = "pulumi:pulumi:Stack"  # as component_type: resources the stack program creates directly
TYPE_TOKEN = re.compile(r"^[A-Za-z0-9_-]+:[A-Za-z0-9_./-]*:[A-Za-z0-9_]+$")
CHECK_ID = re.compile(r"^CKV2?_[A-Z0-9]+_\d+$")
MIN_REASON_LENGTH = 20  # a reason, not a shrug


@dataclass(frozen=True)
class CheckovSuppression:
    component_type: str
    resource_type: str
    check_id: str
    reason: str

    def matches(self, urn: str, check_id: str) -> bool:
        """Whether this suppression covers `check_id` on the resource `urn`."""
        if check_id != self.check_id:
            return False
        parts = urn.split("::")
        if len(parts) < 4:
            return False
        chain = parts[2].split("$")  # the parent components' types, then the resource's own
        if chain[-1] != self.resource_type:
            return False
        return len(chain) == 1 if self.component_type == STACK else self.component_type in chain[:-1]


_declared: dict[tuple[str, str, str], CheckovSuppression] = {}


def suppress_checkov(*, component_type: str, resource_type: str, check_id: str, reason: str) -> CheckovSuppression:
    """Declare that resources of `resource_type` inside `component_type` fail `check_id` on purpose."""
    for argument, value in (("component_type", component_type), ("resource_type", resource_type)):
        if not isinstance(value, str) or not TYPE_TOKEN.match(value):
            raise ValueError(f"{argument}: expected a Pulumi type token such as 'aws:ec2/instance:Instance', "
                             f"got {value!r}")
    if not isinstance(check_id, str) or not CHECK_ID.match(check_id):
        raise ValueError(f"check_id: expected a checkov check id such as 'CKV_AWS_126', got {check_id!r}")
    if not isinstance(reason, str) or len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValueError(f"reason: expected a sentence saying why {check_id} does not apply "
                         f"(at least {MIN_REASON_LENGTH} characters), got {reason!r}")
    suppression = CheckovSuppression(component_type, resource_type, check_id, " ".join(reason.split()))
    _declared[(component_type, resource_type, check_id)] = suppression
    return suppression


def declared_suppressions() -> tuple[CheckovSuppression, ...]:
    """Every suppression declared by the component modules imported so far."""
    return tuple(_declared.values())


def find_suppression(suppressions: Iterable[CheckovSuppression], urn: str,
                     check_id: str) -> Optional[CheckovSuppression]:
    return next((s for s in suppressions if s.matches(urn, check_id)), None)
