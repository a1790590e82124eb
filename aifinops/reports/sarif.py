"""`--sarif FILE`: SARIF 2.1.0 for GitHub code scanning, one run per tool, one rule per policy or check.

Written to GitHub's "SARIF support for code scanning":
- every rule has `help.text`, `help.markdown` and a `helpUri` (the policy's URL or checkov's guideline,
  else the tool's documentation), `properties.tags` naming `security` or `cost`, and `precision`;
  `security-severity` (GitHub's 0.0-10.0 scale) is set on security rules only, from their severity.
- each result's location is the program line that created the resource, relative to the checkout
  (`uriBaseId` %SRCROOT%, declared in `originalUriBaseIds`); a result whose resource has no known line
  is located at the project's Pulumi.yaml. `relatedLocations` point at the `Pulumi.<stack>.yaml` lines
  that set the value the finding is about, so a PR that changes only the stack config is annotated.
- `message.text` starts with the resource's name.
- `partialFingerprints.primaryLocationLineHash` hashes the tool, rule and resource URN (never the line or
  its text): two resources created on one line stay two alerts, and an alert survives edits above it.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Optional

from aifinops.graph import SourcePosition

from .cost_figures import cost_figures
from .model import SECURITY, Finding, Level, Report, Rule, Tool
from .stack_config_lines import ConfigLine, config_lines, lines_for, stack_config_path

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"
# GitHub ranks security alerts by this number: critical over 9.0, high 7.0-8.9, medium 4.0-6.9, low 0.1-3.9.
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "2.0"}
_PROBLEM_SEVERITY = {Level.ERROR: "error", Level.WARNING: "warning", Level.NOTE: "recommendation"}


def sarif_document(report: Report) -> dict[str, Any]:
    config_file = stack_config_path(report.project_root, report.graph.stack)
    stack_lines = config_lines(config_file) if config_file is not None else []
    document: dict[str, Any] = {"$schema": SARIF_SCHEMA, "version": "2.1.0",
                                "runs": [_run(report, tool, stack_lines) for tool in report.tools.values()]}
    if report.cost is not None:  # the cost change rides along in the log's property bag
        document["properties"] = {"aifinopsCost": cost_figures(report.cost)}
    return document


def _repository_root(report: Report) -> Optional[Path]:
    root = report.project_root
    if root is None:
        return None
    return next((d for d in (root, *root.parents) if (d / ".git").exists()), root)


def _run(report: Report, tool: Tool, stack_lines: list[ConfigLine]) -> dict[str, Any]:
    rule_ids = list(tool.rules)
    for finding in report.findings:  # a finding whose rule the tool did not declare still gets a rule
        if finding.tool == tool.name and finding.rule_id not in rule_ids:
            rule_ids.append(finding.rule_id)
    driver: dict[str, Any] = {"name": tool.name, "version": tool.version,
                              "rules": [_rule(tool, tool.rules.get(rule_id), rule_id) for rule_id in rule_ids]}
    if tool.information_uri:
        driver["informationUri"] = tool.information_uri
    results = [_result(report, f, rule_ids.index(f.rule_id), stack_lines)
               for f in report.findings if f.tool == tool.name]
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "automationDetails": {"id": f"aifinops/{tool.name}/{report.graph.project}/{report.graph.stack}/"},
        "invocations": [{"executionSuccessful": True}],
        "results": results,
    }
    root = _repository_root(report)
    if root is not None:
        run["originalUriBaseIds"] = {SRCROOT: {"uri": root.resolve().as_uri() + "/"}}
    return run


def _rule(tool: Tool, rule: Optional[Rule], rule_id: str) -> dict[str, Any]:
    rule = rule or Rule(id=rule_id, description=rule_id, level=Level.WARNING)
    description = rule.description or rule.id
    help_uri = rule.help_uri or tool.information_uri
    help_text = rule.help_text or (f"{description} See {help_uri} for how to fix it." if help_uri else description)
    markdown = f"**{rule.name or rule.id}**: {description}"
    if rule.help_text:
        markdown += f"\n\n{rule.help_text}"
    if help_uri:
        markdown += f"\n\n[Documentation]({help_uri})"
    entry: dict[str, Any] = {
        "id": rule.id,
        "shortDescription": {"text": description},
        "fullDescription": {"text": description},
        "help": {"text": help_text, "markdown": markdown},
        "defaultConfiguration": {"level": rule.level.value if rule.enabled else "none", "enabled": rule.enabled},
    }
    if rule.name:
        entry["name"] = rule.name
    if help_uri:
        entry["helpUri"] = help_uri
    properties: dict[str, Any] = {k: v for k, v in rule.properties.items() if v not in (None, "")}
    properties["tags"] = [rule.category or "policy", tool.kind.value]
    properties["precision"] = rule.precision
    properties["problem.severity"] = _PROBLEM_SEVERITY[rule.level]
    severity = SECURITY_SEVERITY.get(str(rule.properties.get("severity", "")).lower())
    if rule.category == SECURITY and severity:
        properties["security-severity"] = severity
    entry["properties"] = properties
    return entry


def _location(uri: str, line: int) -> dict[str, Any]:
    return {"artifactLocation": {"uri": uri, "uriBaseId": SRCROOT}, "region": {"startLine": max(1, line)}}


def _result(report: Report, finding: Finding, rule_index: int, stack_lines: list[ConfigLine]) -> dict[str, Any]:
    resource = report.resource(finding)
    source = report.source(finding) or SourcePosition("Pulumi.yaml", 1)
    logical = {"fullyQualifiedName": finding.urn, "kind": "resource"}
    if resource is not None:
        logical["name"] = resource.name
    result: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "level": finding.level.value,
        "message": {"text": _message(report, finding)},
        "locations": [{
            "physicalLocation": _location(report.repository_path(source), source.line),
            "logicalLocations": [logical] if finding.urn else [],
        }],
        "partialFingerprints": {"primaryLocationLineHash": primary_location_line_hash(finding)},
    }
    related = _related(report, finding, stack_lines)
    if related:
        result["relatedLocations"] = related
        # GitHub shows a related location where the message links to it by id.
        links = ", ".join(f"[{r['physicalLocation']['artifactLocation']['uri']}:"
                          f"{r['physicalLocation']['region']['startLine']}]({r['id']})" for r in related)
        result["message"]["text"] += f" (set in {links})"
    if finding.suppressed is not None:
        result["suppressions"] = [{"kind": "external", "justification": finding.suppressed}]
    properties = {k: v for k, v in finding.properties.items() if v not in (None, "")}
    if finding.label:
        properties["label"] = finding.label
    if properties:
        result["properties"] = properties
    return result


def _related(report: Report, finding: Finding, stack_lines: list[ConfigLine]) -> list[dict[str, Any]]:
    resource = report.resource(finding)
    root = _repository_root(report)
    if resource is None or root is None or not stack_lines:
        return []
    related = []
    for number, line in enumerate(lines_for(stack_lines, resource.inputs, finding.message), 1):
        path = Path(os.path.relpath(line.path.resolve(), root.resolve())).as_posix()
        related.append({"id": number, "physicalLocation": _location(path, line.line),
                        "message": {"text": f"{line.key} sets {line.value}"}})
    return related


def _message(report: Report, finding: Finding) -> str:
    """The resource's name first (what GitHub shows in the alert list), then what is wrong."""
    resource = report.resource(finding)
    name = f"{resource.name} ({resource.type})" if resource is not None else (finding.urn or "stack")
    return f"{name}: {finding.message}" if finding.message else name


def primary_location_line_hash(finding: Finding) -> str:
    """Stable across commits and line moves, distinct per resource: GitHub's `<hash>:<occurrence>` shape."""
    digest = hashlib.sha256(f"{finding.tool}\0{finding.rule_id}\0{finding.urn}".encode()).hexdigest()[:16]
    return f"{digest}:1"
