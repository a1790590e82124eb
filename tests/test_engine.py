"""The offline engine: URNs, parents, providers, config, secrets, source lines, and its errors."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from aifinops.core.errors import ProgramError
from aifinops.engine import BLINDED, UNKNOWN, engine_urn, is_secret
from aifinops.graph import ResourceGraph
from tests.conftest import write_project

NESTED = """
import pulumi, pulumi_aws as aws

class Inner(pulumi.ComponentResource):
    def __init__(self, name, opts=None):
        super().__init__("my:mod:Inner", name, None, opts)
        aws.sns.Topic(f"{name}-topic", opts=pulumi.ResourceOptions(parent=self))

class Outer(pulumi.ComponentResource):
    def __init__(self, name, opts=None):
        super().__init__("my:mod:Outer", name, None, opts)
        self.bucket = aws.s3.Bucket(f"{name}-bucket", opts=pulumi.ResourceOptions(parent=self))
        Inner(f"{name}-inner", opts=pulumi.ResourceOptions(parent=self))

west = aws.Provider("west", region="us-west-2")
outer = Outer("outer", opts=pulumi.ResourceOptions(providers=[west]))
plain = aws.s3.Bucket("plain")
policy = aws.s3.BucketPolicy("plain-policy", bucket=plain.id, policy="{}")
pulumi.export("bucketName", plain.bucket)
"""


def by_name(graph: ResourceGraph, name: str):
    return next(r for r in graph if r.name == name)


def test_urns_follow_the_engine_rule_for_nested_components(preview):
    graph = preview(NESTED, {"aws:region": "eu-west-1"})
    stack = "urn:pulumi:dev::testproj::"
    assert graph.root.urn == stack + "pulumi:pulumi:Stack::testproj-dev"
    assert by_name(graph, "outer").urn == stack + "my:mod:Outer::outer"
    assert by_name(graph, "outer-bucket").urn == stack + "my:mod:Outer$aws:s3/bucket:Bucket::outer-bucket"
    assert by_name(graph, "outer-inner-topic").urn == \
        stack + "my:mod:Outer$my:mod:Inner$aws:sns/topic:Topic::outer-inner-topic"
    assert by_name(graph, "plain").urn == stack + "aws:s3/bucket:Bucket::plain"


def test_parents_and_dependencies_are_recorded(preview):
    graph = preview(NESTED)
    outer, inner = by_name(graph, "outer"), by_name(graph, "outer-inner")
    assert by_name(graph, "outer-bucket").parent == outer.urn
    assert by_name(graph, "outer-inner-topic").parent == inner.urn
    assert outer.parent == graph.root.urn
    policy = by_name(graph, "plain-policy")
    assert by_name(graph, "plain").urn in policy.dependencies
    assert policy.property_dependencies["bucket"] == [by_name(graph, "plain").urn]
    assert graph.component_of(by_name(graph, "outer-inner-topic")) is outer


def test_explicit_providers_are_inherited_and_default_providers_come_from_config(preview):
    graph = preview(NESTED, {"aws:region": "eu-west-1", "aws:defaultTags": {"tags": {"Owner": "ml"}}},
                    mock_outputs=True)
    west = by_name(graph, "west")
    assert by_name(graph, "outer-inner-topic").provider == f"{west.urn}::{west.id}"
    default = graph.provider_of(by_name(graph, "plain"))
    assert default.urn == "urn:pulumi:dev::testproj::pulumi:providers:aws::default_7_51_1"
    assert default.inputs["region"] == "eu-west-1"
    assert default.inputs["defaultTags"] == '{"tags": {"Owner": "ml"}}'  # the engine passes config as strings
    # ARNs and regions follow each resource's provider.
    assert by_name(graph, "outer-inner-topic").outputs["arn"].startswith("arn:aws:sns:us-west-2:123456789012:")
    assert by_name(graph, "plain").outputs["region"] == "eu-west-1"


def test_ids_and_arns_are_shaped_like_aws(preview):
    graph = preview(NESTED, mock_outputs=True)
    plain = by_name(graph, "plain")
    assert plain.id.startswith("plain-") and plain.outputs["arn"] == f"arn:aws:s3:::{plain.id}"
    assert graph.stack_outputs["bucketName"] == plain.id
    assert by_name(graph, "west").id  # providers get ids too


def test_a_preview_of_creates_knows_inputs_but_not_ids_or_computed_outputs(preview):
    """As `pulumi preview` of a new stack: what the program set is known, what AWS computes is not."""
    graph = preview(NESTED)
    plain = by_name(graph, "plain")
    assert plain.id == "" and plain.outputs["arn"] == UNKNOWN and plain.outputs["id"] == UNKNOWN
    assert by_name(graph, "west").outputs["region"] == "us-west-2"  # an output the program set as an input
    assert plain.outputs["bucket"].startswith("plain-")  # the provider's auto-name, assigned during preview
    assert graph.stack_outputs["bucketName"] == plain.outputs["bucket"]  # exported from the auto-name
    west = by_name(graph, "west")
    assert west.id == UNKNOWN and by_name(graph, "outer-inner-topic").provider == f"{west.urn}::{UNKNOWN}"


def test_config_project_defaults_stack_values_objects_and_stack_identity(preview):
    graph = preview("""
import pulumi
cfg = pulumi.Config()
pulumi.export("size", cfg.require_int("size"))
pulumi.export("teams", cfg.require_object("teams"))
pulumi.export("flag", cfg.get_bool("flag"))
pulumi.export("stack", pulumi.get_stack())
pulumi.export("project", pulumi.get_project())
pulumi.export("other", pulumi.Config("aws").get("region"))
""", {"testproj:size": 3, "teams": ["a", "b"], "flag": True, "aws:region": "us-east-2"})
    assert graph.stack_outputs == {"size": 3, "teams": ["a", "b"], "flag": True, "stack": "dev",
                                   "project": "testproj", "other": "us-east-2"}


def test_secrets_stay_secret_and_are_blinded_in_config(preview):
    graph = preview("""
import pulumi, pulumi_aws as aws
cfg = pulumi.Config()
aws.ssm.Parameter("token", type="SecureString", value=cfg.require_secret("apiToken"))
pulumi.export("token", cfg.require_secret("apiToken"))
""", {"apiToken": {"secure": "v1:abc"}})
    parameter = by_name(graph, "token")
    assert is_secret(parameter.inputs["value"])
    assert graph.config["testproj:apiToken"] == BLINDED


def test_source_lines_point_at_the_users_program(preview):
    graph = preview(NESTED)
    line_of = {text.split(" = ")[0]: number for number, text in enumerate(NESTED.splitlines(), start=1)}
    assert str(by_name(graph, "plain").source) == f"stacks/__main__.py:{line_of['plain']}"
    # Components defined in the program are user code: the nearest frame is inside them.
    topic_line = next(n for n, t in enumerate(NESTED.splitlines(), start=1) if "aws.sns.Topic(" in t)
    assert str(by_name(graph, "outer-inner-topic").source) == f"stacks/__main__.py:{topic_line}"
    assert str(by_name(graph, "outer").source) == f"stacks/__main__.py:{line_of['outer']}"


def test_resources_inside_pack_components_point_at_the_line_that_made_the_component(preview):
    program = "import pulumi\nfrom aifinops.components.gpu_instance import GpuInstance, GpuInstanceArgs\n\n" \
              "GpuInstance('box', GpuInstanceArgs(instance_type='g5.xlarge'))\n"
    graph = preview(program)
    assert {str(r.source) for r in graph if r.type != "pulumi:pulumi:Stack" and not r.is_provider} == \
        {"stacks/__main__.py:4"}


def test_unknown_values_reach_the_graph_as_the_engine_sentinel(preview):
    graph = preview("""
import pulumi, pulumi_aws as aws
fn = aws.lambda_.Function("fn", role="arn:aws:iam::123456789012:role/x", runtime="python3.12",
                           handler="h.handler", code=pulumi.AssetArchive({}))
aws.sns.Topic("topic", display_name=fn.qualified_arn)
""")
    assert by_name(graph, "topic").inputs["displayName"] == UNKNOWN


def test_missing_config_key_names_the_key_and_the_file(preview):
    with pytest.raises(ProgramError) as error:
        preview("import pulumi\npulumi.Config().require('clusterName')\n")
    assert "testproj:clusterName" in str(error.value) and "Pulumi.dev.yaml" in str(error.value)


def test_exception_in_program_names_the_line(preview):
    with pytest.raises(ProgramError) as error:
        preview("import pulumi\n\nraise RuntimeError('bad sizing')\n")
    assert "stacks/__main__.py:3" in str(error.value) and "bad sizing" in str(error.value)


def test_unanswered_invoke_names_the_token(preview):
    with pytest.raises(ProgramError) as error:
        preview("import pulumi\npulumi.runtime.invoke('acme:index/getThing:getThing', {})\n")
    assert "acme:index/getThing:getThing" in str(error.value)


def test_policy_document_invoke_renders_iam_json(preview):
    graph = preview("""
import json, pulumi, pulumi_aws as aws
doc = aws.iam.get_policy_document(statements=[{"actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::b/*"],
    "principals": [{"type": "Service", "identifiers": ["ec2.amazonaws.com"]}]}])
pulumi.export("doc", json.loads(doc.json))
""")
    statement = graph.stack_outputs["doc"]["Statement"][0]
    assert statement == {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*",
                         "Principal": {"Service": "ec2.amazonaws.com"}}


def test_engine_urn_helper_matches_the_documented_rule():
    parent = "urn:pulumi:s::p::a:b:C$d:e:F::x"
    assert engine_urn("s", "p", parent, "aws:s3/bucket:Bucket", "y") == "urn:pulumi:s::p::a:b:C$d:e:F$aws:s3/bucket:Bucket::y"
    assert engine_urn("s", "p", "urn:pulumi:s::p::pulumi:pulumi:Stack::p-s", "t:m:T", "z") == "urn:pulumi:s::p::t:m:T::z"


def test_graph_round_trips_through_json(preview):
    graph = preview(NESTED)
    again = ResourceGraph.from_json(graph.to_json())
    assert again.to_json() == graph.to_json()


def test_program_log_messages_become_diagnostics(preview):
    graph = preview("""
import pulumi, pulumi_aws as aws
bucket = aws.s3.Bucket("data")
pulumi.log.warn("lifecycle rule 'x' costs $2.07 a month more than it saves", resource=bucket)
pulumi.log.info("sizing for 4 GPUs")
""")
    warning = next(d for d in graph.diagnostics if d["severity"] == "warning")
    assert warning["urn"] == by_name(graph, "data").urn and warning["prefix"] == "warning: "
    assert "costs $2.07" in warning["message"]
    assert any(d["severity"] == "info" and d["urn"] == "" for d in graph.diagnostics)


def test_policy_documents_given_as_objects_come_back_as_json_strings(preview):
    graph = preview("""
import json, pulumi, pulumi_aws as aws
role = aws.iam.Role("r", assume_role_policy={"Version": "2012-10-17", "Statement": []})
pulumi.export("policy", role.assume_role_policy)
""")
    assert json.loads(graph.stack_outputs["policy"]) == {"Version": "2012-10-17", "Statement": []}


OWN_EXECUTOR_WORK = """
import asyncio, threading, pulumi, pulumi_aws as aws

aws.s3.Bucket("data")

async def in_the_pool():
    return await asyncio.get_running_loop().run_in_executor(None, lambda: threading.current_thread().name)

pulumi.export("poolThread", pulumi.Output.from_input(in_the_pool()))
pulumi.export("programThread", threading.current_thread().name)
"""


def test_monitor_calls_run_in_the_programs_thread_and_its_own_executor_work_in_a_pool(tmp_path):
    """The SDK's monitor calls are answered in the loop's thread (no worker hand-offs); what the program
    itself sends to the default executor still runs in a worker thread."""
    import threading

    from aifinops.engine import run_program
    from aifinops.project import load_project
    from tests.conftest import write_project

    root = write_project(tmp_path / "project", OWN_EXECUTOR_WORK)
    project = load_project(root)
    registering_threads = []
    graph = run_program(project, project.load_stack("dev"),
                        on_register=lambda resource, graph: registering_threads.append(threading.current_thread().name))
    assert by_name(graph, "data").type == "aws:s3/bucket:Bucket"
    assert set(registering_threads) == {graph.stack_outputs["programThread"]}
    assert graph.stack_outputs["poolThread"] != graph.stack_outputs["programThread"]


MANY_DEPENDENCIES = """
import pulumi, pulumi_aws as aws
buckets = [aws.s3.Bucket(f"b{i}") for i in range(6)]
aws.sns.Topic("topic", name=pulumi.Output.all(*[b.id for b in buckets]).apply(lambda ids: "-".join(ids)),
              opts=pulumi.ResourceOptions(depends_on=buckets[::-1]))
"""
RECORD_TOPIC = """
import json, sys
from aifinops.engine import run_program
from aifinops.project import load_project
project = load_project(sys.argv[1])
topic = next(r for r in run_program(project, project.load_stack("dev")) if r.name == "topic")
print(json.dumps([topic.dependencies, topic.property_dependencies]))
"""


def test_dependencies_are_recorded_in_one_order_whatever_order_the_sdk_sends(tmp_path):
    """The SDK builds the lists from sets of URNs, and string hashes differ per process: each run ordered
    them anew, so a PR check's --json changed between runs of one program."""
    root = write_project(tmp_path / "project", MANY_DEPENDENCIES, {"aws:region": "us-east-1"})
    runs = {subprocess.run([sys.executable, "-c", RECORD_TOPIC, str(root)], capture_output=True, text=True,
                           check=True).stdout for _ in range(3)}
    assert len(runs) == 1
    dependencies, property_dependencies = json.loads(runs.pop())
    assert len(dependencies) == 6 and dependencies == sorted(dependencies)
    assert len(property_dependencies["name"]) == 6 and property_dependencies["name"] == sorted(property_dependencies["name"])
