"""The offline preview behaves as `pulumi preview` does: references, reads, invokes, program output, the
PreviewDigest field for field, and the human output. Each runs a program under the engine."""
from __future__ import annotations

import json
import textwrap

import pytest
import yaml

from aifinops.cli import main
from aifinops.core.values import UNKNOWN_STRING_VALUE as UNKNOWN
from aifinops.mock_cloud import sdk_invoke_count
from tests.conftest import DEFAULT_COST_TAGS, write_project

TAGS = repr(DEFAULT_COST_TAGS)
REAL_WORLD = f"""
import pulumi, pulumi_aws as aws
config = pulumi.Config()
role = aws.iam.Role("app", assume_role_policy=aws.iam.get_policy_document(statements=[{{
    "actions": ["sts:AssumeRole"], "principals": [{{"type": "Service", "identifiers": ["ec2.amazonaws.com"]}}]}}]).json,
    tags={TAGS})
# A resource passed as an input (a reference), as real programs do.
aws.iam.RolePolicyAttachment("app-ssm", role=role, policy_arn="arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore")
zone = aws.route53.get_zone(name="example.com")
subnet = aws.ec2.get_subnet(id="subnet-0abc")
print("zone", zone.name)
existing = aws.s3.Bucket.get("existing", "my-existing-bucket")
network = pulumi.StackReference("acme/network/prod")
pulumi.export("vpcId", network.get_output("vpcId"))
pulumi.export("zoneId", zone.zone_id)
pulumi.export("roleArn", role.arn)
"""


def preview_cli(root, capsys, *flags):
    code = main(["preview", "--cwd", str(root), "--skip-policy-packs", *flags])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def real_world(tmp_path):
    root = write_project(tmp_path / "p", REAL_WORLD, {"aws:region": "us-east-1"})
    (root / "refs.json").write_text(json.dumps({"acme/network/prod": {"vpcId": "vpc-0123"}}))
    return root


def test_references_reads_invokes_and_print_under_json(real_world, capsys):
    code, out, err = preview_cli(real_world, capsys, "--json", "--stack-reference-outputs", "refs.json")
    assert code == 0, err
    digest = json.loads(out)  # print() did not corrupt it
    steps = {s["urn"].rsplit("::", 1)[-1]: s for s in digest["steps"]}
    # The reference reaches the provider as the role's id, unknown during preview.
    assert steps["app-ssm"]["newState"]["inputs"]["role"] == UNKNOWN
    assert "role" in steps["app-ssm"]["newState"]["propertyDependencies"]
    # Reads are read steps with engine URNs and the id the program gave.
    assert steps["existing"]["op"] == "read" and steps["existing"]["newState"]["id"] == "my-existing-bucket"
    assert steps["existing"]["urn"] == "urn:pulumi:dev::testproj::aws:s3/bucket:Bucket::existing"
    assert steps["acme/network/prod"]["op"] == "read"
    assert digest["changeSummary"] == {"create": len(digest["steps"]) - 2, "read": 2}
    # Invokes the hand-written answers do not cover are answered from pulumi-aws's result types.
    stack_outputs = steps["testproj-dev"]["newState"]["outputs"]
    assert stack_outputs["vpcId"] == "vpc-0123" and stack_outputs["roleArn"] == UNKNOWN
    assert isinstance(stack_outputs["zoneId"], str) and stack_outputs["zoneId"]
    assert {"message": "zone example.com\n", "severity": "info"} in digest["diagnostics"]


def test_a_stack_reference_without_outputs_is_unknown(real_world, capsys):
    code, out, err = preview_cli(real_world, capsys, "--json")
    assert code == 0, err
    stack = next(s for s in json.loads(out)["steps"] if s["newState"]["type"] == "pulumi:pulumi:Stack")
    assert stack["newState"]["outputs"]["vpcId"] == UNKNOWN


def test_most_pulumi_aws_invokes_get_an_answer():
    functions, answered = sdk_invoke_count()
    assert functions > 600 and answered / functions > 0.95


def test_an_invoke_that_is_not_a_pulumi_aws_function_is_a_clear_error(tmp_path, capsys):
    root = write_project(tmp_path / "p", "import pulumi\npulumi.runtime.invoke('acme:index/getThing:getThing', {})\n")
    code, _, err = preview_cli(root, capsys)
    assert code == 2 and "acme:index/getThing:getThing" in err and "Traceback" not in err


def test_the_digest_is_field_for_field_and_byte_identical_across_runs(real_world, capsys):
    runs = [preview_cli(real_world, capsys, "--json", "--stack-reference-outputs", "refs.json")[1]
            for _ in range(3)]
    first = [json.loads(run) for run in runs]
    for document in first:
        document.pop("duration", None)
    assert first[0] == first[1] == first[2]
    assert [json.dumps(d["steps"]) for d in first] == [json.dumps(first[0]["steps"])] * 3
    digest = first[0]
    assert all(isinstance(v, str) for v in digest["config"].values())
    assert not any(s["urn"].split("::")[-2] == "pulumi:providers:aws" for s in digest["steps"])  # no default provider
    assert sum(digest["changeSummary"].values()) == len(digest["steps"])
    assert all("detailedDiff" in s and s["detailedDiff"] is None for s in digest["steps"])
    role = next(s for s in digest["steps"] if s["urn"].endswith("aws:iam/role:Role::app"))
    assert role["newState"]["sourcePosition"] == "project:///stacks/__main__.py#4"
    assert "id" not in role["newState"]  # unknown until created: omitted, as json.go omits empties
    stack = digest["steps"][0]["newState"]
    assert stack["type"] == "pulumi:pulumi:Stack" and "parent" not in stack and "inputs" not in stack


def test_resource_options_are_on_new_state(tmp_path, capsys):
    program = """
import pulumi, pulumi_aws as aws
aws.s3.Bucket("b", opts=pulumi.ResourceOptions(protect=True, ignore_changes=["tags"], retain_on_delete=True,
    custom_timeouts=pulumi.CustomTimeouts(create="5m"), aliases=[pulumi.Alias(name="old-b")],
    additional_secret_outputs=["bucket"]))
"""
    root = write_project(tmp_path / "p", program, {"aws:region": "us-east-1"})
    code, out, err = preview_cli(root, capsys, "--json")
    assert code == 0, err
    state = next(s for s in json.loads(out)["steps"] if s["urn"].endswith("::b"))["newState"]
    assert state["protect"] is True and state["ignoreChanges"] == ["tags"] and state["retainOnDelete"] is True
    assert state["customTimeouts"] == {"create": "5m"} and state["additionalSecretOutputs"] == ["bucket"]
    # The alias the program gave, beside those the SDK adds for the type's own history (s3 BucketV2).
    assert "urn:pulumi:dev::testproj::aws:s3/bucket:Bucket::old-b" in state["aliases"]


def test_human_output_follows_the_cli(real_world, capsys):
    code, out, err = preview_cli(real_world, capsys, "--stack-reference-outputs", "refs.json")
    assert code == 0, err
    outputs = out.split("Outputs:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert outputs == ['    roleArn: output<string>', '    vpcId  : "vpc-0123"',
                       '    zoneId : ' + json.dumps(outputs[2].split(": ", 1)[1].strip('"'))]
    assert "Duration:" not in out
    assert "zone example.com" in out  # program output under Diagnostics


def test_main_may_name_a_file(tmp_path, capsys):
    root = tmp_path / "p"
    root.mkdir()
    (root / "Pulumi.yaml").write_text(yaml.safe_dump({"name": "app", "runtime": "python", "main": "infra.py"}))
    (root / "infra.py").write_text(textwrap.dedent(f"""
        import pulumi_aws as aws
        aws.s3.Bucket("data", tags={TAGS})
    """))
    (root / "Pulumi.dev.yaml").write_text(yaml.safe_dump({"config": {"aws:region": "us-east-1"}}))
    code, out, err = preview_cli(root, capsys, "--json")
    assert code == 0, err
    assert any(s["urn"].endswith("::data") for s in json.loads(out)["steps"])


def test_a_remote_component_is_named_and_never_a_cheap_success(tmp_path, capsys):
    program = """
import pulumi
class Cluster(pulumi.ComponentResource):
    def __init__(self, name):
        super().__init__("eks:index:Cluster", name, {"version": "1.31"}, remote=True)
Cluster("main")
"""
    root = write_project(tmp_path / "p", program, {"aws:region": "us-east-1"})
    code, out, err = preview_cli(root, capsys, "--json")
    assert code == 0, err
    digest = json.loads(out)
    assert any("eks:index:Cluster 'main' is a remote (multi-language) component" in d["message"]
               for d in digest["diagnostics"])
    estimate = digest["costEstimate"]
    remote = next(r for r in estimate["projects"][0]["breakdown"]["resources"] if r["name"] == "main")
    assert remote["status"] == "unpriced" and "remote" in remote["note"]


def test_reads_are_not_analyzed_one_by_one_but_reach_the_stack_policies(real_world):
    from aifinops.analyzer_requests import analyze_requests, analyze_stack_request
    from aifinops.engine import run_program
    from aifinops.project import load_project

    project = load_project(real_world)
    graph = run_program(project, project.load_stack("dev"))
    analyzed = {request.urn for request in analyze_requests(graph)}
    stacked = {resource.urn for resource in analyze_stack_request(graph).resources}
    read = {r.urn for r in graph if r.read}
    assert read and not read & analyzed and read <= stacked
