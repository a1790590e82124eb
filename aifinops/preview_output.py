"""Renders a preview as pulumi preview does: a tree for people, a PreviewDigest for tools."""
from __future__ import annotations

import json
from typing import Any, Iterable

from .core.values import is_unknown
from .engine import blind
from .graph import Resource, ResourceGraph


def display_type(type_token: str) -> str:
    """pulumi shows `aws:ec2/instance:Instance` as `aws:ec2:Instance`."""
    parts = type_token.split(":")
    if len(parts) == 3 and "/" in parts[1]:
        parts[1] = parts[1].split("/")[0]
    return ":".join(parts)


def tree_lines(graph: ResourceGraph) -> list[str]:
    rows: list[tuple[str, str, str]] = []
    children: dict[str, list[Resource]] = {}
    for resource in steps_resources(graph):
        children.setdefault(resource.parent, []).append(resource)

    def walk(resource: Resource, prefix: str, last: bool, depth: int) -> None:
        branch = "" if depth == 0 else prefix + ("└─ " if last else "├─ ")
        rows.append((branch + display_type(resource.type), resource.name, "create"))
        kids = children.get(resource.urn, [])
        child_prefix = "" if depth == 0 else prefix + ("   " if last else "│  ")
        for index, kid in enumerate(kids):
            walk(kid, child_prefix, index == len(kids) - 1, depth + 1)

    walk(graph.root, "", True, 0)
    type_width = max(len(r[0]) for r in rows) + 2
    name_width = max(len(r[1]) for r in rows) + 2
    lines = [f"     {'Type':<{type_width}}{'Name':<{name_width}}Plan"]
    lines += [f" +   {t:<{type_width}}{n:<{name_width}}{p}" for t, n, p in rows]
    return lines


def render_text(graph: ResourceGraph, duration_seconds: float, sections: Iterable[str] = ()) -> str:
    """`sections`: lines printed after the resource tree, where pulumi prints policies. A preview prints no
    duration (the CLI prints one only after an update)."""
    count = len(steps_resources(graph))
    lines = [f"Previewing update ({graph.stack}):", "", *tree_lines(graph), "", *diagnostic_lines(graph), *sections]
    if graph.stack_outputs:
        lines.append("Outputs:")
        width = max(len(k) for k in graph.stack_outputs)
        for key in sorted(graph.stack_outputs):
            lines.append(f"    {key:<{width}}: {pulumi_value(blind(graph.stack_outputs[key]), 4)}")
        lines.append("")
    lines += ["Resources:", f"    + {count} to create", ""]
    return "\n".join(lines)


def pulumi_value(value: Any, indent: int) -> str:
    """A value as the CLI prints outputs: strings quoted, unknowns `output<string>`, nested maps and lists
    one entry a line."""
    if is_unknown(value):
        return "output<string>"
    if value == "[secret]":
        return "[secret]"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    pad = " " * (indent + 4)
    if isinstance(value, dict):
        if not value:
            return "{}"
        width = max(len(k) for k in value)
        body = [f"{pad}{k:<{width}}: {pulumi_value(value[k], indent + 4)}" for k in sorted(value)]
        return "{\n" + "\n".join(body) + "\n" + " " * indent + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        body = [f"{pad}[{i}]: {pulumi_value(item, indent + 4)}" for i, item in enumerate(value)]
        return "[\n" + "\n".join(body) + "\n" + " " * indent + "]"
    return str(value)


def diagnostic_lines(graph: ResourceGraph) -> list[str]:
    """What the program logged, grouped by resource as pulumi prints it."""
    if not graph.diagnostics:
        return []
    lines = ["Diagnostics:"]
    by_urn: dict[str, list[dict[str, str]]] = {}
    for diagnostic in graph.diagnostics:
        by_urn.setdefault(diagnostic["urn"] or graph.root.urn, []).append(diagnostic)
    for urn, entries in by_urn.items():
        resource = graph.get(urn)
        label = f"{display_type(resource.type)} ({resource.name})" if resource else urn
        lines.append(f"  {label}:")
        for entry in entries:
            for number, text in enumerate(entry["message"].rstrip("\n").splitlines()):
                lines.append(f"    {entry['prefix'] if number == 0 else ''}{text}")
        lines.append("")
    return lines


def steps_resources(graph: ResourceGraph) -> list[Resource]:
    """What pulumi preview counts and lists as steps: everything but the engine's default providers (internal,
    never shown), in the graph's order (see ResourceGraph.put_in_stable_order)."""
    return [r for r in graph if not (r.is_provider and r.name.startswith("default"))]


# ResourceV3 names of the options a program can set, as `pulumi preview --json` writes them in newState.
_STATE_OPTIONS = {"additionalSecretOutputs": "additionalSecretOutputs", "aliases": "aliases",
                  "customTimeouts": "customTimeouts", "ignoreChanges": "ignoreChanges",
                  "replaceOnChanges": "replaceOnChanges", "retainOnDelete": "retainOnDelete",
                  "deletedWith": "deletedWith", "importId": "importID"}


def _config_string(value: Any) -> str:
    """`config` in the digest is a map of strings, as the CLI hands config to programs."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def new_state(resource: Resource) -> dict[str, Any]:
    """apitype.ResourceV3 as json.go writes it: empty fields omitted (all but urn, custom and type)."""
    state: dict[str, Any] = {"urn": resource.urn, "custom": resource.custom}
    if resource.custom and resource.id:
        state["id"] = resource.id
    state["type"] = resource.type
    optional = {"inputs": blind(resource.inputs), "outputs": blind(resource.outputs), "parent": resource.parent,
                "protect": resource.protect, "external": resource.read, "dependencies": resource.dependencies,
                "provider": resource.provider,
                "propertyDependencies": {k: v for k, v in resource.property_dependencies.items() if v}}
    optional.update({name: resource.options.get(key) for key, name in _STATE_OPTIONS.items()})
    if resource.source is not None:
        optional["sourcePosition"] = f"project:///{resource.source.file}#{resource.source.line}"
    state.update({key: value for key, value in optional.items() if value not in (None, "", False, [], {})})
    return state


def preview_digest(graph: ResourceGraph, duration_seconds: float,
                   diagnostics: Iterable[dict[str, Any]] = ()) -> dict[str, Any]:
    """The `pulumi preview --json` document (PreviewDigest, pkg/display/json.go), secrets blinded."""
    steps = []
    summary: dict[str, int] = {}
    for resource in steps_resources(graph):
        op = "read" if resource.read else "create"
        step: dict[str, Any] = {"op": op, "urn": resource.urn}
        if resource.provider:
            step["provider"] = resource.provider
        step["newState"] = new_state(resource)
        step["detailedDiff"] = None  # no omitempty in json.go: null for a create
        steps.append(step)
        summary[op] = summary.get(op, 0) + 1
    document: dict[str, Any] = {"config": {key: _config_string(value) for key, value in graph.config.items()},
                                "steps": steps,
                                "diagnostics": [{k: v for k, v in d.items() if v}
                                                for d in [*graph.diagnostics, *diagnostics]],
                                "duration": int(duration_seconds * 1e9), "changeSummary": summary}
    return {key: value for key, value in document.items() if value not in ({}, [], 0)}
