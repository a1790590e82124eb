"""Argument checks for component inputs that may be Outputs: they need pulumi, so not in the core."""
from __future__ import annotations

from typing import Any

from pulumi import Output

from aifinops.core.argument_checks import LABEL_PATTERN


def labelled_inputs(argument: str, value: Any, *, min_items: int = 0) -> dict[str, Any]:
    """A mapping of short labels (they name child resources) to strings or Outputs, such as ARNs."""
    if not isinstance(value, dict) or len(value) < min_items:
        least = f" with at least {min_items} entry" if min_items else ""
        raise ValueError(f"{argument}: expected a mapping of labels to values{least}, got {value!r}")
    for label, item in value.items():
        if not isinstance(label, str) or not LABEL_PATTERN.match(label):
            raise ValueError(f"{argument}: label {label!r} must be lowercase letters, digits and '-' "
                             f"(it names a child resource), at most 63 characters")
        if not isinstance(item, (str, Output)) or item == "":
            raise ValueError(f"{argument}.{label}: expected a string or an Output, got {item!r}")
    return dict(value)
