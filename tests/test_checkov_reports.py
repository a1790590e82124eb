"""checkov findings in every report format, end to end through `aifinops preview --checkov` (one checkov run)."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import jsonschema
import pytest

from aifinops.checkov.export import NotScanned
from aifinops.checkov.run import FAILED, PASSED, SUPPRESSED, CheckovFinding, CheckovScan
from aifinops.cli import main
from aifinops.graph import ResourceGraph
from aifinops.reports.checkov_findings import NOT_SCANNED_RULE, add_checkov_scan
from aifinops.reports.model import Level, Report
from tests.conftest import REPO_ROOT, tagged_config, write_project

PROGRAM = """
import pulumi, pulumi_aws as aws
from aifinops.components.checkov_suppressions import suppress_checkov
from aifinops.components.tagging import register_cost_tags

register_cost_tags(pulumi.Config().require_object("costTags"))
suppress_checkov(component_type="test:index:Queue", resource_type="aws:sqs/queue:Queue", check_id="CKV_AWS_27",
                 reason="the queue carries only job ids, nothing worth a KMS key")
class Queue(pulumi.ComponentResource):
    def __init__(self, name):
        super().__init__("test:index:Queue", name)
        aws.sqs.Queue(name, opts=pulumi.ResourceOptions(parent=self))
Queue("jobs")
aws.sns.Topic("alerts")
aws.ssm.Parameter("setting", type="String", value="x")
"""
SCHEMA = REPO_ROOT / "tests" / "data" / "sarif-schema-2.1.0.json"  # OASIS SARIF 2.1.0, shipped with the tests


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("reports")
    project = write_project(root / "project", PROGRAM, tagged_config())
    files = {kind: root / f"report.{kind}" for kind in ("sarif", "junit", "markdown")}
    code = main(["preview", "--cwd", str(project), "--skip-policy-packs", "--checkov",
                 *(arg for kind, path in files.items() for arg in (f"--{kind}", str(path)))])
    program_line = next(n for n, text in enumerate(PROGRAM.splitlines(), 1) if 'aws.sns.Topic("alerts")' in text)
    return code, {kind: path.read_text() for kind, path in files.items()}, program_line


def test_a_failed_checkov_check_fails_the_preview(outputs):
    code, _, _ = outputs
    assert code == 1


def test_sarif_has_a_checkov_run_with_results_at_the_program_line(outputs):
    _, files, line = outputs
    document = json.loads(files["sarif"])
    jsonschema.Draft4Validator(json.loads(SCHEMA.read_text())).validate(document)
    run = next(r for r in document["runs"] if r["tool"]["driver"]["name"] == "checkov")
    assert run["tool"]["driver"]["version"] == "3.3.30"
    topic = next(r for r in run["results"] if r["ruleId"] == "CKV_AWS_26")  # SNS topic without KMS
    assert topic["level"] == "error" and "suppressions" not in topic
    region = topic["locations"][0]["physicalLocation"]
    assert region["artifactLocation"]["uri"].endswith("stacks/__main__.py") and region["region"]["startLine"] == line
    assert topic["locations"][0]["logicalLocations"][0]["fullyQualifiedName"].endswith("aws:sns/topic:Topic::alerts")
    queue = next(r for r in run["results"] if r["ruleId"] == "CKV_AWS_27")
    assert queue["suppressions"] == [{"kind": "external",
                                      "justification": "the queue carries only job ids, nothing worth a KMS key"}]
    not_scanned = [r for r in run["results"] if r["ruleId"] == NOT_SCANNED_RULE]
    assert len(not_scanned) == 1 and not_scanned[0]["level"] == "note"
    assert "aws:ssm/parameter:Parameter" in not_scanned[0]["message"]["text"]
    rules = {rule["id"] for rule in run["tool"]["driver"]["rules"]}
    assert {"CKV_AWS_26", "CKV_AWS_27", "CKV_AIFINOPS_1"} <= rules  # passed checks are listed as rules too


def test_junit_counts_the_failure_and_the_suppression(outputs):
    _, files, _ = outputs
    suite = next(s for s in ET.fromstring(files["junit"]) if s.get("name") == "checkov")
    failures = [c.get("name") for c in suite if c.find("failure") is not None]
    skipped = [c.get("name") for c in suite if c.find("skipped") is not None]
    assert any(name.startswith("CKV_AWS_26 ") for name in failures)
    assert any(name.startswith("CKV_AWS_27 ") for name in skipped)
    assert not any(name.startswith("CKV_AIFINOPS_1 ") for name in failures)  # the cost tags are there


def test_markdown_lists_checkov_findings_with_their_resource_and_line(outputs):
    _, files, line = outputs
    text = files["markdown"]
    assert "`checkov` 3.3.30 (" in text
    assert "##### ❌ `CKV_AWS_26` (checkov): 1 resource\n" in text
    assert f"- [failed] `aws:sns:Topic` **alerts** at `stacks/__main__.py:{line}`: " in text
    assert "_(suppressed: the queue carries only job ids, nothing worth a KMS key)_" in text


def test_report_model_levels_for_each_kind_of_checkov_result():
    graph = ResourceGraph("proj", "dev", {})
    finding = dict(check_name="name", framework="terraform_plan", checkov_resource="aws_x.y", urn="urn:x", source=None)
    scan = CheckovScan(findings=[CheckovFinding("CKV_AWS_1", status=PASSED, **finding),
                                 CheckovFinding("CKV_AWS_2", status=FAILED, details=["why"], **finding),
                                 CheckovFinding("CKV_AWS_3", status=SUPPRESSED, suppression_reason="because", **finding),
                                 CheckovFinding("CKV_AIFINOPS_1", status=FAILED, **finding)],
                       not_scanned=[NotScanned("urn:z", "aws:ssm/parameter:Parameter", "no mapping")],
                       checkov_version="3.3.30", enforcement_levels={"CKV_AIFINOPS_1": "advisory"})
    report = Report(graph, 0.0)
    tool = add_checkov_scan(report, scan)
    assert set(tool.rules) == {"CKV_AWS_1", "CKV_AWS_2", "CKV_AWS_3", "CKV_AIFINOPS_1", NOT_SCANNED_RULE}
    by_rule = {f.rule_id: f for f in report.findings}
    assert set(by_rule) == {"CKV_AWS_2", "CKV_AWS_3", "CKV_AIFINOPS_1", NOT_SCANNED_RULE}  # passed: no finding
    assert by_rule["CKV_AWS_2"].blocking and by_rule["CKV_AWS_2"].message == "why"
    assert by_rule["CKV_AWS_3"].suppressed == "because" and not by_rule["CKV_AWS_3"].blocking
    # Our check follows the enforcement level the policy config gives its policy: advisory reports only.
    assert by_rule["CKV_AIFINOPS_1"].level == Level.WARNING and by_rule["CKV_AIFINOPS_1"].label == "advisory"
    assert by_rule[NOT_SCANNED_RULE].level == Level.NOTE and report.exit_code == 1
    assert [f.rule_id for f in report.blocking] == ["CKV_AWS_2"]


def test_the_text_output_prints_a_checks_title_once():
    """A failed check without details had its title printed twice (the rule's description and the message)."""
    from aifinops.reports.checkov_findings import checkov_sections

    graph = ResourceGraph("proj", "dev", {})
    common = dict(framework="terraform_plan", checkov_resource="aws_x.y", urn="urn:x", source=None)
    scan = CheckovScan(findings=[
        CheckovFinding("CKV_AWS_26", check_name="Ensure all data stored in the SNS topic is encrypted", status=FAILED,
                       **common),
        CheckovFinding("CKV_AWS_2", check_name="Ensure ALB protocol is HTTPS", status=FAILED, details=["port 80"],
                       **common)], checkov_version="3.3.30")
    report = Report(graph, 0.0)
    add_checkov_scan(report, scan)
    text = "\n".join(checkov_sections(report, scan))
    assert text.count("Ensure all data stored in the SNS topic is encrypted") == 1
    assert text.count("Ensure ALB protocol is HTTPS") == 1 and "    port 80" in text
