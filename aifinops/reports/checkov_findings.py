"""checkov as a report source: one tool, one rule per check it ran, a finding per failed or suppressed
check on a resource, and a note per resource it could not scan (so nothing is dropped silently).

A failed check is an error (it fails the PR check), except ours (CKV_AIFINOPS_*), which take the
enforcement level the policy config gives the policy they mirror (advisory: reported, not failing). A
suppressed finding carries the component's reason.
"""
from __future__ import annotations

from aifinops.checkov.run import FAILED, SUPPRESSED, CheckovFinding, CheckovScan
from aifinops.policies.checkov_checks.aifinops_check_settings import CHECK_POLICIES

from .model import COST, SECURITY, Finding, Level, Report, Rule, Tool, ToolKind
from .policy_findings import LEVEL_OF_ENFORCEMENT
from .text import finding_body, finding_heading

TOOL_NAME = "checkov"
CHECKOV_URI = "https://www.checkov.io/"
NOT_SCANNED_RULE = "not-scanned"
MIRRORS_POLICY = "mirrorsPolicy"  # our checks (CKV_AIFINOPS_*) repeat a policy: the report counts the pair once


def add_checkov_scan(report: Report, scan: CheckovScan) -> Tool:
    tool = report.add_tool(Tool(TOOL_NAME, scan.checkov_version or "not run", ToolKind.SCANNER, CHECKOV_URI))
    for finding in scan.findings:
        if finding.check_id not in tool.rules:
            enforcement = scan.enforcement_levels.get(finding.check_id, "")
            tool.add_rule(Rule(id=finding.check_id, description=finding.check_name or finding.check_id,
                               level=LEVEL_OF_ENFORCEMENT.get(enforcement, Level.ERROR), help_uri=finding.guideline,
                               enabled=enforcement != "disabled",
                               properties={"framework": finding.framework, "severity": finding.severity.lower(),
                                           "enforcementLevel": enforcement,
                                           MIRRORS_POLICY: CHECK_POLICIES.get(finding.check_id, "")},
                               # checkov's own checks are security and compliance checks; ours mirror cost policies
                               category=COST if finding.check_id in CHECK_POLICIES else SECURITY))
    if scan.not_scanned:
        tool.add_rule(Rule(id=NOT_SCANNED_RULE, level=Level.NOTE,
                           description="Resources checkov did not scan: their type has no export mapping yet.",
                           help_text="Add the resource type to the checkov export mapping (aifinops/checkov/export.py) "
                                     "so its checks run, or check the resource by hand.",
                           help_uri=CHECKOV_URI, precision="very-high"))
    for finding in scan.findings:
        if finding.status in (FAILED, SUPPRESSED):
            report.add(_finding(finding, tool.rules[finding.check_id].level,
                                scan.enforcement_levels.get(finding.check_id) or finding.status))
    for skipped in scan.not_scanned:
        report.add(Finding(tool=TOOL_NAME, rule_id=NOT_SCANNED_RULE, level=Level.NOTE, urn=skipped.urn,
                           label="not scanned", message=f"{skipped.type} was not scanned by checkov: {skipped.reason}"))
    return tool


def _finding(finding: CheckovFinding, level: Level, label: str) -> Finding:
    message = "; ".join(finding.details) or finding.check_name
    suppressed = finding.status == SUPPRESSED
    return Finding(tool=TOOL_NAME, rule_id=finding.check_id, level=level, message=message, urn=finding.urn,
                   label=SUPPRESSED if suppressed else label, suppressed=finding.suppression_reason if suppressed else None,
                   properties={"checkovResource": finding.checkov_resource, "framework": finding.framework,
                               "guideline": finding.guideline, MIRRORS_POLICY: CHECK_POLICIES.get(finding.check_id, "")})


def checkov_sections(report: Report, scan: CheckovScan) -> list[str]:
    """The text output's 'checkov' block: counts, then each failed and suppressed check."""
    counts = (f"{scan.count('passed')} passed, {scan.count('failed')} failed, {scan.count('suppressed')} suppressed "
              f"over {sum(scan.scanned.values())} scanned resources")
    lines = [f"checkov {scan.checkov_version}: {counts}" if scan.checkov_version else f"checkov: {counts}"]
    for finding in report.findings:
        if finding.tool != TOOL_NAME or finding.rule_id == NOT_SCANNED_RULE:
            continue
        lines.append("    " + finding_heading(report, finding))
        lines += ["    " + line for line in finding_body(report, finding)]
    if scan.not_scanned:
        lines.append(f"    not scanned ({len(scan.not_scanned)}): "
                     + ", ".join(sorted({s.type for s in scan.not_scanned})))
    lines.append("")
    return lines
