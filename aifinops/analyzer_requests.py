"""The Analyzer requests the Pulumi engine sends for a preview, built from a ResourceGraph.

`Analyze` (and `Remediate`) get each resource's inputs, its resource options and its provider's inputs
(e.g. the AWS provider's defaultTags); `AnalyzeStack` gets every resource with its outputs, parent and
dependencies, as the engine sends them after a preview's steps. Secrets stay wrapped and unknowns stay
the engine's sentinel strings, so the policy SDK's own decoding (secrets unwrapped, unknowns proxied)
runs exactly as under the CLI. Assets and archives go out in the engine's wire form (`4dabf18193072939
515e22adb298388d` signatures), so policies get the SDK's FileAsset/StringAsset/... objects.
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Mapping, Optional

from google.protobuf import struct_pb2
from pulumi.runtime.proto import analyzer_pb2

from .graph import Resource, ResourceGraph

SIG_KEY = "4dabf18193072939515e22adb298388d"
ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17"
ARCHIVE_SIG = "0def7320c3a5731c473e5ecbe6d01bc7"
# The engine's dynamic providers get the whole stack config, namespaced (deploy.Target.GetPackageConfig).
DYNAMIC_PROVIDER_TYPES = ("pulumi:providers:pulumi-nodejs", "pulumi:providers:pulumi-python")
_ARCHIVE_TYPES = ("FileArchive", "RemoteArchive", "AssetArchive")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_DURATION_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def _struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(values)
    return message


def wire_value(value: Any, base: Optional[Path] = None) -> Any:
    """A graph value as the engine marshals it: recorded assets/archives become signature objects."""
    if isinstance(value, dict):
        if "asset" in value and value.get("asset") in {"FileAsset", "StringAsset", "RemoteAsset", *_ARCHIVE_TYPES} \
                and set(value) <= {"asset", "path", "text", "uri", "assets"}:
            return _wire_asset(value, base)
        return {key: wire_value(item, base) for key, item in value.items()}
    if isinstance(value, list):
        return [wire_value(item, base) for item in value]
    return value


def _wire_asset(value: Mapping[str, Any], base: Optional[Path]) -> dict[str, Any]:
    kind = value["asset"]
    archive = kind in _ARCHIVE_TYPES
    wire: dict[str, Any] = {SIG_KEY: ARCHIVE_SIG if archive else ASSET_SIG}
    if kind == "AssetArchive":
        wire["assets"] = {name: wire_value(item, base) for name, item in (value.get("assets") or {}).items()}
    elif kind in ("RemoteAsset", "RemoteArchive"):
        wire["uri"] = value.get("uri") or value.get("path") or ""
    elif kind == "StringAsset":
        wire["text"] = value.get("text") or ""
    else:
        wire["path"] = value.get("path") or ""
    # The engine hashes an asset's contents when it receives it; a file it cannot read keeps no hash.
    contents = wire["text"].encode() if "text" in wire else None
    if kind == "FileAsset" and wire["path"]:
        path = Path(wire["path"])
        try:
            contents = (path if path.is_absolute() or base is None else base / path).read_bytes()
        except OSError:
            contents = None
    if contents is not None:
        wire["hash"] = hashlib.sha256(contents).hexdigest()
    return wire


def graph_value(value: Any) -> Any:
    """A value from a pack (a remediation's properties) as the graph records it: whole numbers as ints,
    asset and archive signature objects as the engine's {"asset": kind, ...} records; secrets stay wrapped."""
    if isinstance(value, dict):
        sig = value.get(SIG_KEY)
        if sig in (ASSET_SIG, ARCHIVE_SIG):
            archive = sig == ARCHIVE_SIG
            if "assets" in value:
                return {"asset": "AssetArchive", "assets": {k: graph_value(v) for k, v in value["assets"].items()}}
            if "uri" in value:
                return {"asset": "RemoteArchive" if archive else "RemoteAsset", "uri": value["uri"]}
            if "text" in value:
                return {"asset": "StringAsset", "text": value["text"]}
            return {"asset": "FileArchive" if archive else "FileAsset", "path": value.get("path")}
        return {key: graph_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [graph_value(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def duration_seconds(value: Any) -> float:
    """A custom timeout as the engine holds it: seconds, parsed from a Go duration such as '1h30m'."""
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return 0.0  # the SDK rejects malformed durations before they reach the engine
    return sum(float(number) * _DURATION_SECONDS[unit] for number, unit in parts)


def resource_options(resource: Resource) -> analyzer_pb2.AnalyzerResourceOptions:
    """AnalyzerResourceOptions with everything the program set (plugin.marshalResourceOptions)."""
    options = resource.options
    timeouts = options.get("customTimeouts") or {}
    message = analyzer_pb2.AnalyzerResourceOptions(
        protect=resource.protect, ignoreChanges=list(options.get("ignoreChanges") or []),
        deleteBeforeReplace=bool(options.get("deleteBeforeReplace")),
        deleteBeforeReplaceDefined=options.get("deleteBeforeReplace") is not None,
        additionalSecretOutputs=list(options.get("additionalSecretOutputs") or []),
        aliases=list(options.get("aliases") or []), parent=resource.parent)
    # The engine always sends customTimeouts, zero when unset.
    message.customTimeouts.CopyFrom(analyzer_pb2.AnalyzerResourceOptions.CustomTimeouts(
        **{key: duration_seconds(timeouts[key]) if timeouts.get(key) else 0.0 for key in ("create", "update", "delete")}))
    return message


def provider_properties(graph: ResourceGraph, provider: Resource) -> dict[str, Any]:
    """A provider's inputs as the engine holds them: with its `version`, and, for a dynamic provider,
    the stack's whole config under namespaced keys."""
    properties = dict(provider.inputs)
    if provider.type in DYNAMIC_PROVIDER_TYPES:
        config = {key: value if isinstance(value, str) else json.dumps(value) for key, value in graph.config.items()}
        properties = {**config, **properties}
    version = provider.options.get("version")
    if version and "version" not in properties:
        properties["version"] = version
    return properties


def _provider(graph: ResourceGraph, resource: Resource) -> Optional[analyzer_pb2.AnalyzerProviderResource]:
    provider = graph.provider_of(resource)
    if provider is None:
        return None
    return analyzer_pb2.AnalyzerProviderResource(
        type=provider.type, properties=_struct(wire_value(provider_properties(graph, provider), _base(graph))),
        urn=provider.urn, name=provider.name)


def _base(graph: ResourceGraph) -> Optional[Path]:
    return Path(graph.program_dir) if graph.program_dir else None


def analyze_request(graph: ResourceGraph, resource: Resource) -> analyzer_pb2.AnalyzeRequest:
    """The request for one resource (Analyze and Remediate share it), with its current inputs."""
    request = analyzer_pb2.AnalyzeRequest(type=resource.type, properties=_struct(wire_value(resource.inputs, _base(graph))),
                                          urn=resource.urn, name=resource.name, options=resource_options(resource))
    provider = _provider(graph, resource)
    if provider is not None:
        request.provider.CopyFrom(provider)
    return request


def analyze_requests(graph: ResourceGraph) -> list[analyzer_pb2.AnalyzeRequest]:
    """One Analyze request per registered resource, in registration order (the engine's step order). The
    engine analyzes the goal state of registrations only: reads (Resource.get, StackReference) reach the
    packs in AnalyzeStack, with the rest of the stack."""
    return [analyze_request(graph, resource) for resource in graph if not resource.read]


def analyze_stack_request(graph: ResourceGraph) -> analyzer_pb2.AnalyzeStackRequest:
    resources = []
    base = _base(graph)
    for resource in graph:
        # A preview's planned state for a new resource is its inputs plus what the provider computes.
        properties = {**resource.inputs, **resource.outputs} if resource.custom else resource.outputs
        message = analyzer_pb2.AnalyzerResource(
            type=resource.type, properties=_struct(wire_value(properties, base)), urn=resource.urn,
            name=resource.name, options=resource_options(resource), parent=resource.parent,
            dependencies=resource.dependencies,
            # The engine skips properties that depend on nothing.
            propertyDependencies={key: analyzer_pb2.AnalyzerPropertyDependencies(urns=urns)
                                  for key, urns in resource.property_dependencies.items() if urns})
        provider = _provider(graph, resource)
        if provider is not None:
            message.provider.CopyFrom(provider)
        resources.append(message)
    return analyzer_pb2.AnalyzeStackRequest(resources=resources)
