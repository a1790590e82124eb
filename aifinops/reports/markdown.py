"""`--markdown FILE`: the PR comment, built around the change a reviewer approves.

In order: the verdict; the cost change against the base branch ("monthly cost will increase by $X
(+Y%)") with baseline, new and diff per component and the changed resources; each budget's headroom
(at the desired size and at maximum scale); the findings grouped by rule, blocking groups first, each
problem counted once (finding_groups.py), suppressed ones folded into <details>. File:line become links
to the commit when GitHub Actions' GITHUB_SERVER_URL, GITHUB_REPOSITORY and GITHUB_SHA are set. The
comment never exceeds GitHub's 65,536 characters: what does not fit is counted in a closing line.
"""
from __future__ import annotations

import os
from typing import Any, Iterable, Mapping, Optional

from aifinops.core.estimate.compare import ADDED, REMOVED
from aifinops.core.estimate.infracost_json import parse_amount
from aifinops.cost_rendering import change_sentence, signed_usd, usd
from aifinops.preview_output import display_type

from .finding_groups import Problem, RuleGroup, distinct_problems, rule_groups
from .model import Level, Report

COMMENT_LIMIT = 65_536  # GitHub's limit for an issue or PR comment
_RESERVE = 600  # kept free for the closing tags and the line saying what was left out
_MESSAGE_LIMIT = 600  # one finding's text at most
_MARKS = {ADDED: "added", REMOVED: "removed"}
NO_COMPONENT = "(stack)"


class _Comment:
    """Lines added while they fit under the limit; what does not fit is counted, never cut mid-line."""

    def __init__(self, limit: int) -> None:
        self.lines: list[str] = []
        self.size = 0
        self.limit = limit
        self.left_out = 0

    def add(self, *lines: str, required: bool = False, entry: bool = True) -> bool:
        """`entry`: the lines are one finding or table row (counted when left out), not a heading or a gap."""
        size = sum(len(line) + 1 for line in lines)
        if not required and (self.left_out or self.size + size > self.limit - _RESERVE):
            self.left_out += 1 if entry else 0
            return False
        self.lines += lines
        self.size += size
        return True

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def markdown_document(report: Report, limit: int = COMMENT_LIMIT,
                      environment: Optional[Mapping[str, str]] = None) -> str:
    environment = os.environ if environment is None else environment
    problems = distinct_problems(report)
    comment = _Comment(limit)
    comment.add(f"### aifinops preview `{report.graph.project}/{report.graph.stack}`: {_verdict(problems)}", "",
                f"{len(report.graph.custom_resources())} cloud resources checked by "
                f"{', '.join(f'`{t.name}` {t.version} ({len(t.rules)} rules)' for t in report.tools.values()) or 'no tools'}.",
                "", required=True)
    if report.cost is not None:
        _cost_section(comment, report.cost)
        _budget_section(comment, report.cost.get("budgets") or [])
    _findings_section(comment, report, problems, environment)
    if comment.left_out:
        comment.add(f"_The comment is cut at GitHub's {limit:,}-character limit: {comment.left_out} more "
                    f"finding{'s' if comment.left_out != 1 else ''} and table rows left out; the SARIF and JUnit "
                    f"reports list every finding._", required=True)
    return comment.text()


def _verdict(problems: list[Problem]) -> str:
    blocking = sum(1 for p in problems if p.blocking)
    if blocking:
        return f"❌ {blocking} blocking finding{'s' if blocking != 1 else ''}"
    warnings = [p for p in problems if not p.suppressed and p.finding.level != Level.NOTE]
    return "✅ passed" + (" with warnings" if warnings else "")


# -- cost -------------------------------------------------------------------------------------------
def _amount(value: Any) -> float:
    return parse_amount(value) or 0.0


def _resources(document: Mapping[str, Any], breakdown: str) -> list[dict[str, Any]]:
    return [r for project in document.get("projects", []) for r in ((project.get(breakdown) or {}).get("resources") or [])]


def _by_component(resources: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for resource in resources:
        name = resource.get("component") or NO_COMPONENT
        totals[name] = totals.get(name, 0.0) + _amount(resource.get("monthlyCost"))
    return totals


def _cost_section(comment: _Comment, document: Mapping[str, Any]) -> None:
    total = _amount(document.get("totalMonthlyCost"))
    maximum = _amount(document.get("maxTotalMonthlyCost"))
    compared = document.get("pastTotalMonthlyCost") is not None
    comment.add("#### Cost", required=True)
    if compared:
        comment.add(f"**{change_sentence(document)}**: {usd(_amount(document['pastTotalMonthlyCost']))} → "
                    f"{usd(total)} a month.", required=True)
    else:
        comment.add(f"**Monthly cost estimate: {usd(total)}** (no baseline: run with `--compare-to BASE.json`).",
                    required=True)
    if maximum > total + 0.005:
        past_max = document.get("pastMaxTotalMonthlyCost")
        was = f" (base branch {usd(_amount(past_max))})" if past_max is not None else ""
        comment.add("", f"At maximum scale (every auto scaling group and node pool at its maximum): "
                        f"**{usd(maximum)}** a month{was}.", required=True)
    unbounded = document.get("unboundedResources") or []
    if unbounded:
        comment.add("", f"**No maximum** for {', '.join(_escape(r['name']) for r in unbounded[:10])}: nothing caps "
                        f"how far {'they scale' if len(unbounded) != 1 else 'it scales'}, so no figure bounds the bill.",
                    required=True)
    unpriced = len(document.get("unpriced") or []) + len(document.get("needsUsage") or [])
    if unpriced:
        comment.add("", f"{unpriced} resource{'s are' if unpriced != 1 else ' is'} not priced and not in the total "
                        f"(see `aifinops cost`).", required=True)
    comment.add("", required=True)
    new = _by_component(_resources(document, "breakdown"))
    if not compared:
        rows = [(name, value) for name, value in sorted(new.items(), key=lambda item: (-item[1], item[0])) if value]
        if rows:
            comment.add("| Component | Monthly |", "|---|---:|", required=True)
            for name, value in rows:
                comment.add(f"| {_escape(name)} | {usd(value)} |")
            comment.add("", required=True)
        return
    old = _by_component(_resources(document, "pastBreakdown"))
    comment.add("| Component | Baseline | New | Diff |", "|---|---:|---:|---:|", required=True)
    names = sorted(set(old) | set(new), key=lambda n: (-abs(new.get(n, 0.0) - old.get(n, 0.0)), n))
    for name in names:
        before, after = old.get(name, 0.0), new.get(name, 0.0)
        if abs(after - before) >= 0.005:
            comment.add(f"| {_escape(name)} | {usd(before)} | {usd(after)} | {signed_usd(after - before)} |")
    comment.add(f"| **Total** | {usd(_amount(document['pastTotalMonthlyCost']))} | {usd(total)} | "
                f"**{signed_usd(_amount(document['diffTotalMonthlyCost']))}** |", "", required=True)
    changed = _resources(document, "diff")
    if changed:
        comment.add(f"<details><summary>{len(changed)} resource{'s' if len(changed) != 1 else ''} changed cost"
                    f"</summary>", "", "| Resource | Cost component | Baseline | New | Diff |",
                    "|---|---|---:|---:|---:|", required=True)
        for entry in changed:
            what = f"`{display_type(entry.get('resourceType', ''))}` **{_escape(entry['name'])}**"
            change = _MARKS.get(entry.get("change", ""), "changed")
            comment.add(f"| {what} ({change}) | | {usd(_amount(entry['pastMonthlyCost']))} | "
                        f"{usd(_amount(entry['newMonthlyCost']))} | {signed_usd(_amount(entry['monthlyCost']))} |")
            for component in entry.get("costComponents") or []:
                comment.add(f"| | {_escape(component['name'])} | {usd(_amount(component['pastMonthlyCost']))} | "
                            f"{usd(_amount(component['newMonthlyCost']))} | "
                            f"{signed_usd(_amount(component['monthlyCost']))} |")
        comment.add("", "</details>", "", required=True)


def _budget_section(comment: _Comment, budgets: list[Mapping[str, Any]]) -> None:
    if not budgets:
        return
    comment.add("#### Budgets", "", "| Budget | Covers | Limit | Estimate | Headroom | At maximum | Headroom at maximum |",
                "|---|---|---:|---:|---:|---:|---:|", required=True)
    for budget in budgets:
        limit = budget.get("monthlyLimit")
        if limit is None:
            comment.add(f"| {_escape(budget['name'])} | {_escape(budget['covers'])} | not a USD cost budget | "
                        f"{usd(_amount(budget['monthlyCost']))} | | {usd(_amount(budget['maxMonthlyCost']))} | |")
            continue
        comment.add(f"| {_escape(budget['name'])} | {_escape(budget['covers'])} | {usd(_amount(limit))} | "
                    f"{usd(_amount(budget['monthlyCost']))} | {_headroom(budget['headroom'])} | "
                    f"{usd(_amount(budget['maxMonthlyCost']))} | {_headroom(budget['maxHeadroom'])} |")
    comment.add("", required=True)
    for budget in budgets:
        missing = budget.get("notPriced") or []
        if missing:
            comment.add(f"- {_escape(budget['name'])}: {len(missing)} covered resource{'s' if len(missing) != 1 else ''} "
                        f"not priced, so not in its estimate: {_escape(', '.join(missing[:10]))}"
                        f"{' …' if len(missing) > 10 else ''}")
    comment.add("", required=True)


def _headroom(value: Any) -> str:
    amount = _amount(value)
    return f"**{usd(-amount)} over**" if amount < 0 else usd(amount)


# -- findings ---------------------------------------------------------------------------------------
def _counts(problems: list[Problem]) -> str:
    blocking = sum(1 for p in problems if p.blocking)
    suppressed = sum(1 for p in problems if p.suppressed)
    notes = sum(1 for p in problems if not p.suppressed and p.finding.level == Level.NOTE)
    advisory = len(problems) - blocking - suppressed - notes
    return (f"{blocking} blocking, {advisory} advisory, {suppressed} suppressed"
            + (f", {notes} note{'s' if notes != 1 else ''}" if notes else ""))


def _findings_section(comment: _Comment, report: Report, problems: list[Problem],
                      environment: Mapping[str, str]) -> None:
    if not problems:
        return
    comment.add(f"#### Findings: {_counts(problems)}", "", required=True)
    active = [p for p in problems if not p.suppressed]
    for group in rule_groups(active):
        _group(comment, report, group, environment)
    suppressed = [p for p in problems if p.suppressed]
    if suppressed:
        comment.add(f"<details><summary>{len(suppressed)} suppressed finding{'s' if len(suppressed) != 1 else ''}"
                    f"</summary>", "", required=True)
        for group in rule_groups(suppressed):
            _group(comment, report, group, environment)
        comment.add("</details>", "", required=True)


def _group(comment: _Comment, report: Report, group: RuleGroup, environment: Mapping[str, str]) -> None:
    tool = report.tools[group.tool]
    rule = tool.rules.get(group.rule_id)
    blocking = group.count(blocking=True)
    levels = {p.finding.level for p in group.problems}
    mark = ("❌" if blocking else "🔇" if all(p.suppressed for p in group.problems)
            else "ℹ️" if levels == {Level.NOTE} else "⚠️")
    count = len(group.problems)
    detail = f"{blocking} blocking" if blocking else f"{count}"
    comment.add(f"##### {mark} `{group.rule_id}` ({tool.name}): {count} resource{'s' if count != 1 else ''}"
                f"{f', {detail}' if blocking and blocking != count else ''}", "", entry=False)
    if rule is not None and rule.description:
        comment.add(_escape(rule.description), "", entry=False)
    for problem in group.problems:
        comment.add(_item(report, problem, environment))
    comment.add("", entry=False)


def _item(report: Report, problem: Problem, environment: Mapping[str, str]) -> str:
    finding = problem.finding
    resource = report.resource(finding)
    what = f"`{display_type(resource.type)}` **{_escape(resource.name)}**" if resource else f"`{finding.urn or 'stack'}`"
    source = report.source(finding)
    where = ""
    if source is not None:
        path = report.repository_path(source)
        link = source_link(path, source.line, environment)
        where = f" at [{path}:{source.line}]({link})" if link else f" at `{path}:{source.line}`"
    label = f"[{finding.label or finding.level.value}] "
    message = " ".join(finding.message.split())
    if len(message) > _MESSAGE_LIMIT:
        message = message[:_MESSAGE_LIMIT] + " …"
    also = f" _(also {', '.join(problem.also_reported_by)})_" if problem.also_reported_by else ""
    suppressed = f" _(suppressed: {_escape(finding.suppressed or '')})_" if problem.suppressed else ""
    return f"- {label}{what}{where}: {_escape(message)}{also}{suppressed}"


def source_link(path: str, line: int, environment: Mapping[str, str]) -> Optional[str]:
    """The file at the PR's commit on GitHub, when running in GitHub Actions."""
    server, repository, sha = (environment.get(k, "") for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_SHA"))
    if not (server and repository and sha):
        return None
    return f"{server.rstrip('/')}/{repository}/blob/{sha}/{path}#L{line}"


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
