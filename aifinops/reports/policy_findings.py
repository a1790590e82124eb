"""Policy packs as a report source: each pack is a tool, each policy a rule, each violation a finding."""
from __future__ import annotations

from aifinops.policy_runner import PolicyRemediation, PolicyRun, PolicyViolation

from .model import COST, SECURITY, Finding, Level, Report, Rule, Tool, ToolKind

# What an enforcement level means for the check: mandatory fails it, advisory is reported.
LEVEL_OF_ENFORCEMENT = {"mandatory": Level.ERROR, "remediate": Level.ERROR, "advisory": Level.WARNING,
                        "disabled": Level.NOTE}
POLICY_PACK_DOCS = "https://www.pulumi.com/docs/iac/packages-and-automation/crossguard/"


def add_policy_run(report: Report, run: PolicyRun) -> None:
    for pack in run.packs:
        tool = report.add_tool(Tool(pack.name, pack.version, ToolKind.POLICY_PACK, POLICY_PACK_DOCS))
        settings = run.config.get(pack.name, {})
        for policy in pack.policies:
            level = settings[policy.name].enforcement_level if policy.name in settings else policy.enforcement_level
            tool.add_rule(Rule(
                id=policy.name, description=policy.description, level=LEVEL_OF_ENFORCEMENT[level],
                name=policy.display_name, help_text=policy.remediation_steps, help_uri=policy.url,
                enabled=level != "disabled",
                properties={"enforcementLevel": level, "severity": policy.severity,
                            "policyType": "stack" if policy.is_stack_policy else "resource"},
                category=pack_category(pack.name), precision="very-high"))
    for violation in run.violations:
        report.add(policy_finding(violation))
    for remediation in getattr(run, "remediations", []):
        report.add(remediation_finding(remediation))


def pack_category(pack_name: str) -> str:
    """A pack named for security (aifinops-security) holds security rules, one named for cost cost rules; a
    pack named for neither is filed under neither."""
    name = pack_name.lower()
    return SECURITY if "security" in name else COST if "cost" in name else ""


def remediation_finding(remediation: PolicyRemediation) -> Finding:
    """A remediation is reported, never blocking: the CLI prints it as a `[remediate]` event."""
    changed = sorted(key for key in {*remediation.before, *remediation.after}
                     if remediation.before.get(key) != remediation.after.get(key))
    return Finding(
        tool=remediation.policy_pack, rule_id=remediation.policy, level=Level.NOTE,
        message=f"remediated: {', '.join(changed) or 'no property changed'}", urn=remediation.urn, label="remediate",
        properties={"policyPackVersion": remediation.policy_pack_version, "enforcementLevel": "remediate",
                    "policyMessage": f"{remediation.description}\nremediated: {', '.join(changed)}"})


def policy_finding(violation: PolicyViolation) -> Finding:
    return Finding(
        tool=violation.policy_pack, rule_id=violation.policy,
        level=LEVEL_OF_ENFORCEMENT.get(violation.enforcement_level, Level.WARNING),
        message=violation.detail, urn=violation.urn, label=violation.enforcement_level,
        properties={"policyPackVersion": violation.policy_pack_version, "enforcementLevel": violation.enforcement_level,
                    "severity": violation.severity, "policyMessage": violation.message})
