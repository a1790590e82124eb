"""A tag value made with pulumi.Output.secret reaches no report: it is grepped for in every format the
preview and the cost estimate write (text, --json, SARIF, JUnit, Markdown; cost text, JSON, HTML), with
the shipped packs quoting tags in their messages, and in the error of a policy that raises with it."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from aifinops.cli import main
from aifinops.graph import Resource, ResourceGraph
from aifinops.secret_masking import mask_text, secret_strings
from tests.conftest import tagged_config, write_project
from tests.test_policy_runner import SECRET, make_pack

SECRET_VALUE = "S3CR3T-OWNER-VALUE"
PROGRAM = f"""
import pulumi
import pulumi_aws as aws
owner = pulumi.Output.secret("{SECRET_VALUE}")
tags = {{"CostCenter": owner, "Project": "x", "Environment": "dev"}}
aws.s3.Bucket("data", tags=tags)
aws.ec2.Instance("gpu", instance_type="p5.48xlarge", ami="ami-0123456789abcdef0",
                 tags={{**tags, "Name": owner.apply(lambda value: value + "-box")}})
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return write_project(tmp_path / "project", PROGRAM, tagged_config())


def test_a_secret_tag_value_is_in_no_output_format(root: Path, tmp_path: Path, capsys):
    out = tmp_path / "out"
    written: dict[str, str] = {}
    code = main(["preview", "-C", str(root), "--json", "--sarif", str(out / "check.sarif"),
                 "--junit", str(out / "junit.xml"), "--markdown", str(out / "summary.md")])
    assert code == 1  # the GPU has no budget: the message quotes its tags
    written["--json"] = capsys.readouterr().out
    assert main(["preview", "-C", str(root)]) == 1
    written["text"] = capsys.readouterr().out
    assert main(["cost", "-C", str(root), "--html", str(out / "cost.html")]) == 0
    written["cost text"] = capsys.readouterr().out
    assert main(["cost", "-C", str(root), "--json"]) == 0
    written["cost --json"] = capsys.readouterr().out
    for path in out.iterdir():
        written[path.name] = path.read_text()
    assert set(written) == {"--json", "text", "cost text", "cost --json", "check.sarif", "junit.xml", "summary.md",
                            "cost.html"}
    leaks = [name for name, text in written.items() if SECRET_VALUE in text]
    assert leaks == []
    # The policy message still says which tags, with the values blinded (not cut out of other words).
    digest = json.loads(written["--json"])
    message = next(v["message"] for v in digest["policyViolations"] if v["policy"] == "budget-required-for-gpu-spend")
    assert "CostCenter=[secret]" in message and "(p5.48xlarge)" in message
    # The estimator groups the secret tag value as [secret].
    assert "By CostCenter: [secret]" in written["cost text"]
    assert "[secret]" in json.loads(written["cost --json"])["byTag"]["CostCenter"]


def test_a_raising_policy_quoting_a_secret_is_masked_in_the_error(root: Path, tmp_path: Path, capsys):
    pack = make_pack(tmp_path / "pack", "if 'tags' in args.props:\n"
                                        "    raise ValueError('owner is ' + args.props['tags']['CostCenter'])")
    code = main(["preview", "-C", str(root), "--policy-pack", str(pack), "--debug"])
    err = capsys.readouterr().err
    assert code == 2
    assert "policy 'probe' raised ValueError during Analyze of resource" in err and "owner is [secret]" in err
    assert "the pack's traceback" in err
    assert SECRET_VALUE not in err


def test_masking_takes_every_string_under_a_secret_and_replaces_whole_tokens_only():
    graph = ResourceGraph("proj", "dev", {})
    graph.add(Resource("urn:a", "aws:s3/bucket:Bucket", "a", True,
                       inputs={"password": SECRET, "tags": {"4dabf18193072939515e22adb298388d":
                                                            "1b47061264138c4ac30d75fd1eb44270",
                                                            "value": {"Team": "x", "Owner": "hunter2-ops"}}}))
    secrets = secret_strings(graph)
    assert secrets == ("hunter2-ops", "hunter2", "x")
    assert mask_text("Owner=hunter2-ops Team=x p5.48xlarge expires hunter2", secrets) == \
        "Owner=[secret] Team=[secret] p5.48xlarge expires [secret]"
