"""Findings as a reviewer counts them: each problem once, grouped by the rule that found it.

A problem is one rule on one resource. Our checkov checks (CKV_AIFINOPS_*) mirror a policy (their
`mirrorsPolicy` property): when the policy reports the same resource, the check's finding is the same
problem seen twice, and is folded into the policy's. A rule that reports one resource twice counts once.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .checkov_findings import MIRRORS_POLICY
from .model import Finding, Level, Report, ToolKind


@dataclass
class Problem:
    finding: Finding  # the one shown
    also_reported_by: list[str] = field(default_factory=list)  # "checkov CKV_AIFINOPS_1", ...

    @property
    def blocking(self) -> bool:
        return self.finding.blocking

    @property
    def suppressed(self) -> bool:
        return self.finding.suppressed is not None


@dataclass
class RuleGroup:
    tool: str
    rule_id: str
    problems: list[Problem]

    def count(self, *, blocking: bool = False, suppressed: bool = False) -> int:
        return sum(1 for p in self.problems if (p.blocking if blocking else True) and p.suppressed == suppressed)

    @property
    def rank(self) -> tuple[int, int, str, str]:
        """Blocking groups first, then warnings, then notes; the most findings first."""
        levels = {p.finding.level for p in self.problems}
        tier = 0 if any(p.blocking for p in self.problems) else 1 if Level.WARNING in levels or Level.ERROR in levels else 2
        return tier, -len(self.problems), self.tool, self.rule_id


def distinct_problems(report: Report) -> list[Problem]:
    """Every finding once: a mirrored check's twin and repeats folded into the first report of the problem."""
    policy_findings = {(f.rule_id, f.urn): f for f in report.of_kind(ToolKind.POLICY_PACK)}
    problems: dict[tuple[str, str, str, bool], Problem] = {}
    for finding in report.findings:
        twin_of = finding.properties.get(MIRRORS_POLICY)
        if twin_of and (twin_of, finding.urn) in policy_findings:
            policy = policy_findings[(twin_of, finding.urn)]
            key = (policy.tool, policy.rule_id, policy.urn, policy.suppressed is not None)
            problem = problems.setdefault(key, Problem(policy))
            problem.also_reported_by.append(f"{finding.tool} {finding.rule_id}")
            continue
        key = (finding.tool, finding.rule_id, finding.urn, finding.suppressed is not None)
        problems.setdefault(key, Problem(finding))
    return list(problems.values())


def rule_groups(problems: list[Problem]) -> list[RuleGroup]:
    groups: dict[tuple[str, str], RuleGroup] = {}
    for problem in problems:
        finding = problem.finding
        groups.setdefault((finding.tool, finding.rule_id), RuleGroup(finding.tool, finding.rule_id, [])).problems.append(problem)
    for group in groups.values():
        group.problems.sort(key=lambda p: (not p.blocking, p.finding.level != Level.WARNING, p.finding.urn))
    return sorted(groups.values(), key=lambda g: g.rank)
