"""The few facts about a resource the estimator reads, from either side of the policy boundary.

`aifinops cost` builds these from the ResourceGraph; the policy packs build them from pulumi-policy's
PolicyResource objects (`from_policy_resources`). Properties are plain data with UNKNOWN where a value
cannot be known during preview.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from ..preview_values import UNKNOWN, dig, plain


@dataclass(frozen=True)
class CostResource:
    urn: str
    type: str
    name: str
    custom: bool
    parent: str = ""  # the parent's URN
    props: Mapping[str, Any] = field(default_factory=dict)
    provider_props: Mapping[str, Any] = field(default_factory=dict)
    property_dependencies: Mapping[str, list[str]] = field(default_factory=dict)

    @property
    def package(self) -> str:
        return self.type.split(":", 1)[0]

    def get(self, *path: Any) -> Any:
        """A property by path (None when missing, UNKNOWN when unknown)."""
        return dig(self.props, *path)


def from_policy_resources(resources: Iterable[Any]) -> list[CostResource]:
    """CostResources from pulumi-policy PolicyResource objects (a stack policy's `args.resources`)."""
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


__all__ = ["CostResource", "UNKNOWN", "from_policy_resources"]
