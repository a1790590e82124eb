"""The few facts about a resource the estimator reads, from either side of the policy boundary.

`aifinops cost` builds these from the ResourceGraph; the policy packs build them from pulumi-policy's
PolicyResource objects (`aifinops.policies.cost_resources`). Properties are plain data with UNKNOWN where a value
cannot be known during preview.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from ..values import UNKNOWN, dig


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
    # A multi-language component: a provider plugin creates its children, which no offline preview sees.
    remote: bool = False

    @property
    def package(self) -> str:
        return self.type.split(":", 1)[0]

    def get(self, *path: Any) -> Any:
        """A property by path (None when missing, UNKNOWN when unknown)."""
        return dig(self.props, *path)


__all__ = ["CostResource", "UNKNOWN"]
