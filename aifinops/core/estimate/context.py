"""What a pricer can ask about the rest of the stack: linked resources, usage, spot discounts."""
from __future__ import annotations

import json
from typing import Any, Iterable, Optional

from aifinops.core import catalog

from ..tags import ASG_TYPE, LAUNCH_TEMPLATE_TYPE, effective_tags
from ..values import as_list, is_unknown
from .usage import Usage
from .view import CostResource

_REFERENCE_PROPS = ("id", "arn", "name", "bucket")


class PricingContext:
    def __init__(self, resources: Iterable[CostResource], usage: Usage,
                 default_region: str = catalog.DEFAULT_REGION) -> None:
        self.resources = list(resources)
        self.usage = usage
        self.default_region = default_region
        self.region = default_region  # the region of the resource being priced (see `enter`)
        self.dedicated_fee_regions: set[str] = set()  # AWS's Dedicated fee is charged once per region
        self.by_urn = {r.urn: r for r in self.resources}
        self._by_type: dict[str, list[CostResource]] = {}
        for resource in self.resources:
            self._by_type.setdefault(resource.type, []).append(resource)

    def launch_template_of(self, group: CostResource) -> Optional[CostResource]:
        """The launch template an auto scaling group launches from (directly or in its mixed instances policy)."""
        for prop, path in (("launchTemplate", ("launchTemplate",)),
                           ("mixedInstancesPolicy", ("mixedInstancesPolicy", "launchTemplate",
                                                     "launchTemplateSpecification"))):
            spec = group.get(*path)
            reference = (spec.get("id") or spec.get("launchTemplateId") or spec.get("name")
                         or spec.get("launchTemplateName")) if isinstance(spec, dict) else None
            template = self.linked(group, prop, reference, LAUNCH_TEMPLATE_TYPE)
            if template is not None:
                return template
        return None

    def region_of(self, resource: CostResource) -> str:
        """Where the resource deploys: its provider's region, else the stack's (`aws:region`)."""
        region = resource.provider_props.get("region")
        return region if isinstance(region, str) and region and not is_unknown(region) else self.default_region

    def account_of(self, resource: CostResource) -> str:
        """The AWS account the resource's provider deploys to, when its config pins one ("" otherwise):
        a single `allowedAccountIds` entry, else the account of the role it assumes (the last one)."""
        props = self._provider_config(resource)
        allowed = [a for a in as_list(props.get("allowedAccountIds")) if isinstance(a, str) and not is_unknown(a)]
        if len(allowed) == 1:
            return allowed[0]
        single = props.get("assumeRole")  # pulumi-aws 6's one role; 7 takes a list, assumeRoles
        roles = [r for r in as_list(props.get("assumeRoles")) + [single] if isinstance(r, dict)]
        arn = roles[-1].get("roleArn") if roles else None
        parts = arn.split(":") if isinstance(arn, str) and not is_unknown(arn) else []
        return parts[4] if len(parts) > 5 and parts[4].isdigit() else ""

    @staticmethod
    def _provider_config(resource: CostResource) -> dict[str, Any]:
        """Provider properties with JSON-text values decoded (provider inputs carry nested values as JSON)."""
        decoded = {}
        for key, value in resource.provider_props.items():
            if isinstance(value, str) and value[:1] in "[{":
                try:
                    value = json.loads(value)
                except ValueError:
                    pass
            decoded[key] = value
        return decoded

    def enter(self, resource: CostResource) -> None:
        """Price what follows in the resource's region."""
        self.region = self.region_of(resource)

    @property
    def ec2(self) -> catalog.PriceTable:
        """The EC2 table of the current region (us-east-1's when that region has none; the estimate says so)."""
        return catalog.price_table(self.region)

    def tags_of(self, resource: CostResource) -> dict[str, str]:
        """The tags AWS bills the resource's cost under (for a group: what its instances carry)."""
        template = self.launch_template_of(resource) if resource.type == ASG_TYPE else None
        tags = effective_tags(resource.type, resource.props, resource.provider_props,
                              template.props if template is not None else None)
        if not isinstance(tags, dict):
            return {}
        return {key: value for key, value in tags.items() if isinstance(value, str) and not is_unknown(value)}

    def usage_for(self, resource: CostResource) -> dict[str, Any]:
        return self.usage.for_resource(resource.type, resource.name, resource.urn)

    def spot_discount(self, instance_type: str) -> float:
        """Typical fraction below on-demand: the usage file's by type, then by family, then the catalog's."""
        normalized = catalog.normalize_instance_type(instance_type)
        family = normalized.split(".", 1)[0]
        for key in (normalized, family):
            if key in self.usage.spot_discounts:
                return self.usage.spot_discounts[key]
        return self.ec2.spot_discount(normalized)

    def of_type(self, *type_tokens: str) -> list[CostResource]:
        return [r for token in type_tokens for r in self._by_type.get(token, [])]

    def linked(self, resource: CostResource, prop: str, reference: Any, *type_tokens: str) -> Optional[CostResource]:
        """The resource of `type_tokens` that `resource.prop` refers to.

        By property dependency first (what the engine records even when the id is still unknown), then by
        matching the referenced value against the candidates' id, ARN or name.
        """
        for urn in resource.property_dependencies.get(prop, []):
            candidate = self.by_urn.get(urn)
            if candidate is not None and candidate.type in type_tokens:
                return candidate
        if reference is None or is_unknown(reference):
            return None
        for candidate in self.of_type(*type_tokens):
            if any(candidate.props.get(key) == reference for key in _REFERENCE_PROPS):
                return candidate
        return None

    def referring_to(self, target: CostResource, prop: str, *type_tokens: str) -> list[CostResource]:
        """The resources of `type_tokens` whose `prop` refers to `target` (e.g. a bucket's lifecycle)."""
        found = []
        for candidate in self.of_type(*type_tokens):
            if self.linked(candidate, prop, candidate.props.get(prop), target.type) is target:
                found.append(candidate)
        return found

    def component_of(self, resource: CostResource) -> Optional[CostResource]:
        """The outermost component (a direct child of the stack) containing the resource."""
        current, outermost = resource, None
        while current.parent and current.parent in self.by_urn:
            parent = self.by_urn[current.parent]
            if parent.type == "pulumi:pulumi:Stack":
                break
            outermost, current = parent, parent
        return outermost
