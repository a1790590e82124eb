"""`aifinops cost --json` in Infracost's field names, and `--compare-to` against the base branch's JSON.

Prices are checked by hand against the vendored us-east-1 table (as read 2026-11): g5.xlarge $1.006/h,
g6e.xlarge $1.861/h, both at 730 hours; an unset root volume is 8 GB of gp2 at $0.10 per GB-month.
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from aifinops.cli import main
from aifinops.core import catalog
from aifinops.core.estimate.compare import BaselineError, compare, match_resources
from tests.conftest import tagged_config, write_project

HOURS = 730
G5, G6E, ROOT_VOLUME = 1.006, 1.861, 8 * 0.10
BOX = """
import pulumi_aws as aws
aws.ec2.Instance("box", instance_type="{instance_type}", ami="ami-1")
aws.iam.Role("role", assume_role_policy="{{}}")
"""


def cost_json(capsys, root: Path, *flags: str) -> dict:
    assert main(["cost", "--cwd", str(root), *flags, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def project(tmp_path: Path, name: str, program: str) -> Path:
    return write_project(tmp_path / name, program, tagged_config())


def test_the_price_table_has_the_prices_this_file_works_by_hand():
    table = catalog.price_table("us-east-1")
    assert table.on_demand_usd("g5.xlarge") == G5 and table.on_demand_usd("g6e.xlarge") == G6E


def test_json_has_infracost_field_names_and_decimal_strings(tmp_path, capsys):
    document = cost_json(capsys, project(tmp_path, "base", BOX.format(instance_type="g5.xlarge")))
    assert document["version"] == "0.2" and document["currency"] == "USD"
    box_cost = HOURS * G5 + ROOT_VOLUME
    assert document["totalMonthlyCost"] == f"{box_cost:.2f}" == "735.18"
    assert document["totalHourlyCost"] == f"{box_cost / HOURS:.6f}".rstrip("0")
    assert document["pastTotalMonthlyCost"] is None and document["diffTotalMonthlyCost"] is None
    (project_doc,) = document["projects"]
    resources = {r["name"]: r for r in project_doc["breakdown"]["resources"]}
    box = resources["box"]
    assert box["monthlyCost"] == "735.18" and box["resourceType"] == "aws:ec2/instance:Instance"
    on_demand = box["costComponents"][0]
    assert on_demand == {**on_demand, "name": "g5.xlarge on-demand", "unit": "instance-hours", "monthlyQuantity": "730",
                         "price": "1.006", "monthlyCost": "734.38"}
    assert resources["role"]["status"] == "free" and resources["role"]["monthlyCost"] == "0"
    assert document["summary"]["totalDetectedResources"] == 2 and document["summary"]["totalNoPriceResources"] == 1


def test_an_unpriced_resource_has_a_null_cost_never_zero(tmp_path, capsys):
    program = 'import pulumi_aws as aws\naws.ec2.Instance("odd", instance_type="x2gd.large", ami="ami-1")\n'
    document = cost_json(capsys, project(tmp_path, "odd", program))
    (odd,) = document["projects"][0]["breakdown"]["resources"]
    assert odd["status"] == "unpriced" and odd["monthlyCost"] is None
    assert document["totalMonthlyCost"] == "0" and document["summary"]["totalUnsupportedResources"] == 1


def test_compare_to_an_instance_type_change_by_hand(tmp_path, capsys):
    base = tmp_path / "base.json"
    base.write_text(json.dumps(cost_json(capsys, project(tmp_path, "base", BOX.format(instance_type="g5.xlarge")))))
    document = cost_json(capsys, project(tmp_path, "pr", BOX.format(instance_type="g6e.xlarge")), "--compare-to",
                         str(base))
    # base: 730 h x $1.006 = $734.38 + $0.80 root volume = $735.18; PR: 730 h x $1.861 = $1,358.53 + $0.80
    assert document["pastTotalMonthlyCost"] == "735.18"
    assert document["totalMonthlyCost"] == "1359.33"
    assert document["diffTotalMonthlyCost"] == "624.15"
    assert float(document["diffTotalHourlyCost"]) == pytest.approx(624.15 / HOURS, abs=1e-6)
    (project_doc,) = document["projects"]
    assert project_doc["pastBreakdown"]["totalMonthlyCost"] == "735.18"
    assert project_doc["diff"]["totalMonthlyCost"] == "624.15"
    (entry,) = project_doc["diff"]["resources"]  # the role costs nothing on both sides: not a change
    assert (entry["name"], entry["change"]) == ("box", "changed")
    assert (entry["pastMonthlyCost"], entry["newMonthlyCost"], entry["monthlyCost"]) == ("735.18", "1359.33", "624.15")
    components = {c["name"]: c for c in entry["costComponents"]}
    assert set(components) == {"g6e.xlarge on-demand", "g5.xlarge on-demand"}  # the root volume did not change
    assert components["g6e.xlarge on-demand"]["change"] == "added"
    assert components["g6e.xlarge on-demand"]["monthlyCost"] == "1358.53" and components["g6e.xlarge on-demand"][
        "price"] == "1.861"
    assert components["g5.xlarge on-demand"]["change"] == "removed"
    assert components["g5.xlarge on-demand"]["monthlyCost"] == "-734.38"


def test_the_text_table_says_how_the_cost_changes(tmp_path, capsys):
    base = tmp_path / "base.json"
    base.write_text(json.dumps(cost_json(capsys, project(tmp_path, "base", BOX.format(instance_type="g5.xlarge")))))
    assert main(["cost", "--cwd", str(project(tmp_path, "pr", BOX.format(instance_type="g6e.xlarge"))),
                 "--compare-to", str(base)]) == 0
    out = capsys.readouterr().out
    # $624.15 of $735.18 is +84.9%
    assert "Monthly cost will increase by $624.15 (+84.9%): $735.18 -> $1,359.33 a month" in out
    assert "  ~ aws:ec2:Instance box: $735.18 -> $1,359.33 (+$624.15)" in out


def test_a_resource_moved_under_a_component_is_one_change_not_a_removal_and_an_addition(tmp_path, capsys):
    base = tmp_path / "base.json"
    base.write_text(json.dumps(cost_json(capsys, project(tmp_path, "base", BOX.format(instance_type="g5.xlarge")))))
    moved = """
import pulumi, pulumi_aws as aws
class Box(pulumi.ComponentResource):
    def __init__(self, name):
        super().__init__("test:index:Box", name)
        aws.ec2.Instance(name, instance_type="g6e.xlarge", ami="ami-1", opts=pulumi.ResourceOptions(parent=self))
Box("box")
aws.iam.Role("role", assume_role_policy="{}")
"""
    document = cost_json(capsys, project(tmp_path, "pr", moved), "--compare-to", str(base))
    (entry,) = document["projects"][0]["diff"]["resources"]
    assert entry["change"] == "changed" and entry["monthlyCost"] == "624.15"
    assert entry["pastUrn"].endswith("::aws:ec2/instance:Instance::box") and "test:index:Box$" in entry["urn"]
    assert document["diffTotalMonthlyCost"] == "624.15"


def test_added_and_removed_resources_sum_to_the_total_change(tmp_path, capsys):
    base = tmp_path / "base.json"
    base.write_text(json.dumps(cost_json(capsys, project(tmp_path, "base", BOX.format(instance_type="g5.xlarge")))))
    program = 'import pulumi_aws as aws\naws.ec2.Instance("other", instance_type="g6e.xlarge", ami="ami-1")\n'
    document = cost_json(capsys, project(tmp_path, "pr", program), "--compare-to", str(base))
    entries = {e["name"]: e for e in document["projects"][0]["diff"]["resources"]}
    assert entries["box"]["change"] == "removed" and entries["box"]["monthlyCost"] == "-735.18"
    assert entries["other"]["change"] == "added" and entries["other"]["monthlyCost"] == "1359.33"
    assert "role" not in entries  # free on the base branch, gone now: no cost change
    assert sum(float(e["monthlyCost"]) for e in entries.values()) == pytest.approx(
        float(document["diffTotalMonthlyCost"]), abs=1e-6)


def test_one_urn_listed_twice_in_the_baseline_is_one_resource():
    resource = {"name": "box", "resourceType": "aws:ec2/instance:Instance", "urn": "urn:box", "monthlyCost": "10"}
    pairs = match_resources([resource, dict(resource)], [{**resource, "monthlyCost": "12"}])
    assert len(pairs) == 1 and pairs[0][0] is resource


def test_preview_takes_compare_to_and_reads_a_preview_json_as_the_baseline(tmp_path, capsys):
    root = project(tmp_path, "base", BOX.format(instance_type="g5.xlarge"))
    main(["preview", "--cwd", str(root), "--skip-policy-packs", "--json"])
    base = tmp_path / "preview-base.json"
    base.write_text(capsys.readouterr().out)
    pr = project(tmp_path, "pr", BOX.format(instance_type="g6e.xlarge"))
    assert main(["preview", "--cwd", str(pr), "--skip-policy-packs", "--json", "--compare-to", str(base)]) == 0
    estimate = json.loads(capsys.readouterr().out)["costEstimate"]
    assert (estimate["pastTotalMonthlyCost"], estimate["diffTotalMonthlyCost"]) == ("735.18", "624.15")
    assert main(["preview", "--cwd", str(pr), "--skip-policy-packs", "--compare-to", str(base)]) == 0
    assert "Monthly cost will increase by $624.15 (+84.9%)" in capsys.readouterr().out


def test_a_baseline_that_is_not_an_estimate_exits_2_naming_the_file(tmp_path, capsys):
    root = project(tmp_path, "pr", BOX.format(instance_type="g5.xlarge"))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"monthlyUsd": 3}))
    assert main(["cost", "--cwd", str(root), "--compare-to", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"--compare-to {bad}" in err and "totalMonthlyCost" in err
    missing = tmp_path / "missing.json"
    assert main(["cost", "--cwd", str(root), "--compare-to", str(missing)]) == 2
    assert "cannot read" in capsys.readouterr().err
    with pytest.raises(BaselineError, match=r"resources\[0\].monthlyCost"):
        compare({"projects": [{"breakdown": {"resources": []}}], "totalMonthlyCost": "0"},
                {"totalMonthlyCost": "1", "projects": [{"breakdown": {"resources": [{"name": "x", "monthlyCost": "a$"}]}}]})


def test_sarif_and_junit_carry_the_cost_change(tmp_path, capsys):
    base = tmp_path / "base.json"
    base.write_text(json.dumps(cost_json(capsys, project(tmp_path, "base", BOX.format(instance_type="g5.xlarge")))))
    pr = project(tmp_path, "pr", BOX.format(instance_type="g6e.xlarge"))
    sarif, junit = tmp_path / "check.sarif", tmp_path / "junit.xml"
    assert main(["preview", "--cwd", str(pr), "--skip-policy-packs", "--compare-to", str(base),
                 "--sarif", str(sarif), "--junit", str(junit)]) == 0
    figures = json.loads(sarif.read_text())["properties"]["aifinopsCost"]
    assert figures == {"currency": "USD", "totalMonthlyCost": "1359.33", "maxTotalMonthlyCost": "1359.33",
                       "pastTotalMonthlyCost": "735.18", "diffTotalMonthlyCost": "624.15",
                       "change": "Monthly cost will increase by $624.15 (+84.9%)"}
    suite = next(s for s in ET.parse(junit).getroot() if s.get("name") == "aifinops cost estimate")
    assert {p.get("name"): p.get("value") for p in suite.iter("property")} == figures
