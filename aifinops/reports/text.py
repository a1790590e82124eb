"""Findings as the Pulumi CLI prints policy violations under a preview."""
from __future__ import annotations

from .model import Finding, Report, ToolKind


def finding_heading(report: Report, finding: Finding) -> str:
    """`[mandatory]  aifinops-cost v0.0.1  required-cost-tags  (aws:s3/bucket:Bucket: data)`"""
    tool = report.tools[finding.tool]
    label = finding.label or finding.level.value
    return f"[{label}]  {tool.name} v{tool.version}  {finding.rule_id}  ({report.resource_label(finding)})"


def finding_body(report: Report, finding: Finding) -> list[str]:
    """The rule's description, what is wrong, and where in the program the resource was made."""
    rule = report.rule(finding)
    lines = [rule.description] if rule is not None and rule.description else []
    lines += finding.message.splitlines() or [""]
    source = report.source(finding)
    if source is not None:
        lines.append(f"at {source}")
    if finding.suppressed is not None:
        lines.append(f"suppressed: {finding.suppressed}")
    return lines


def policy_sections(report: Report) -> list[str]:
    """The 'Policy Violations:' and 'Policy Packs run:' blocks (empty when no pack ran)."""
    packs = [t for t in report.tools.values() if t.kind == ToolKind.POLICY_PACK]
    if not packs:
        return []
    lines: list[str] = []
    violations = report.of_kind(ToolKind.POLICY_PACK)
    if violations:
        lines.append("Policy Violations:")
        for finding in violations:
            lines.append("    " + finding_heading(report, finding))
            lines += ["    " + line for line in finding_body(report, finding)]
            lines.append("")
    width = max(len("Name"), *(len(t.name) for t in packs)) + 2
    lines += ["Policy Packs run:", f"    {'Name':<{width}}Version"]
    lines += [f"    {t.name:<{width}}{t.version}" for t in packs]
    lines.append("")
    return lines
