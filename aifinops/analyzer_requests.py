"""The Analyzer requests the Pulumi engine sends for a preview, built from a ResourceGraph.

`Analyze` gets each resource's inputs and its provider's inputs (e.g. the AWS provider's defaultTags);
`AnalyzeStack` gets every resource with its outputs, parent and dependencies, as the engine sends them
after a preview's steps. Secrets stay wrapped and unknowns stay the engine's sentinel strings, so the
policy SDK's own decoding (secrets unwrapped, unknowns proxied) runs exactly as under the CLI.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

from google.protobuf import struct_pb2
from pulumi.runtime.proto import analyzer_pb2

from .graph import Resource, ResourceGraph


def _struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(values)
    return message


def _options(resource: Resource) -> analyzer_pb2.AnalyzerResourceOptions:
    return analyzer_pb2.AnalyzerResourceOptions(protect=resource.protect, parent=resource.parent)


def _provider(graph: ResourceGraph, resource: Resource) -> Optional[analyzer_pb2.AnalyzerProviderResource]:
    provider = graph.provider_of(resource)
    if provider is None:
        return None
    return analyzer_pb2.AnalyzerProviderResource(type=provider.type, properties=_struct(provider.inputs),
                                                 urn=provider.urn, name=provider.name)


def analyze_requests(graph: ResourceGraph) -> list[analyzer_pb2.AnalyzeRequest]:
    """One Analyze request per registered resource, in registration order (the engine's step order)."""
    requests = []
    for resource in graph:
        request = analyzer_pb2.AnalyzeRequest(type=resource.type, properties=_struct(resource.inputs),
                                              urn=resource.urn, name=resource.name, options=_options(resource))
        provider = _provider(graph, resource)
        if provider is not None:
            request.provider.CopyFrom(provider)
        requests.append(request)
    return requests


def analyze_stack_request(graph: ResourceGraph) -> analyzer_pb2.AnalyzeStackRequest:
    resources = []
    for resource in graph:
        # A preview's planned state for a new resource is its inputs plus what the provider computes.
        properties = {**resource.inputs, **resource.outputs} if resource.custom else resource.outputs
        message = analyzer_pb2.AnalyzerResource(
            type=resource.type, properties=_struct(properties), urn=resource.urn, name=resource.name,
            options=_options(resource), parent=resource.parent, dependencies=resource.dependencies,
            propertyDependencies={key: analyzer_pb2.AnalyzerPropertyDependencies(urns=urns)
                                  for key, urns in resource.property_dependencies.items()})
        provider = _provider(graph, resource)
        if provider is not None:
            message.provider.CopyFrom(provider)
        resources.append(message)
    return analyzer_pb2.AnalyzeStackRequest(resources=resources)
