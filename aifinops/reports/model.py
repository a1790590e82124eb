"""The report every output format renders: findings from any tool, about resources of one preview.

A Finding is one thing a tool found about a resource (a policy violation, a checkov failure, a cost
line worth flagging), with the resource's URN and the line of the user's program that created it. Each
tool declares itself and its rules once (Tool, Rule), so formats that list rules (SARIF) list all of
them, not only those that fired. New sources add a Tool and Findings; no format needs to change.
"""
from __future__ import annotations

import enum
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

from aifinops.core.errors import EXIT_OK, EXIT_POLICY_VIOLATION
from aifinops.graph import Resource, ResourceGraph, SourcePosition


class Level(str, enum.Enum):
    """SARIF's levels: ERROR fails the check, WARNING and NOTE are reported only."""

    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


class ToolKind(str, enum.Enum):
    POLICY_PACK = "policy-pack"  # a CrossGuard pack
    SCANNER = "scanner"  # e.g. checkov
    ESTIMATOR = "estimator"  # e.g. the cost estimate


@dataclass(frozen=True)
class Rule:
    id: str
    description: str
    level: Level  # the level its findings have unless configured otherwise
    name: str = ""
    help_text: str = ""  # how to fix it
    help_uri: str = ""
    enabled: bool = True  # False for a rule configured off (e.g. a disabled policy)
    properties: Mapping[str, Any] = field(default_factory=dict)
    category: str = ""  # SECURITY or COST: what code scanning files the rule under ("" when neither is known)
    precision: str = "high"  # SARIF/GitHub: very-high | high | medium | low (how often a finding is right)


SECURITY, COST = "security", "cost"


@dataclass
class Tool:
    name: str
    version: str
    kind: ToolKind
    information_uri: str = ""
    rules: dict[str, Rule] = field(default_factory=dict)

    def add_rule(self, rule: Rule) -> None:
        self.rules[rule.id] = rule


@dataclass(frozen=True)
class Finding:
    tool: str  # Tool.name
    rule_id: str  # Rule.id
    level: Level
    message: str  # what is wrong with this resource (the rule's description is rendered separately)
    urn: str = ""
    label: str = ""  # the tool's own word for the level, e.g. "mandatory", "advisory", "FAILED"
    suppressed: Optional[str] = None  # the justification, when the finding was deliberately suppressed
    properties: Mapping[str, Any] = field(default_factory=dict)  # tool-specific extras

    @property
    def blocking(self) -> bool:
        return self.level == Level.ERROR and self.suppressed is None


@dataclass
class Report:
    graph: ResourceGraph
    duration_seconds: float
    tools: dict[str, Tool] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    # The cost estimate's JSON (core.estimate.infracost_json, with budgets and any --compare-to change).
    cost: Optional[dict[str, Any]] = None

    def add_tool(self, tool: Tool) -> Tool:
        return self.tools.setdefault(tool.name, tool)

    def add(self, finding: Finding) -> None:
        if finding.tool not in self.tools:
            raise ValueError(f"finding from unregistered tool {finding.tool!r}")
        self.findings.append(finding)

    def rule(self, finding: Finding) -> Optional[Rule]:
        return self.tools[finding.tool].rules.get(finding.rule_id)

    def resource(self, finding: Finding) -> Optional[Resource]:
        return self.graph.get(finding.urn)

    def source(self, finding: Finding) -> Optional[SourcePosition]:
        """The program line that created the finding's resource (or its nearest ancestor that has one)."""
        resource = self.resource(finding)
        while resource is not None:
            if resource.source is not None:
                return resource.source
            resource = self.graph.get(resource.parent)
        return None

    def of_kind(self, kind: ToolKind) -> list[Finding]:
        return [f for f in self.findings if self.tools[f.tool].kind == kind]

    @property
    def blocking(self) -> list[Finding]:
        return [f for f in self.findings if f.blocking]

    @property
    def exit_code(self) -> int:
        return EXIT_POLICY_VIOLATION if self.blocking else EXIT_OK

    # -- paths for code-scanning tools ------------------------------------------------------------
    @property
    def project_root(self) -> Optional[Path]:
        """The directory holding Pulumi.yaml: the base of SourcePosition paths."""
        if not self.graph.program_dir:
            return None
        start = Path(self.graph.program_dir).resolve()
        return next((d for d in (start, *start.parents) if (d / "Pulumi.yaml").exists()
                     or (d / "Pulumi.yml").exists()), None)

    def repository_path(self, source: SourcePosition) -> str:
        """The source file relative to the git checkout (what GitHub code scanning expects), else the project."""
        root = self.project_root
        if root is None:
            return source.file
        repository = next((d for d in (root, *root.parents) if (d / ".git").exists()), root)
        return Path(os.path.relpath(root / source.file, repository)).as_posix()

    def resource_label(self, finding: Finding) -> str:
        resource = self.resource(finding)
        if resource is None:
            return finding.urn or "(stack)"
        return f"{resource.type}: {resource.name}"
