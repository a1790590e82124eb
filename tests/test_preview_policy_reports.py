"""`aifinops preview` with policy packs: exit codes, the CLI's violation text, and the PR-check reports."""
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from aifinops.cli import main
from tests.conftest import REPO_ROOT, write_project

SARIF_SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())
# Line 3 makes an untagged bucket, line 4 a GPU instance of a type that is not approved.
VIOLATING = """\
import pulumi_aws as aws

aws.s3.Bucket("data")
aws.ec2.Instance("gpu", instance_type="p3.2xlarge", ami="ami-1")
"""
# Only a resource type no policy looks at: nothing to report.
QUIET = """\
import pulumi_aws as aws

aws.iam.RolePolicyAttachment("attach", role="r", policy_arn="arn:aws:iam::aws:policy/ReadOnlyAccess")
"""
REGION = {"aws:region": "us-east-1"}


@pytest.fixture
def project(tmp_path):
    def make(program: str, config=None) -> Path:
        return write_project(tmp_path / "repo" / "infra", program, config or REGION)
    return make


def test_mandatory_violation_exits_1_and_prints_like_the_cli(project, capsys):
    root = project(VIOLATING)
    assert main(["preview", "-C", str(root)]) == 1
    out = capsys.readouterr().out
    tree, rest = out.split("Policies:\n")
    assert "aws:s3:Bucket" in tree
    assert "    ❌ aifinops-cost@v0.0.1\n" in rest and "    ✅ aifinops-security@v0.0.1\n" not in rest
    assert "        - [mandatory] [severity: high]  required-cost-tags  (aws:s3/bucket:Bucket: data)\n" \
           "          Every taggable AWS resource carries the required cost-allocation tags, with non-empty values.\n" \
           "          missing required tags CostCenter, Project, Environment" in rest
    assert "          at stacks/__main__.py:3\n" in rest
    assert "- [mandatory] [severity: high]  approved-gpu-instance-types  (aws:ec2/instance:Instance: gpu)" in rest
    assert "aifinops-security@v0.0.1" in rest
    assert rest.index("aifinops-security@v0.0.1") < rest.index("Resources:")


def test_advisory_violations_are_printed_and_exit_0(project, tmp_path, capsys):
    root = project(VIOLATING)
    config = tmp_path / "advisory.json"
    config.write_text(json.dumps({"all": "advisory"}))
    assert main(["preview", "-C", str(root), "--policy-pack-config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "- [advisory] [severity: high]  required-cost-tags" in out and "[mandatory]" not in out
    assert "    ⚠️ aifinops-cost@v0.0.1" in out


def test_no_findings_exits_0(project, capsys):
    assert main(["preview", "-C", str(project(QUIET))]) == 0
    out = capsys.readouterr().out
    assert "    ✅ aifinops-cost@v0.0.1" in out and "- [" not in out


def test_one_pack_with_its_config_and_counts_that_must_match(project, tmp_path, capsys):
    root = project(VIOLATING)
    config = tmp_path / "cost.json"
    config.write_text(json.dumps({"required-cost-tags": {"enforcementLevel": "advisory", "requiredTags": ["Team"]}}))
    cost = str(REPO_ROOT / "policies" / "cost")
    assert main(["preview", "-C", str(root), "--policy-pack", cost, "--policy-pack-config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "- [advisory] [severity: high]  required-cost-tags" in out and "missing required tag Team" in out
    assert "aifinops-security" not in out  # only the pack asked for
    assert main(["preview", "-C", str(root), "--policy-pack", cost, "--policy-pack", cost,
                 "--policy-pack-config", str(config)]) == 2
    assert "number of \"--policy-pack-config\" flags must match" in capsys.readouterr().err


@pytest.mark.parametrize("content, expected", [
    ("{not json", "not valid JSON"),
    ('{"required-cost-tags": "sometimes"}', "'sometimes' is not a valid enforcement level"),
    ('{"required-cost-tags": {"requiredTags": "CostCenter"}}',
     "error: validating policy config: aifinops-cost 0.0.1  required-cost-tags: requiredTags: Invalid type. Expected: array, given: string"),
])
def test_invalid_policy_config_exits_2_with_a_clear_message(project, tmp_path, capsys, content, expected):
    config = tmp_path / "config.json"
    config.write_text(content)
    assert main(["preview", "-C", str(project(QUIET)), "--policy-pack-config", str(config)]) == 2
    assert expected in capsys.readouterr().err


def test_unknown_policy_names_in_config_are_warned_about(project, tmp_path, capsys):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"required-cost-tag": "advisory"}))
    assert main(["preview", "-C", str(project(QUIET)), "--policy-pack-config", str(config)]) == 0
    assert "names policy 'required-cost-tag', which no policy pack that ran defines" in capsys.readouterr().err


def test_a_crashing_pack_exits_2(project, tmp_path, capsys):
    pack = tmp_path / "crashing"
    pack.mkdir()
    (pack / "PulumiPolicy.yaml").write_text(f"runtime:\n  name: python\n  options:\n    virtualenv: {REPO_ROOT / '.venv'}\n")
    (pack / "__main__.py").write_text(
        "import os\nfrom pulumi_policy import PolicyPack, ResourceValidationPolicy\n"
        "PolicyPack('crashing', [ResourceValidationPolicy('boom', 'crashes', lambda args, report: os._exit(9))])\n")
    assert main(["preview", "-C", str(project(QUIET)), "--policy-pack", str(pack)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: policy pack 'crashing'") and "crashed (exit code 9) during Analyze" in err


def test_reports(project, tmp_path, capsys):
    root = project(VIOLATING)
    out = tmp_path / "out"
    code = main(["preview", "-C", str(root), "--json", "--sarif", str(out / "check.sarif"),
                 "--junit", str(out / "junit.xml"), "--markdown", str(out / "summary.md")])
    assert code == 1
    digest = json.loads(capsys.readouterr().out)
    ours = {"required-cost-tags", "approved-gpu-instance-types"}

    # --json: PreviewDigest + diagnostics + policyViolations
    assert {"config", "steps", "diagnostics", "duration", "changeSummary", "policyViolations"} <= set(digest)
    violations = [v for v in digest["policyViolations"] if v["policy"] in ours]
    assert {(v["policy"], v["urn"].rsplit("::", 1)[1]) for v in violations} == {
        ("required-cost-tags", "data"), ("required-cost-tags", "gpu"), ("approved-gpu-instance-types", "gpu")}
    for violation in violations:
        assert set(violation) == {"policyPack", "policyPackVersion", "policy", "enforcementLevel", "urn", "message",
                                  "severity"}
        assert violation["policyPack"] == "aifinops-cost" and violation["enforcementLevel"] == "mandatory"
        assert violation["severity"] == "high" and violation["message"].count("\n") == 1  # description + detail
    assert len(digest["diagnostics"]) == len(digest["policyViolations"])
    diagnostic = next(d for d in digest["diagnostics"] if "approved-gpu-instance-types" in d["message"])
    assert diagnostic["severity"] == "error" and diagnostic["urn"].endswith("::gpu")

    # --sarif: valid SARIF 2.1.0, one rule per policy, results at the program line
    sarif = json.loads((out / "check.sarif").read_text())
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(sarif)
    runs = {run["tool"]["driver"]["name"]: run for run in sarif["runs"]}
    cost_rules = [rule["id"] for rule in runs["aifinops-cost"]["tool"]["driver"]["rules"]]
    assert {"required-cost-tags", "approved-gpu-instance-types"} <= set(cost_rules)
    assert len(cost_rules) == len(set(cost_rules))
    results = {(r["ruleId"], r["locations"][0]["logicalLocations"][0]["name"]): r
               for r in runs["aifinops-cost"]["results"]}
    gpu = results[("approved-gpu-instance-types", "gpu")]
    assert gpu["level"] == "error" and cost_rules[gpu["ruleIndex"]] == "approved-gpu-instance-types"
    location = gpu["locations"][0]["physicalLocation"]
    assert location == {"artifactLocation": {"uri": "stacks/__main__.py", "uriBaseId": "%SRCROOT%"},
                        "region": {"startLine": 4}}
    assert results[("required-cost-tags", "data")]["locations"][0]["physicalLocation"]["region"]["startLine"] == 3

    # --junit: one failure per mandatory violation, passing cases for the rest
    suites = ET.parse(out / "junit.xml").getroot()
    assert suites.tag == "testsuites"
    mandatory = [v for v in digest["policyViolations"] if v["enforcementLevel"] == "mandatory"]
    assert int(suites.get("failures")) == len(mandatory) == len(suites.findall(".//failure"))
    cost = next(s for s in suites if s.get("name") == "aifinops-cost")
    failing = next(c for c in cost if c.get("name") == "approved-gpu-instance-types (aws:ec2/instance:Instance: gpu)")
    assert failing.get("file") == "stacks/__main__.py" and failing.get("line") == "4"
    assert "p3.2xlarge" in failing.find("failure").text

    # --markdown: verdict, findings grouped by policy with counts, each with resource and line
    summary = (out / "summary.md").read_text()
    assert f"❌ {len(mandatory)} blocking findings" in summary
    assert f"#### Findings: {len(mandatory)} blocking, 0 advisory, 0 suppressed" in summary
    assert "`aifinops-cost` 0.0.1 (" in summary
    assert "##### ❌ `required-cost-tags` (aifinops-cost): 2 resources\n" in summary
    assert "##### ❌ `approved-gpu-instance-types` (aifinops-cost): 1 resource\n" in summary
    assert "- [mandatory] `aws:ec2:Instance` **gpu** at `stacks/__main__.py:4`: " in summary


def test_sarif_paths_are_relative_to_the_git_checkout(project, tmp_path):
    root = project(VIOLATING)
    (tmp_path / "repo" / ".git").mkdir()
    main(["preview", "-C", str(root), "--sarif", str(tmp_path / "check.sarif")])
    sarif = json.loads((tmp_path / "check.sarif").read_text())
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for run in sarif["runs"] for r in run["results"]}
    assert uris == {"infra/stacks/__main__.py"}


def test_the_installed_command_exits_1_on_a_mandatory_violation(project):
    completed = subprocess.run([str(Path(sys.executable).parent / "aifinops"), "preview", "-C", str(project(VIOLATING))],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 1, completed.stderr
    assert "❌ aifinops-cost@v0.0.1" in completed.stdout
