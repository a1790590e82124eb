"""The ResourceGraph: every resource a program registered, read by every later stage.

One pass of the program produces it (see `aifinops.engine`); policy packs, the checkov export,
the cost estimate and the reports all read it and never re-run the program.
"""
from __future__ import annotations

import dataclasses
import heapq
import json
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional

STACK_TYPE = "pulumi:pulumi:Stack"
PROVIDER_TYPE_PREFIX = "pulumi:providers:"


@dataclass
class SourcePosition:
    """Where in the user's program a resource was created."""

    file: str  # path relative to the project root, '/'-separated
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class Resource:
    urn: str
    type: str
    name: str
    custom: bool
    parent: str = ""  # parent URN, "" only for the root stack
    provider: str = ""  # "<provider urn>::<id>", "" for components and the stack
    id: str = ""
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    protect: bool = False
    source: Optional[SourcePosition] = None
    # Resource options the program set, by the engine's names (ignoreChanges, deleteBeforeReplace,
    # additionalSecretOutputs, aliases, customTimeouts, retainOnDelete, replaceOnChanges, deletedWith, ...).
    options: dict[str, Any] = field(default_factory=dict)
    read: bool = False  # a read of an existing resource (Resource.get, StackReference): a `read` step
    remote: bool = False  # a multi-language component, whose children a provider plugin would create

    @property
    def is_provider(self) -> bool:
        return self.type.startswith(PROVIDER_TYPE_PREFIX)

    @property
    def provider_urn(self) -> str:
        """The provider reference without its '::<id>' suffix."""
        return self.provider.rsplit("::", 1)[0] if self.provider else ""

    @property
    def package(self) -> str:
        return self.type.split(":", 1)[0]


@dataclass
class ResourceGraph:
    project: str
    stack: str
    config: dict[str, Any]  # namespaced keys, secrets blinded as "[secret]"
    resources: dict[str, Resource] = field(default_factory=dict)  # by URN, in registration order
    stack_outputs: dict[str, Any] = field(default_factory=dict)
    program_dir: str = ""
    # What the program logged (pulumi.log.*), as PreviewDigest diagnostics: {urn, prefix, message, severity}.
    diagnostics: list[dict[str, str]] = field(default_factory=list)

    def __iter__(self) -> Iterator[Resource]:
        return iter(self.resources.values())

    def __len__(self) -> int:
        return len(self.resources)

    def add(self, resource: Resource) -> None:
        self.resources[resource.urn] = resource

    def get(self, urn: str) -> Optional[Resource]:
        return self.resources.get(urn)

    @property
    def root(self) -> Resource:
        return next(r for r in self if r.type == STACK_TYPE)

    def custom_resources(self) -> list[Resource]:
        """Cloud resources: custom and not providers."""
        return [r for r in self if r.custom and not r.is_provider]

    def of_type(self, type_token: str) -> list[Resource]:
        return [r for r in self if r.type == type_token]

    def children(self, urn: str) -> list[Resource]:
        return [r for r in self if r.parent == urn]

    def provider_of(self, resource: Resource) -> Optional[Resource]:
        return self.resources.get(resource.provider_urn) if resource.provider else None

    def component_of(self, resource: Resource) -> Optional[Resource]:
        """The outermost component (direct child of the stack) that contains the resource."""
        current, outermost = resource, None
        while current.parent and current.parent in self.resources:
            parent = self.resources[current.parent]
            if parent.type == STACK_TYPE:
                break
            outermost, current = parent, parent
        return outermost

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "stack": self.stack,
            "config": self.config,
            "programDir": self.program_dir,
            "stackOutputs": self.stack_outputs,
            "diagnostics": self.diagnostics,
            "resources": [dataclasses.asdict(r) for r in self],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ResourceGraph":
        graph = cls(data["project"], data["stack"], data.get("config", {}),
                    stack_outputs=data.get("stackOutputs", {}), program_dir=data.get("programDir", ""),
                    diagnostics=data.get("diagnostics", []))
        for raw in data["resources"]:
            raw = dict(raw)
            source = raw.pop("source", None)
            graph.add(Resource(**raw, source=SourcePosition(**source) if source else None))
        return graph

    def put_in_stable_order(self) -> None:
        """Registration order, made the same on every run (see stable_order): every consumer, the packs'
        Analyze calls, the estimate and the digest, then reads the stack in one reproducible order."""
        self.resources = {r.urn: r for r in stable_order(list(self.resources.values()))}

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, default=str)


def stable_order(resources: list[Resource]) -> list[Resource]:
    """Registration order, made the same on every run: the SDK registers resources from concurrent tasks,
    so two runs can differ where nothing orders them. A topological order over parents, dependencies and
    providers, with ties broken by the program line that made each resource and then its URN."""
    by_urn = {r.urn: r for r in resources}
    before: dict[str, set[str]] = {r.urn: set() for r in resources}
    for resource in resources:
        provider = resource.provider_urn
        for urn in {resource.parent, provider, *resource.dependencies}:
            if urn in by_urn and urn != resource.urn:
                before[resource.urn].add(urn)

    def key(resource: Resource) -> tuple:
        source = resource.source
        return (source.file, source.line) if source else ("", 0), resource.urn

    ready = [(key(r), r.urn) for r in resources if not before[r.urn]]
    heapq.heapify(ready)  # a heap keeps this O(n log n) for large stacks
    waiting = {urn: set(deps) for urn, deps in before.items() if deps}
    dependents: dict[str, list[str]] = {}
    for urn, deps in waiting.items():
        for dep in deps:
            dependents.setdefault(dep, []).append(urn)
    ordered: list[Resource] = []
    while ready:
        _, urn = heapq.heappop(ready)
        ordered.append(by_urn[urn])
        for dependent in dependents.get(urn, []):
            waiting[dependent].discard(urn)
            if not waiting[dependent]:
                del waiting[dependent]
                heapq.heappush(ready, (key(by_urn[dependent]), dependent))
    # A dependency cycle cannot come from a program; keep any leftovers rather than drop them.
    return ordered + sorted((by_urn[urn] for urn in waiting), key=key)
