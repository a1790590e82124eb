"""The estimator's view of a stack policy's resources (pulumi-policy PolicyResource objects)."""
from __future__ import annotations

from typing import Any, Iterable

from aifinops.core.estimate import CostResource

from .call_memo import once_per_call
from .preview_values import plain


def from_policy_resources(resources: Iterable[Any]) -> list[CostResource]:
    """CostResources from pulumi-policy PolicyResource objects (a stack policy's `args.resources`): every
    stack policy of one AnalyzeStack call sees the same stack, so they share one conversion."""
    return once_per_call("cost resources", lambda: _convert(resources))


def _convert(resources: Iterable[Any]) -> list[CostResource]:
    views = []
    for resource in resources:
        provider = getattr(resource, "provider", None)
        parent = getattr(resource, "parent", None)
        dependencies = getattr(resource, "property_dependencies", None) or {}
        views.append(CostResource(
            urn=resource.urn, type=resource.resource_type, name=resource.name,
            custom=provider is not None, parent=parent.urn if parent is not None else "",
            props=plain(resource.props),
            provider_props=plain(provider.props) if provider is not None and provider.props is not None else {},
            property_dependencies={key: [d.urn for d in deps] for key, deps in dependencies.items()}))
    return views
