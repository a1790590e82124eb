"""`--json`: the PreviewDigest of `pulumi preview --json`, with findings added as diagnostics and the
policy violations also listed in a `policyViolations` array."""
from __future__ import annotations

from typing import Any

from aifinops.preview_output import preview_digest

from .model import Finding, Level, Report, ToolKind
from .text import finding_body, finding_heading

_DIAGNOSTIC_SEVERITY = {Level.ERROR: "error", Level.WARNING: "warning", Level.NOTE: "info"}


def diagnostic(report: Report, finding: Finding) -> dict[str, Any]:
    severity = "info" if finding.suppressed is not None else _DIAGNOSTIC_SEVERITY[finding.level]
    return {"urn": finding.urn, "prefix": f"{severity}: ",
            "message": "\n".join([finding_heading(report, finding), *finding_body(report, finding)]) + "\n",
            "severity": severity}


def policy_violation(report: Report, finding: Finding) -> dict[str, Any]:
    tool = report.tools[finding.tool]
    return {
        "policyPack": tool.name,
        "policyPackVersion": finding.properties.get("policyPackVersion", tool.version),
        "policy": finding.rule_id,
        "enforcementLevel": finding.properties.get("enforcementLevel", finding.label),
        "urn": finding.urn,
        "message": finding.properties.get("policyMessage", finding.message),
        "severity": finding.properties.get("severity", ""),
    }


def preview_document(report: Report) -> dict[str, Any]:
    document = preview_digest(report.graph, report.duration_seconds,
                              [diagnostic(report, f) for f in report.findings])
    document["policyViolations"] = [policy_violation(report, f) for f in report.of_kind(ToolKind.POLICY_PACK)]
    # Our extension: which packs ran, so a PR check can tell "no violations" from "no packs".
    document["policyPacks"] = [{"name": tool.name, "version": tool.version} for tool in report.tools.values()
                               if tool.kind == ToolKind.POLICY_PACK]
    return document
