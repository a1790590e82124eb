"""SARIF as GitHub code scanning wants it ("SARIF support for code scanning"): validated against the OASIS
2.1.0 schema shipped in tests/data, and one assertion per rule of GitHub's page that we follow."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from aifinops.checkov.run import FAILED, CheckovFinding, CheckovScan
from aifinops.cli import main
from aifinops.graph import ResourceGraph
from aifinops.reports.checkov_findings import CHECKOV_URI, add_checkov_scan
from aifinops.reports.model import Report
from aifinops.reports.sarif import SECURITY_SEVERITY, sarif_document
from tests.conftest import write_project

SCHEMA_FILE = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"
PROGRAM = """
import pulumi, pulumi_aws as aws
config = pulumi.Config()
aws.ec2.Instance("gpu", instance_type=config.require("gpuType"), ami="ami-1")
for name in ("left", "right"): aws.s3.Bucket(name)
aws.budgets.Budget("team", budget_type="COST", limit_amount=config.require("budgetUsd"), limit_unit="USD",
                   time_unit="MONTHLY")
"""
CONFIG = {"aws:region": "us-east-1", "testproj:gpuType": "p4d.24xlarge", "testproj:budgetUsd": "100"}
POLICY_CONFIG = {"approved-gpu-instance-types": {"approvedInstanceTypes": ["g5.xlarge"]}}


def run_preview(tmp_path: Path, program: str = PROGRAM) -> dict:
    root = write_project(tmp_path / "repo", program, CONFIG)
    (tmp_path / "repo" / ".git").mkdir(exist_ok=True)
    policy_config = tmp_path / "policy.json"
    policy_config.write_text(json.dumps(POLICY_CONFIG))
    out = tmp_path / "check.sarif"
    assert main(["preview", "-C", str(root), "--policy-pack-config", str(policy_config), "--sarif", str(out)]) == 1
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def sarif(tmp_path_factory) -> dict:
    return run_preview(tmp_path_factory.mktemp("sarif"))


def runs(document: dict) -> dict[str, dict]:
    return {run["tool"]["driver"]["name"]: run for run in document["runs"]}


def result(document: dict, rule_id: str, name: str) -> dict:
    return next(r for run in document["runs"] for r in run["results"]
                if r["ruleId"] == rule_id and r["locations"][0]["logicalLocations"][0]["name"] == name)


def rules(document: dict) -> list[dict]:
    return [rule for run in document["runs"] for rule in run["tool"]["driver"]["rules"]]


def test_the_shipped_schema_is_oasis_sarif_2_1_0_and_the_output_validates(sarif):
    schema = json.loads(SCHEMA_FILE.read_text())  # in the repository: never skipped
    assert schema["id"].startswith("https://docs.oasis-open.org/sarif/sarif/v2.1.0/")
    jsonschema.Draft4Validator.check_schema(schema)
    jsonschema.Draft4Validator(schema).validate(sarif)
    assert {"aifinops-cost", "aifinops-security"} <= set(runs(sarif))


def test_every_rule_has_help_text_help_markdown_and_a_help_uri(sarif):
    for rule in rules(sarif):
        assert rule["help"]["text"] and rule["help"]["markdown"], rule["id"]
        assert rule["helpUri"].startswith("https://"), rule["id"]


def test_security_severity_is_set_on_security_rules_only(sarif):
    by_run = runs(sarif)
    security = by_run["aifinops-security"]["tool"]["driver"]["rules"]
    assert all("security-severity" in r["properties"] for r in security if r["properties"].get("severity"))
    encryption = next(r for r in security if r["id"] == "s3-bucket-server-side-encryption")
    assert encryption["properties"]["security-severity"] == SECURITY_SEVERITY[encryption["properties"]["severity"]]
    cost = by_run["aifinops-cost"]["tool"]["driver"]["rules"]
    assert cost and not [r["id"] for r in cost if "security-severity" in r["properties"]]


def test_tags_separate_security_from_cost_and_precision_is_set(sarif):
    by_run = runs(sarif)
    for rule in by_run["aifinops-security"]["tool"]["driver"]["rules"]:
        assert "security" in rule["properties"]["tags"] and "cost" not in rule["properties"]["tags"]
    for rule in by_run["aifinops-cost"]["tool"]["driver"]["rules"]:
        assert "cost" in rule["properties"]["tags"] and "security" not in rule["properties"]["tags"]
    assert {r["properties"]["precision"] for r in rules(sarif)} <= {"very-high", "high", "medium", "low"}


def test_two_resources_made_on_one_line_are_two_alerts(sarif):
    left, right = (result(sarif, "s3-bucket-server-side-encryption", n) for n in ("left", "right"))
    assert left["locations"][0]["physicalLocation"]["region"] == right["locations"][0]["physicalLocation"]["region"]
    hashes = {r["partialFingerprints"]["primaryLocationLineHash"] for r in (left, right)}
    assert len(hashes) == 2


def test_fingerprints_are_stable_when_the_program_moves(sarif, tmp_path):
    moved = run_preview(tmp_path, "# a comment and a blank line above everything\n\n" + PROGRAM)

    def fingerprints(document: dict) -> dict:
        return {(r["ruleId"], r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]):
                (r["partialFingerprints"]["primaryLocationLineHash"], r["locations"][0]["physicalLocation"]["region"])
                for run in document["runs"] for r in run["results"]}

    before, after = fingerprints(sarif), fingerprints(moved)
    assert set(before) == set(after)
    for key in before:
        assert before[key][0] == after[key][0]
        assert before[key][1]["startLine"] + 2 == after[key][1]["startLine"]


def test_paths_are_relative_to_srcroot_declared_in_original_uri_base_ids(sarif):
    for run in sarif["runs"]:
        assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"].startswith("file:///")
        assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"].endswith("/repo/")
        for found in run["results"]:
            artifact = found["locations"][0]["physicalLocation"]["artifactLocation"]
            assert artifact == {"uri": "stacks/__main__.py", "uriBaseId": "%SRCROOT%"}


def test_related_locations_point_at_the_stack_config_line_that_set_the_value(sarif, tmp_path):
    lines = (Path(sarif["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"][len("file://"):])
             / "stacks" / "Pulumi.dev.yaml").read_text().splitlines()
    gpu_line = next(n for n, text in enumerate(lines, 1) if "gpuType" in text)
    budget_line = next(n for n, text in enumerate(lines, 1) if "budgetUsd" in text)
    gpu = result(sarif, "approved-gpu-instance-types", "gpu")
    (related,) = gpu["relatedLocations"]
    assert related["physicalLocation"] == {"artifactLocation": {"uri": "stacks/Pulumi.dev.yaml",
                                                                "uriBaseId": "%SRCROOT%"},
                                           "region": {"startLine": gpu_line}}
    assert related["message"]["text"] == "testproj:gpuType sets p4d.24xlarge"
    assert f"[stacks/Pulumi.dev.yaml:{gpu_line}]({related['id']})" in gpu["message"]["text"]
    budget = result(sarif, "monthly-cost-within-budget", "team")
    assert [r["physicalLocation"]["region"]["startLine"] for r in budget["relatedLocations"]] == [budget_line]
    untagged = result(sarif, "required-cost-tags", "left")  # about tags no config line set
    assert "relatedLocations" not in untagged


def test_the_message_starts_with_the_resource_name(sarif):
    for run in sarif["runs"]:
        for found in run["results"]:
            name = found["locations"][0]["logicalLocations"][0]["name"]
            assert found["message"]["text"].startswith(f"{name} ("), found["message"]["text"]


def test_checkov_rules_link_their_guideline_and_fall_back_to_checkov_docs():
    common = dict(framework="terraform_plan", checkov_resource="aws_s3_bucket.b", urn="urn:b", source=None,
                  status=FAILED, details=["why"])
    guideline = "https://docs.prismacloud.io/en/enterprise-edition/policy-reference/aws-policies/s3-16"
    scan = CheckovScan(findings=[CheckovFinding("CKV_AWS_21", check_name="versioning", guideline=guideline, **common),
                                 CheckovFinding("CKV_AWS_18", check_name="access logs", **common),
                                 CheckovFinding("CKV_AIFINOPS_1", check_name="cost tags", **common)],
                       checkov_version="3.3.30")
    report = Report(ResourceGraph("proj", "dev", {}), 0.0)
    add_checkov_scan(report, scan)
    (run,) = sarif_document(report)["runs"]
    by_id = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}
    assert by_id["CKV_AWS_21"]["helpUri"] == guideline and guideline in by_id["CKV_AWS_21"]["help"]["markdown"]
    assert by_id["CKV_AWS_18"]["helpUri"] == CHECKOV_URI
    assert "security" in by_id["CKV_AWS_21"]["properties"]["tags"]
    assert "cost" in by_id["CKV_AIFINOPS_1"]["properties"]["tags"]  # ours mirror a cost policy
    assert "security-severity" not in by_id["CKV_AIFINOPS_1"]["properties"]
