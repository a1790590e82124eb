"""Export a ResourceGraph in the shapes checkov reads.

AWS resources become one Terraform-plan JSON file (`plan.json`): Terraform type and attribute names
from `mapping.json`, nested objects as one-element block lists, and a `configuration` section whose
`references` tie a resource to the ones it points at, so checkov's graph checks (bucket encryption,
versioning, public access block, lifecycle) see them. Kubernetes resources become one manifest file
each under `k8s/`. Whatever has no mapping is listed as not scanned, never dropped silently.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

import yaml

from aifinops.core.tags import provider_default_tags, tags_shape
from aifinops.engine import UNKNOWN, blind
from aifinops.graph import Resource, ResourceGraph
from aifinops.policies.checkov_checks.aifinops_check_settings import KNOWN_AFTER_APPLY

MAPPING_FILE = Path(__file__).with_name("mapping.json")
PLAN_FILE = "plan.json"
KUBERNETES_DIR = "k8s"
TERRAFORM = "terraform_plan"
KUBERNETES = "kubernetes"
# The plan format checkov parses; it reads the field but accepts any 1.x.
TERRAFORM_VERSION = "1.9.8"
# Output keys that name or identify a resource: a value equal to one of them is a reference to it.
IDENTITY_KEYS = ("id", "arn", "name", "bucket")
IDENTITY_SUFFIXES = ("Id", "Arn", "Name")


@dataclass(frozen=True)
class AwsMapping:
    token: str
    terraform: str
    names: dict[str, str]  # Pulumi wire name -> Terraform name, at any depth
    maps: frozenset[str]  # attributes whose keys are user data
    json_attributes: frozenset[str]  # attributes Terraform holds as a JSON string

    def terraform_name(self, wire_name: str) -> str:
        return self.names.get(wire_name) or snake_case(wire_name)


@dataclass(frozen=True)
class KubernetesMapping:
    token: str
    pod_template: bool  # checkov counts the pod template as a resource of its own


@dataclass(frozen=True)
class Mapping:
    aws: dict[str, AwsMapping]
    kubernetes: dict[str, KubernetesMapping]
    not_mapped: dict[str, str] = field(default_factory=dict)  # type token -> why it cannot be, or is not yet


@dataclass
class ExportedResource:
    urn: str
    framework: str  # TERRAFORM | KUBERNETES
    file: str  # the file holding it, relative to the export directory
    address: str  # its Terraform address; for a manifest, the file again
    expected_count: int = 1  # resources checkov will count for it


@dataclass
class NotScanned:
    urn: str
    type: str
    reason: str


@dataclass
class CheckovExport:
    directory: Path
    resources: list[ExportedResource] = field(default_factory=list)
    not_scanned: list[NotScanned] = field(default_factory=list)

    def expected_count(self, framework: str) -> int:
        return sum(r.expected_count for r in self.resources if r.framework == framework)

    def frameworks(self) -> list[str]:
        return [f for f in (TERRAFORM, KUBERNETES) if any(r.framework == f for r in self.resources)]


def snake_case(wire_name: str) -> str:
    """Pulumi's wire names are Terraform's in camelCase: `httpPutResponseHopLimit`."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", wire_name).lower()


@lru_cache(maxsize=None)
def load_mapping(path: Path = MAPPING_FILE) -> Mapping:
    raw = json.loads(Path(path).read_text())
    default_maps = frozenset(raw["defaults"]["maps"])
    default_json = frozenset(raw["defaults"]["json"])
    aws = {token: AwsMapping(token, entry["terraform"], dict(entry.get("names", {})),
                             default_maps | frozenset(entry.get("maps", ())),
                             default_json | frozenset(entry.get("json", ())))
           for token, entry in raw["aws"].items()}
    kubernetes = {token: KubernetesMapping(token, bool(entry.get("podTemplate")))
                  for token, entry in raw["kubernetes"].items()}
    not_mapped = {token: reason for token, reason in raw.get("notMapped", {}).items() if token != "about"}
    return Mapping(aws, kubernetes, not_mapped)


REMOTE_COMPONENT_REASON = ("a remote (multi-language) component: a provider plugin creates its children, which the "
                           "offline preview cannot run, so they are not scanned")


def export_graph(graph: ResourceGraph, directory: Path, mapping: Optional[Mapping] = None) -> CheckovExport:
    """Write plan.json and k8s/*.yaml for the graph's cloud resources into `directory`."""
    mapping = mapping or load_mapping()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    result = CheckovExport(directory)
    aws_resources: list[tuple[Resource, AwsMapping]] = []
    kubernetes_resources: list[tuple[Resource, KubernetesMapping]] = []
    for resource in graph:
        if resource.remote:
            result.not_scanned.append(NotScanned(resource.urn, resource.type, REMOTE_COMPONENT_REASON))
    for resource in graph.custom_resources():
        if resource.type in mapping.aws:
            aws_resources.append((resource, mapping.aws[resource.type]))
        elif resource.type in mapping.kubernetes:
            kubernetes_resources.append((resource, mapping.kubernetes[resource.type]))
        else:
            reason = mapping.not_mapped.get(resource.type) or _unmapped_reason(resource.type)
            result.not_scanned.append(NotScanned(resource.urn, resource.type, reason))
    if aws_resources:
        plan = _terraform_plan(graph, aws_resources, result)
        (directory / PLAN_FILE).write_text(json.dumps(plan, indent=1, default=str))
    if kubernetes_resources:
        _write_manifests(kubernetes_resources, directory, result)
    return result


def _unmapped_reason(type_token: str) -> str:
    package = type_token.split(":", 1)[0]
    if package == "aws":
        return "no Terraform mapping for this type in aifinops/checkov/mapping.json yet"
    if package == "kubernetes":
        return "no manifest mapping for this kind in aifinops/checkov/mapping.json yet"
    return f"checkov has no checks for {package} resources"


# --- Terraform plan ------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Reference:
    """A leaf value that is another resource's identity: Terraform shows it as an expression."""

    address: str
    attribute: str

    def expression(self) -> list[str]:
        return [f"{self.address}.{self.attribute}", self.address]


def _terraform_plan(graph: ResourceGraph, resources: list[tuple[Resource, AwsMapping]],
                    result: CheckovExport) -> dict[str, Any]:
    addresses = _assign_addresses(resources)
    mappings = {resource.urn: aws_mapping for resource, aws_mapping in resources}
    planned, configured, changes = [], [], []
    for resource, aws_mapping in resources:
        address = addresses[resource.urn]
        name = address.split(".", 1)[1]
        inputs = blind(_with_references(graph, resource, addresses, mappings))
        values, expressions = _convert_object(inputs, aws_mapping)
        _add_unplaced_references(resource, addresses, aws_mapping, values, expressions)
        tags_all = _tags_all(graph, resource, inputs)
        if tags_all is not None:
            values["tags_all"] = tags_all
        planned.append({"address": address, "mode": "managed", "type": aws_mapping.terraform, "name": name,
                        "provider_name": "registry.terraform.io/hashicorp/aws", "schema_version": 0,
                        "values": values})
        configured.append({"address": address, "mode": "managed", "type": aws_mapping.terraform, "name": name,
                           "provider_config_key": "aws", "expressions": expressions})
        # What a plan knows only after apply (ids and ARNs of resources being created): checkov reads
        # after_unknown, so a check that a value is set passes and one that wants a concrete value fails.
        changes.append({"address": address, "mode": "managed", "type": aws_mapping.terraform, "name": name,
                        "change": {"actions": ["create"], "before": None, "after": values,
                                   "after_unknown": _after_unknown(inputs, aws_mapping)}})
        result.resources.append(ExportedResource(resource.urn, TERRAFORM, PLAN_FILE, address))
    return {"format_version": "1.2", "terraform_version": TERRAFORM_VERSION,
            "planned_values": {"root_module": {"resources": planned}},
            "resource_changes": changes,
            "configuration": {"root_module": {"resources": configured}}}


def _after_unknown(obj: dict[str, Any], aws_mapping: AwsMapping) -> dict[str, Any]:
    """Terraform's after_unknown for the values _convert_object writes: True where a value is unknown."""
    unknown: dict[str, Any] = {}
    for key, value in obj.items():
        name = aws_mapping.terraform_name(key)
        if value == UNKNOWN:
            unknown[name] = True
        elif key in aws_mapping.maps or key in aws_mapping.json_attributes or _is_asset(value):
            continue
        elif isinstance(value, dict):
            inner = _after_unknown(value, aws_mapping)
            if inner:
                unknown[name] = [inner]
        elif isinstance(value, list) and any(isinstance(item, dict) for item in value):
            blocks = [_after_unknown(item, aws_mapping) for item in value if isinstance(item, dict)]
            if any(blocks):
                unknown[name] = blocks
    return unknown


def _assign_addresses(resources: list[tuple[Resource, AwsMapping]]) -> dict[str, str]:
    """A unique, valid Terraform address per resource, from its Pulumi name."""
    addresses: dict[str, str] = {}
    taken: set[str] = set()
    for resource, aws_mapping in resources:
        name = re.sub(r"[^A-Za-z0-9_-]", "_", resource.name) or "resource"
        if not re.match(r"[A-Za-z_]", name):
            name = f"r_{name}"
        candidate, suffix = name, 2
        while f"{aws_mapping.terraform}.{candidate}" in taken:
            candidate, suffix = f"{name}_{suffix}", suffix + 1
        address = f"{aws_mapping.terraform}.{candidate}"
        taken.add(address)
        addresses[resource.urn] = address
    return addresses


def _identity_outputs(resource: Resource) -> list[tuple[str, str]]:
    """(output key, value) pairs that identify the resource, most specific first."""
    pairs = [(key, resource.outputs[key]) for key in IDENTITY_KEYS if isinstance(resource.outputs.get(key), str)]
    pairs += [(key, value) for key, value in resource.outputs.items()
              if key.endswith(IDENTITY_SUFFIXES) and isinstance(value, str)]
    return [(key, value) for key, value in pairs if value and value != UNKNOWN]


def _with_references(graph: ResourceGraph, resource: Resource, addresses: dict[str, str],
                     mappings: dict[str, AwsMapping]) -> dict[str, Any]:
    """The inputs with every value that came from a dependency's identity replaced by a _Reference.

    Maps and JSON documents keep their values: checks read them as data.
    """
    result = dict(resource.inputs)
    aws_mapping = mappings[resource.urn]
    for key, urns in resource.property_dependencies.items():
        targets = [graph.resources[urn] for urn in urns if urn in addresses and urn in graph.resources]
        if key not in result or not targets or key in aws_mapping.maps or key in aws_mapping.json_attributes:
            continue
        lookup: dict[str, _Reference] = {}
        for target in targets:
            for output_key, value in _identity_outputs(target):
                lookup.setdefault(value, _Reference(addresses[target.urn], mappings[target.urn].terraform_name(output_key)))
        result[key] = _replace_leaves(result[key], lookup)
    return result


def _replace_leaves(value: Any, lookup: dict[str, _Reference]) -> Any:
    if isinstance(value, str):
        return lookup.get(value, value)
    if isinstance(value, list):
        return [_replace_leaves(v, lookup) for v in value]
    if isinstance(value, dict):
        return {k: _replace_leaves(v, lookup) for k, v in value.items()}
    return value


def _convert_object(obj: dict[str, Any], aws_mapping: AwsMapping) -> tuple[dict[str, Any], dict[str, Any]]:
    """Pulumi wire properties -> (Terraform values, Terraform configuration expressions)."""
    values: dict[str, Any] = {}
    expressions: dict[str, Any] = {}
    for key, value in obj.items():
        if value == UNKNOWN:
            continue  # unknown until apply: Terraform leaves it out of planned values too
        name = aws_mapping.terraform_name(key)
        if isinstance(value, _Reference):
            values[name] = None
            expressions[name] = {"references": value.expression()}
        elif key in aws_mapping.maps and isinstance(value, dict):
            values[name] = _known_map(value)
        elif key in aws_mapping.json_attributes and isinstance(value, (dict, list)):
            values[name] = json.dumps(value)
        elif _is_asset(value):
            values[name] = value.get("path")
        elif isinstance(value, dict):
            block_values, block_expressions = _convert_object(value, aws_mapping)
            values[name] = [block_values]
            if block_expressions:
                expressions[name] = [block_expressions]
        elif isinstance(value, list):
            values[name], item_expressions = _convert_list(value, aws_mapping)
            if item_expressions is not None:
                expressions[name] = item_expressions
        else:
            values[name] = value
    return values, expressions


def _convert_list(items: list[Any], aws_mapping: AwsMapping) -> tuple[list[Any], Any]:
    if any(isinstance(item, dict) for item in items):  # a list of blocks
        converted = [_convert_object(item, aws_mapping) for item in items if isinstance(item, dict)]
        expressions = [e for _, e in converted]
        return [v for v, _ in converted], expressions if any(expressions) else None
    references = [item for item in items if isinstance(item, _Reference)]
    values = [None if isinstance(item, _Reference) else item for item in items if item != UNKNOWN]
    if not references:
        return values, None
    return values, {"references": [ref for item in references for ref in item.expression()]}


def _add_unplaced_references(resource: Resource, addresses: dict[str, str], aws_mapping: AwsMapping,
                             values: dict[str, Any], expressions: dict[str, Any]) -> None:
    """Dependencies whose value is derived (a policy JSON built from an ARN) or unknown still get a reference."""
    for key, urns in resource.property_dependencies.items():
        name = aws_mapping.terraform_name(key)
        targets = [addresses[urn] for urn in urns if urn in addresses]
        # A list of blocks or of known values places its own references; a list of values that are all
        # unknown during preview (ids of resources being created) is left empty and needs them here.
        if not targets or name in expressions or (isinstance(values.get(name), list) and values[name]):
            continue
        expressions[name] = {"references": [ref for address in targets for ref in (f"{address}.id", address)]}


def _tags_all(graph: ResourceGraph, resource: Resource, inputs: dict[str, Any]) -> Optional[dict[str, Any]]:
    """Terraform computes tags_all at plan time: the provider's default tags under the resource's own."""
    if tags_shape(resource.type) != "map":
        return None  # cannot carry tags, or an auto scaling group's tag blocks (no tags_all there)
    tags = inputs.get("tags")
    provider = graph.provider_of(resource)
    default_tags = provider_default_tags(provider.inputs) if provider else {}
    if not isinstance(default_tags, dict):
        default_tags = {}  # unknown until apply: only the resource's own tags are known
    if not isinstance(tags, dict) and not default_tags:
        return None
    return _known_map({**default_tags, **(tags if isinstance(tags, dict) else {})})


def _known_map(value: dict[str, Any]) -> dict[str, Any]:
    """A map keeps its keys when a value is unknown: the tag is there, its value comes at apply."""
    return {k: KNOWN_AFTER_APPLY if v == UNKNOWN else v for k, v in value.items()}


def _is_asset(value: Any) -> bool:
    return isinstance(value, dict) and "asset" in value and set(value) <= {"asset", "path", "text", "uri", "assets"}


# --- Kubernetes manifests ------------------------------------------------------------------------

def _write_manifests(resources: list[tuple[Resource, KubernetesMapping]], directory: Path,
                     result: CheckovExport) -> None:
    manifest_dir = directory / KUBERNETES_DIR
    manifest_dir.mkdir(exist_ok=True)
    for index, (resource, kubernetes_mapping) in enumerate(resources):
        manifest = _manifest(resource)
        kind = str(manifest.get("kind", "resource")).lower()
        safe_name = re.sub(r"[^A-Za-z0-9_.-]", "_", resource.name)
        relative = f"{KUBERNETES_DIR}/{index:03d}-{kind}-{safe_name}.yaml"
        (directory / relative).write_text(yaml.safe_dump(manifest, sort_keys=False))
        count = 2 if kubernetes_mapping.pod_template and _has_pod_template(manifest) else 1
        result.resources.append(ExportedResource(resource.urn, KUBERNETES, relative, relative, count))


def _manifest(resource: Resource) -> dict[str, Any]:
    """The object the provider would send to the cluster: inputs, with the name the provider chose."""
    manifest = _drop_unknowns(blind({**resource.inputs, **resource.outputs}))
    metadata = manifest.setdefault("metadata", {})
    metadata.setdefault("name", resource.name)
    return manifest


def _drop_unknowns(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_unknowns(v) for k, v in value.items() if v != UNKNOWN}
    if isinstance(value, list):
        return [_drop_unknowns(v) for v in value if v != UNKNOWN]
    return value


def _has_pod_template(manifest: dict[str, Any]) -> bool:
    """checkov splits a workload's pod template out when it has metadata (name or labels) and a spec."""
    spec = manifest.get("spec")
    template = spec.get("template") if isinstance(spec, dict) else None
    if not isinstance(template, dict) or not isinstance(template.get("metadata"), dict):
        return False
    if not isinstance(template.get("spec"), (dict, list)):
        return False
    return template["metadata"].get("name") is not None or template["metadata"].get("labels") is not None
