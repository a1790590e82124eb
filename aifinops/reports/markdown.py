"""`--markdown FILE`: a short PR comment: verdict, counts by tool and level, then each finding with its
resource and the program line that created it."""
from __future__ import annotations

from .model import Finding, Report

_PREFERRED_ORDER = ("mandatory", "advisory")


def markdown_document(report: Report) -> str:
    graph = report.graph
    resources = len(graph.custom_resources())
    blocking = len(report.blocking)
    verdict = (f"❌ {blocking} blocking finding{'s' if blocking != 1 else ''}" if blocking
               else "✅ passed" + (" with warnings" if report.findings else ""))
    lines = [f"### aifinops preview `{graph.project}/{graph.stack}`: {verdict}", "",
             f"{resources} cloud resources checked by {', '.join(f'`{t.name}`' for t in report.tools.values()) or 'no tools'}.",
             ""]
    labels = _labels(report)
    if report.tools:
        lines += ["| Tool | Version | Rules | " + " | ".join(labels) + " |",
                  "|---|---|---|" + "---|" * len(labels)]
        for tool in report.tools.values():
            counts = [sum(1 for f in report.findings if f.tool == tool.name and _label(f) == label) for label in labels]
            lines.append(f"| {tool.name} | {tool.version} | {len(tool.rules)} | "
                         + " | ".join(str(c) for c in counts) + " |")
        lines.append("")
    if report.findings:
        lines += ["#### Findings", ""]
        for number, finding in enumerate(report.findings, 1):
            lines.append(_item(report, finding, number))
        lines.append("")
    return "\n".join(lines)


def _label(finding: Finding) -> str:
    return finding.label or finding.level.value


def _labels(report: Report) -> list[str]:
    present = list(dict.fromkeys(_label(f) for f in report.findings))
    return [*_PREFERRED_ORDER, *(label for label in present if label not in _PREFERRED_ORDER)]


def _item(report: Report, finding: Finding, number: int) -> str:
    resource = report.resource(finding)
    what = f"`{resource.type}` **{_escape(resource.name)}**" if resource else f"`{finding.urn or 'stack'}`"
    source = report.source(finding)
    where = f" at `{report.repository_path(source)}:{source.line}`" if source else ""
    suppressed = f" _(suppressed: {_escape(finding.suppressed)})_" if finding.suppressed is not None else ""
    message = _escape(" ".join(finding.message.split()))
    return (f"{number}. **[{_label(finding)}] `{finding.rule_id}`** ({finding.tool}): {what}{where}{suppressed}  \n"
            f"   {message}")


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
