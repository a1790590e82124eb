"""Usage a component declares for its own children, for what only it knows (an alert topic publishes on
budget, anomaly and alarm state changes: a few times a month). The component registers
`{DECLARED_USAGE: {child name: usage}}` among its outputs; the usage file still wins for that child.

Declared usage is a stated assumption, shown on the price line, never a silent zero: a topic without it,
and without usage in the usage file, stays "needs usage" (and unprovable under a budget).
"""
from __future__ import annotations

from typing import Any

from .usage import UsageError, parse_usage
from .view import CostResource

DECLARED_USAGE = "declaredUsage"  # the component output that carries it
# An alert topic's ceiling: far above the state changes budgets, anomaly monitors and alarms publish.
ALERT_TOPIC_MONTHLY_PUBLISHES = 1000


def alert_topic_usage(email_subscriptions: int) -> dict[str, float]:
    """The usage an aifinops alert topic declares: its publish ceiling, each delivered to every email."""
    usage = {"monthlyPublishes": float(ALERT_TOPIC_MONTHLY_PUBLISHES)}
    if email_subscriptions:
        usage["monthlyEmailDeliveries"] = float(ALERT_TOPIC_MONTHLY_PUBLISHES * email_subscriptions)
    return usage


def declared_usage(resource: CostResource, parent: CostResource | None) -> dict[str, Any]:
    """What the resource's parent component declares for it by name: {} when nothing, or when the declaration
    is not valid usage (the resource then still needs usage: fail closed)."""
    declared = parent.get(DECLARED_USAGE) if parent is not None else None
    usage = declared.get(resource.name) if isinstance(declared, dict) else None
    if parent is None or not isinstance(usage, dict):
        return {}
    try:  # the usage file's own checks: known keys, finite non-negative numbers
        parsed = parse_usage({"resources": {resource.name: usage}}, f"{parent.name}.{DECLARED_USAGE}")
    except UsageError:
        return {}
    return parsed.for_resource(resource.type, resource.name, resource.urn)
