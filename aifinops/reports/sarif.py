"""`--sarif FILE`: SARIF 2.1.0 for GitHub code scanning, one run per tool, one rule per policy or check.

Each result is located at the line of the user's program that created the resource (paths relative to
the git checkout, as code scanning expects), with the resource's URN as its logical location; a result
whose resource has no known source line is located at the project's Pulumi.yaml.
"""
from __future__ import annotations

import hashlib
from typing import Any, Optional

from aifinops.graph import SourcePosition

from .model import Finding, Report, Rule, Tool

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
# GitHub ranks code-scanning alerts by this number (its documented CVSS-like bands).
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "2.0"}


def sarif_document(report: Report) -> dict[str, Any]:
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0",
            "runs": [_run(report, tool) for tool in report.tools.values()]}


def _run(report: Report, tool: Tool) -> dict[str, Any]:
    rule_ids = list(tool.rules)
    for finding in report.findings:  # a finding whose rule the tool did not declare still gets a rule
        if finding.tool == tool.name and finding.rule_id not in rule_ids:
            rule_ids.append(finding.rule_id)
    driver: dict[str, Any] = {"name": tool.name, "version": tool.version,
                              "rules": [_rule(tool.rules.get(rule_id), rule_id) for rule_id in rule_ids]}
    if tool.information_uri:
        driver["informationUri"] = tool.information_uri
    results = [_result(report, f, rule_ids.index(f.rule_id)) for f in report.findings if f.tool == tool.name]
    return {
        "tool": {"driver": driver},
        "automationDetails": {"id": f"aifinops/{tool.name}/{report.graph.project}/{report.graph.stack}/"},
        "invocations": [{"executionSuccessful": True}],
        "results": results,
    }


def _rule(rule: Optional[Rule], rule_id: str) -> dict[str, Any]:
    if rule is None:
        return {"id": rule_id, "shortDescription": {"text": rule_id}}
    entry: dict[str, Any] = {
        "id": rule.id,
        "shortDescription": {"text": rule.description or rule.id},
        "fullDescription": {"text": rule.description or rule.id},
        "defaultConfiguration": {"level": rule.level.value if rule.enabled else "none", "enabled": rule.enabled},
    }
    if rule.name:
        entry["name"] = rule.name
    if rule.help_text:
        entry["help"] = {"text": rule.help_text}
    if rule.help_uri:
        entry["helpUri"] = rule.help_uri
    properties = {k: v for k, v in rule.properties.items() if v not in (None, "")}
    severity = SECURITY_SEVERITY.get(str(rule.properties.get("severity", "")))
    if severity:
        properties["security-severity"] = severity
    if properties:
        entry["properties"] = properties
    return entry


def _result(report: Report, finding: Finding, rule_index: int) -> dict[str, Any]:
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
            "physicalLocation": {"artifactLocation": {"uri": report.repository_path(source)},
                                 "region": {"startLine": max(1, source.line)}},
            "logicalLocations": [logical] if finding.urn else [],
        }],
        "partialFingerprints": {"aifinopsFinding/v1": _fingerprint(finding)},
    }
    if finding.suppressed is not None:
        result["suppressions"] = [{"kind": "external", "justification": finding.suppressed}]
    properties = {k: v for k, v in finding.properties.items() if v not in (None, "")}
    if finding.label:
        properties["label"] = finding.label
    if properties:
        result["properties"] = properties
    return result


def _message(report: Report, finding: Finding) -> str:
    label = report.resource_label(finding)
    return f"{finding.message} [{label}]" if finding.message else label


def _fingerprint(finding: Finding) -> str:
    """Stable across runs and line moves: the same rule on the same resource is the same alert."""
    return hashlib.sha256(f"{finding.tool}\0{finding.rule_id}\0{finding.urn}".encode()).hexdigest()


