"""Findings as the Pulumi CLI prints policy violations under a preview."""
from __future__ import annotations

from .model import Level, Finding, Report, ToolKind


def finding_heading(report: Report, finding: Finding) -> str:
    """`[mandatory]  aifinops-cost v0.0.1  required-cost-tags  (aws:s3/bucket:Bucket: data)`"""
    tool = report.tools[finding.tool]
    label = finding.label or finding.level.value
    return f"[{label}]  {tool.name} v{tool.version}  {finding.rule_id}  ({report.resource_label(finding)})"


def finding_body(report: Report, finding: Finding) -> list[str]:
    """The rule's description, what is wrong, and where in the program the resource was made."""
    rule = report.rule(finding)
    description = rule.description if rule is not None else ""
    lines = [description] if description else []
    # A checkov finding without details has its check's title as its message: print the title once.
    lines += [line for line in finding.message.splitlines() if line != description] or ([] if lines else [""])
    source = report.source(finding)
    if source is not None:
        lines.append(f"at {source}")
    if finding.suppressed is not None:
        lines.append(f"suppressed: {finding.suppressed}")
    return lines


# The marks the CLI puts before each pack in its Policies section.
PACK_FAILED, PACK_WARNED, PACK_PASSED = "❌", "⚠️", "✅"


def policy_heading(finding: Finding, severity: str) -> str:
    """`- [mandatory] [severity: high]  required-cost-tags  (aws:s3/bucket:Bucket: data)`, as the CLI prints it."""
    label = finding.label or finding.level.value
    return f"- [{label}]{f' [severity: {severity}]' if severity else ''}  {finding.rule_id}"


def policy_sections(report: Report) -> list[str]:
    """The CLI's `Policies:` section: each pack that ran with its verdict, then its violations."""
    packs = [t for t in report.tools.values() if t.kind == ToolKind.POLICY_PACK]
    if not packs:
        return []
    lines = ["Policies:"]
    violations = report.of_kind(ToolKind.POLICY_PACK)
    for pack in packs:
        found = [f for f in violations if f.tool == pack.name]
        failed = any(f.level == Level.ERROR for f in found)
        mark = PACK_FAILED if failed else PACK_WARNED if found else PACK_PASSED
        lines.append(f"    {mark} {pack.name}@v{pack.version}")
        for finding in found:
            severity = finding.properties.get("severity", "")
            lines.append(f"        {policy_heading(finding, severity)}  ({report.resource_label(finding)})")
            lines += ["          " + line for line in finding_body(report, finding)]
    lines.append("")
    return lines