"""Finding related resources in a stack policy: which resource refers to which.

Configuration that AWS models as separate resources (a bucket's encryption or public access block, an
auto scaling group's launch template) refers to its owner by id or name. During preview those ids are
usually unknown, so a reference is recognised first by the engine's property dependencies (the owner's
URN is recorded under the referring property) and otherwise by equal known values.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from pulumi_policy import PolicyResource

from .call_memo import once_per_call
from .preview_values import plain


class StackResources:
    """The resources a stack policy sees, with plain (unknown-safe) properties computed once."""

    def __init__(self, resources: Sequence[PolicyResource]) -> None:
        self.resources = list(resources)
        # By URN, shared by the stack policies of one AnalyzeStack call (each has its own PolicyResources).
        self._props: dict[str, Any] = once_per_call("plain props by urn", dict)
        # A provider's props by its URN: every resource it serves carries its own copy of them.
        self._provider_props: dict[str, Any] = once_per_call("plain provider props by urn", dict)
        self._indexes: dict[tuple[tuple[str, ...], str], tuple[dict[str, list], dict[str, list]]] = {}

    def props(self, resource: PolicyResource) -> Any:
        return _plain_kept(self._props, resource.urn, resource.props)

    def provider_props(self, resource: PolicyResource) -> Any:
        provider = resource.provider
        return None if provider is None else _plain_kept(self._provider_props, provider.urn, provider.props)

    def of_type(self, *types: str) -> list[PolicyResource]:
        return [r for r in self.resources if r.resource_type in types]

    def refers_to(self, source: PolicyResource, prop: str, target: PolicyResource,
                  target_keys: Iterable[str]) -> bool:
        """Whether `source`'s property `prop` refers to `target` (by dependency, or by one of its key values)."""
        if any(dep.urn == target.urn for dep in source.property_dependencies.get(prop, [])):
            return True
        target_props = self.props(target)
        wanted = {target_props.get(key) for key in target_keys}
        wanted = {value for value in wanted if isinstance(value, str) and value}
        return bool(wanted & set(_known_strings(self.props(source).get(prop))))

    def referring(self, target: PolicyResource, types: Sequence[str], prop: str,
                  target_keys: Iterable[str]) -> list[PolicyResource]:
        """Resources of `types` whose `prop` refers to `target` (indexed once, so a stack policy stays linear)."""
        by_urn, by_value = self._reference_index(tuple(types), prop)
        target_props = self.props(target)
        found = list(by_urn.get(target.urn, []))
        for key in target_keys:
            value = target_props.get(key)
            if isinstance(value, str) and value:
                found += by_value.get(value, [])
        return list({id(r): r for r in found}.values())

    def _reference_index(self, types: tuple[str, ...], prop: str) -> tuple[dict[str, list], dict[str, list]]:
        key = (types, prop)
        if key not in self._indexes:
            by_urn: dict[str, list[PolicyResource]] = {}
            by_value: dict[str, list[PolicyResource]] = {}
            for source in self.of_type(*types):
                for dep in source.property_dependencies.get(prop, []):
                    by_urn.setdefault(dep.urn, []).append(source)
                for value in set(_known_strings(self.props(source).get(prop))):
                    by_value.setdefault(value, []).append(source)
            self._indexes[key] = (by_urn, by_value)
        return self._indexes[key]


def _known_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _known_strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _known_strings(item)]
    return []  # None, numbers, UNKNOWN


def _plain_kept(kept: dict[str, Any], urn: str, props: Any) -> Any:
    """plain(props), converted once for `urn` and kept in `kept`."""
    if urn not in kept:
        kept[urn] = plain(props)
    return kept[urn]
