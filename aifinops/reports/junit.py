"""`--junit FILE`: JUnit XML for CI dashboards. One suite per tool, one case per rule and resource.

A blocking finding is a failure, a suppressed one is skipped, an advisory one passes with its text in
system-out; a rule with no findings is one passing case, so dashboards count what was checked. The cost
estimate's totals and change are the properties of an "aifinops cost estimate" suite.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET

from .cost_figures import cost_figures
from .model import Finding, Report
from .text import finding_body, finding_heading


def junit_document(report: Report) -> str:
    suites = ET.Element("testsuites", name=f"aifinops preview {report.graph.project}/{report.graph.stack}")
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    for tool in report.tools.values():
        suite = ET.SubElement(suites, "testsuite", name=tool.name)
        properties = ET.SubElement(suite, "properties")
        ET.SubElement(properties, "property", name="version", value=tool.version)
        ET.SubElement(properties, "property", name="kind", value=tool.kind.value)
        counts = {"tests": 0, "failures": 0, "skipped": 0}
        findings = [f for f in report.findings if f.tool == tool.name]
        rule_ids = list(tool.rules) + [f.rule_id for f in findings if f.rule_id not in tool.rules]
        for rule_id in dict.fromkeys(rule_ids):
            of_rule = [f for f in findings if f.rule_id == rule_id]
            if not of_rule:
                ET.SubElement(suite, "testcase", name=rule_id, classname=f"{tool.name}.{rule_id}")
                counts["tests"] += 1
            for finding in of_rule:
                _case(suite, report, finding, counts)
        suite.set("tests", str(counts["tests"]))
        suite.set("failures", str(counts["failures"]))
        suite.set("errors", "0")
        suite.set("skipped", str(counts["skipped"]))
        for key in totals:
            totals[key] += counts[key]
    if report.cost is not None:  # the cost change, as a suite of properties (no cases: the packs gate on it)
        cost = ET.SubElement(suites, "testsuite", name="aifinops cost estimate", tests="0", failures="0", errors="0",
                             skipped="0")
        properties = ET.SubElement(cost, "properties")
        for name, value in cost_figures(report.cost).items():
            ET.SubElement(properties, "property", name=name, value=value)
    for key, value in totals.items():
        suites.set(key, str(value))
    suites.set("errors", "0")
    suites.set("time", f"{report.duration_seconds:.3f}")
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _case(suite: ET.Element, report: Report, finding: Finding, counts: dict[str, int]) -> None:
    case = ET.SubElement(suite, "testcase", name=f"{finding.rule_id} ({report.resource_label(finding)})",
                         classname=f"{finding.tool}.{finding.rule_id}")
    source = report.source(finding)
    if source is not None:
        case.set("file", report.repository_path(source))
        case.set("line", str(source.line))
    text = "\n".join([finding_heading(report, finding), *finding_body(report, finding)])
    counts["tests"] += 1
    if finding.suppressed is not None:
        ET.SubElement(case, "skipped", message=f"suppressed: {finding.suppressed}")
        counts["skipped"] += 1
    elif finding.blocking:
        failure = ET.SubElement(case, "failure", message=finding.message.splitlines()[0] if finding.message else "",
                                type=finding.label or finding.level.value)
        failure.text = text
        counts["failures"] += 1
    else:
        ET.SubElement(case, "system-out").text = text
