"""The PR comment (`--markdown`): the cost change, budget headroom, findings grouped and counted once, the
GitHub links and the 65,536-character cap."""
from __future__ import annotations

import json

from aifinops.cli import main
from aifinops.graph import Resource, ResourceGraph, SourcePosition
from aifinops.reports.checkov_findings import MIRRORS_POLICY
from aifinops.reports.markdown import COMMENT_LIMIT, markdown_document
from aifinops.reports.model import Finding, Level, Report, Rule, Tool, ToolKind
from tests.conftest import tagged_config, write_project

STACK_URN = "urn:pulumi:dev::proj::pulumi:pulumi:Stack::proj-dev"
GITHUB = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/infra", "GITHUB_SHA": "0123abc"}


def urn(name: str, type_token: str = "aws:s3/bucket:Bucket") -> str:
    return f"urn:pulumi:dev::proj::{type_token}::{name}"


def report_with(names: list[str]) -> Report:
    graph = ResourceGraph("proj", "dev", {})
    graph.add(Resource(STACK_URN, "pulumi:pulumi:Stack", "proj-dev", custom=False))
    for line, name in enumerate(names, 3):
        graph.add(Resource(urn(name), "aws:s3/bucket:Bucket", name, custom=True, parent=STACK_URN,
                           source=SourcePosition("stacks/__main__.py", line)))
    report = Report(graph, 0.0)
    pack = report.add_tool(Tool("aifinops-cost", "0.0.1", ToolKind.POLICY_PACK))
    pack.add_rule(Rule("required-cost-tags", "Resources carry the cost tags.", Level.ERROR))
    pack.add_rule(Rule("s3-lifecycle-required", "Buckets have a lifecycle.", Level.WARNING))
    checkov = report.add_tool(Tool("checkov", "3.3.30", ToolKind.SCANNER))
    checkov.add_rule(Rule("CKV_AIFINOPS_1", "Cost tags (checkov).", Level.ERROR))
    checkov.add_rule(Rule("CKV_AWS_21", "Versioning.", Level.ERROR))
    return report


def tags_finding(name: str) -> Finding:
    return Finding("aifinops-cost", "required-cost-tags", Level.ERROR, "missing required tags Project", urn(name),
                   label="mandatory")


def twin(name: str) -> Finding:
    return Finding("checkov", "CKV_AIFINOPS_1", Level.ERROR, "missing tags", urn(name), label="failed",
                   properties={MIRRORS_POLICY: "required-cost-tags"})


def test_a_checkov_twin_of_a_policy_is_counted_once():
    report = report_with(["data", "logs"])
    for name in ("data", "logs"):
        report.add(tags_finding(name))
        report.add(twin(name))
    text = markdown_document(report, environment={})
    assert "❌ 2 blocking findings" in text  # not 4
    assert "#### Findings: 2 blocking, 0 advisory, 0 suppressed" in text
    assert "##### ❌ `required-cost-tags` (aifinops-cost): 2 resources" in text
    assert "`CKV_AIFINOPS_1` (checkov)" not in text
    assert text.count("_(also checkov CKV_AIFINOPS_1)_") == 2


def test_findings_are_grouped_by_rule_blocking_first_with_counts():
    report = report_with(["a", "b", "c"])
    for name in ("a", "b", "c"):
        report.add(Finding("aifinops-cost", "s3-lifecycle-required", Level.WARNING, "no lifecycle", urn(name),
                           label="advisory"))
    report.add(Finding("checkov", "CKV_AWS_21", Level.ERROR, "no versioning", urn("b"), label="failed"))
    report.add(Finding("checkov", "CKV_AWS_21", Level.ERROR, "no versioning", urn("b"), label="failed"))  # a repeat
    text = markdown_document(report, environment={})
    assert "#### Findings: 1 blocking, 3 advisory, 0 suppressed" in text
    blocking = text.index("##### ❌ `CKV_AWS_21` (checkov): 1 resource\n")
    advisory = text.index("##### ⚠️ `s3-lifecycle-required` (aifinops-cost): 3 resources\n")
    assert blocking < advisory
    assert "- [advisory] `aws:s3:Bucket` **a** at `stacks/__main__.py:3`: no lifecycle" in text


def test_only_suppressed_findings_pass_without_warnings_and_are_folded():
    report = report_with(["data"])
    report.add(Finding("checkov", "CKV_AWS_21", Level.ERROR, "no versioning", urn("data"), label="suppressed",
                       suppressed="logs need no versions"))
    text = markdown_document(report, environment={})
    assert "`proj/dev`: ✅ passed\n" in text and "with warnings" not in text
    assert "#### Findings: 0 blocking, 0 advisory, 1 suppressed" in text
    folded = text[text.index("<details><summary>1 suppressed finding</summary>"):text.index("</details>")]
    assert "`CKV_AWS_21`" in folded and "_(suppressed: logs need no versions)_" in folded


def test_file_and_line_link_to_the_commit_in_github_actions():
    report = report_with(["data"])
    report.add(tags_finding("data"))
    linked = markdown_document(report, environment=GITHUB)
    assert "at [stacks/__main__.py:3](https://github.com/acme/infra/blob/0123abc/stacks/__main__.py#L3)" in linked
    plain = markdown_document(report, environment={"GITHUB_SERVER_URL": "https://github.com"})
    assert "at `stacks/__main__.py:3`" in plain and "](https://" not in plain


def test_the_comment_is_capped_at_githubs_limit_and_says_what_it_left_out():
    names = [f"bucket-{n:05d}" for n in range(3000)]
    report = report_with(names)
    for name in names:
        report.add(tags_finding(name))
    text = markdown_document(report, environment=GITHUB)
    assert len(text) <= COMMENT_LIMIT
    assert "❌ 3000 blocking findings" in text  # the counts cover every finding, shown or not
    assert "#### Findings: 3000 blocking, 0 advisory, 0 suppressed" in text
    shown = text.count("- [mandatory] ")
    assert 100 < shown < 3000
    assert f"{3000 - shown} more findings and table rows left out" in text.splitlines()[-1]
    small = markdown_document(report, limit=5000, environment={})
    assert len(small) <= 5000 and "left out" in small


def test_a_suppressed_section_cut_by_the_cap_still_closes_its_details():
    names = [f"bucket-{n:05d}" for n in range(800)]
    report = report_with(names)
    for name in names:
        report.add(Finding("checkov", "CKV_AWS_21", Level.ERROR, "x" * 200, urn(name), label="suppressed",
                           suppressed="accepted"))
    text = markdown_document(report, environment={})
    assert len(text) <= COMMENT_LIMIT and text.count("<details>") == text.count("</details>") == 1


BOX = """
import pulumi_aws as aws
aws.ec2.Instance("box", instance_type="{instance_type}", ami="ami-1", tags={{"CostCenter": "ml", "Project": "p",
                 "Environment": "dev"}})
aws.budgets.Budget("team", budget_type="COST", limit_amount="1000", limit_unit="USD", time_unit="MONTHLY")
"""


def test_the_comment_leads_with_the_cost_change_and_budget_headroom(tmp_path, capsys):
    base = write_project(tmp_path / "base", BOX.format(instance_type="g5.xlarge"), tagged_config())
    assert main(["cost", "--cwd", str(base), "--json"]) == 0
    baseline = tmp_path / "base.json"
    baseline.write_text(capsys.readouterr().out)
    pr = write_project(tmp_path / "pr", BOX.format(instance_type="g6e.xlarge"), tagged_config())
    comment = tmp_path / "comment.md"
    main(["preview", "--cwd", str(pr), "--skip-policy-packs", "--compare-to", str(baseline),
          "--markdown", str(comment)])
    text = comment.read_text()
    # 730 h x ($1.861 - $1.006) = $624.15 more, of $735.18: +84.9%
    assert "**Monthly cost will increase by $624.15 (+84.9%)**: $735.18 → $1,359.33 a month." in text
    assert "| (stack) | $735.18 | $1,359.33 | +$624.15 |" in text
    assert "| | g6e.xlarge on-demand | $0.00 | $1,358.53 | +$1,358.53 |" in text
    assert "| team | all spend | $1,000.00 | $1,359.33 | **$359.33 over** | $1,359.33 | **$359.33 over** |" in text
    assert text.index("#### Cost") < text.index("#### Budgets")
    assert json.loads(baseline.read_text())["totalMonthlyCost"] == "735.18"


def test_a_resource_without_a_maximum_is_called_out():
    report = report_with([])
    report.cost = {"totalMonthlyCost": "10", "maxTotalMonthlyCost": "10", "projects": [],
                   "unboundedResources": [{"name": "gpu-pool", "type": "kubernetes:karpenter.sh/v1:NodePool"}]}
    text = markdown_document(report, environment={})
    assert "**No maximum** for gpu-pool: nothing caps how far it scales, so no figure bounds the bill." in text
