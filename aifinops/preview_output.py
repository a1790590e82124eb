"""Renders a preview as pulumi preview does: a tree for people, a PreviewDigest for tools."""
from __future__ import annotations

from typing import Any, Iterable

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
    """`sections`: lines printed after the resource tree, where pulumi prints policy violations."""
    count = len(steps_resources(graph))
    lines = [f"Previewing update ({graph.stack}):", "", *tree_lines(graph), "", *diagnostic_lines(graph), *sections]
    if graph.stack_outputs:
        lines.append("Outputs:")
        width = max(len(k) for k in graph.stack_outputs) + 1
        for key, value in graph.stack_outputs.items():
            lines.append(f"    {key + ':':<{width}} {blind(value)!r}")
        lines.append("")
    lines += ["Resources:", f"    + {count} to create", "", f"Duration: {duration_seconds:.1f}s"]
    return "\n".join(lines)


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
    """What pulumi preview counts and lists as steps: everything but default providers."""
    return [r for r in graph if not (r.is_provider and r.name.startswith("default"))]


def preview_digest(graph: ResourceGraph, duration_seconds: float,
                   diagnostics: Iterable[dict[str, Any]] = ()) -> dict[str, Any]:
    """The `pulumi preview --json` document (PreviewDigest), secrets blinded."""
    steps = []
    for resource in graph:
        new_state = {
            "urn": resource.urn, "custom": resource.custom, "type": resource.type,
            "inputs": blind(resource.inputs), "outputs": blind(resource.outputs),
            "parent": resource.parent, "provider": resource.provider,
            "dependencies": resource.dependencies, "propertyDependencies": resource.property_dependencies,
        }
        if resource.custom and resource.id:
            new_state["id"] = resource.id
        if resource.protect:
            new_state["protect"] = True
        steps.append({"op": "create", "urn": resource.urn, "provider": resource.provider, "newState": new_state})
    return {
        "config": graph.config,
        "steps": steps,
        "diagnostics": [*graph.diagnostics, *diagnostics],
        "duration": int(duration_seconds * 1e9),
        "changeSummary": {"create": len(steps_resources(graph))},
    }
