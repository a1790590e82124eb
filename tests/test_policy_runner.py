"""The policy runner: packs started as the CLI starts them, the Analyzer protocol, and failing closed."""
import json
import sys
import textwrap
from pathlib import Path

import pytest

from aifinops import policies, policy_runner
from aifinops.core.errors import PolicyPackError
from aifinops.graph import Resource, ResourceGraph
from aifinops.policy_runner import PackEnvironment, PolicyPackSet, pack_python
from tests.conftest import REPO_ROOT

STACK_URN = "urn:pulumi:dev::proj::pulumi:pulumi:Stack::proj-dev"
PROVIDER_URN = "urn:pulumi:dev::proj::pulumi:providers:aws::default_7_51_1"
SECRET = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": "hunter2"}


def small_graph(*names: str) -> ResourceGraph:
    graph = ResourceGraph("proj", "dev", {"aws:region": "eu-west-1", "proj:team": {"name": "ml"}})
    graph.add(Resource(STACK_URN, "pulumi:pulumi:Stack", "proj-dev", False, outputs={"exported": 1}))
    graph.add(Resource(PROVIDER_URN, "pulumi:providers:aws", "default_7_51_1", True, id="prov-id",
                       inputs={"region": "eu-west-1", "defaultTags": {"tags": {"Team": "ml"}}}))
    for name in names:
        graph.add(Resource(f"urn:pulumi:dev::proj::aws:s3/bucket:Bucket::{name}", "aws:s3/bucket:Bucket", name, True,
                           parent=STACK_URN, provider=f"{PROVIDER_URN}::prov-id", id=f"{name}-id",
                           inputs={"bucket": name, "password": SECRET},
                           outputs={"bucket": name, "arn": f"arn:aws:s3:::{name}"},
                           dependencies=[PROVIDER_URN], property_dependencies={"bucket": []}))
    return graph


def make_pack(root: Path, validate_body: str, *, before_pack: str = "", stack_body: str = "",
              runtime: str = "python", virtualenv: str | None = None) -> Path:
    """A throwaway pack (name 'fake') with one resource policy 'probe' whose validate runs `validate_body`."""
    root.mkdir(parents=True)
    venv = virtualenv if virtualenv is not None else str(REPO_ROOT / ".venv")
    (root / "PulumiPolicy.yaml").write_text(f"runtime:\n  name: {runtime}\n  options:\n    virtualenv: {venv}\n")
    stack_policy = ""
    if stack_body:
        stack_policy = ("def validate_stack(args, report_violation):\n" + textwrap.indent(stack_body, "    ") +
                        "\nPOLICIES.append(StackValidationPolicy(name='stack-probe', description='stack probe', "
                        "validate=validate_stack))\n")
    (root / "__main__.py").write_text(
        "import json, os, sys, time\n"
        "from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy, StackValidationPolicy\n"
        + before_pack +
        "def validate(args, report_violation):\n" + textwrap.indent(validate_body, "    ") + "\n"
        "POLICIES = [ResourceValidationPolicy(name='probe', description='probe', validate=validate)]\n"
        + stack_policy +
        "PolicyPack(name='fake', policies=POLICIES, enforcement_level=EnforcementLevel.MANDATORY)\n")
    return root


def check(pack: Path, graph: ResourceGraph, timeout: float = 30):
    packs = PolicyPackSet([pack], PackEnvironment.for_graph(graph), timeout=timeout, start_timeout=30)
    with packs:
        return packs.check(graph), packs


def test_a_pack_sees_what_the_engine_would_send(tmp_path):
    body = """
if args.resource_type == 'aws:s3/bucket:Bucket':
    report_violation(json.dumps({
        'props': dict(args.props), 'urn': args.urn, 'name': args.name, 'parent': args.opts.parent,
        'provider': {'type': args.provider.resource_type, 'urn': args.provider.urn, 'region': args.provider.props['region'],
                     'tags': dict(args.provider.props['defaultTags']['tags'])},
        'env': {k: os.environ.get(k) for k in ('PULUMI_PROJECT', 'PULUMI_STACK', 'PULUMI_DRY_RUN',
                                              'PULUMI_ORGANIZATION', 'PULUMI_CONFIG')},
        'cwd': os.getcwd(), 'python': sys.executable}))
"""
    stack_body = """
bucket = next(r for r in args.resources if r.resource_type == 'aws:s3/bucket:Bucket')
report_violation(json.dumps({'count': len(args.resources), 'arn': bucket.props['arn'],
                             'parent': bucket.parent.urn, 'deps': [d.urn for d in bucket.dependencies],
                             'provider_region': bucket.provider.props['region']}), bucket.urn)
"""
    pack = make_pack(tmp_path / "pack", body, stack_body=stack_body)
    run, packs = check(pack, small_graph("data"))
    assert not packs.is_open  # killed on exit
    resource, stack = run.violations
    seen = json.loads(resource.detail)
    assert resource.urn == "urn:pulumi:dev::proj::aws:s3/bucket:Bucket::data"  # filled in: the SDK sends ""
    assert seen["props"] == {"bucket": "data", "password": "hunter2"}  # inputs, secrets unwrapped by the SDK
    assert seen["parent"] == STACK_URN and seen["name"] == "data"
    assert seen["provider"] == {"type": "pulumi:providers:aws", "urn": PROVIDER_URN, "region": "eu-west-1",
                                "tags": {"Team": "ml"}}
    assert seen["env"]["PULUMI_PROJECT"] == "proj" and seen["env"]["PULUMI_STACK"] == "dev"
    assert seen["env"]["PULUMI_DRY_RUN"] == "true" and seen["env"]["PULUMI_ORGANIZATION"] == "organization"
    assert json.loads(seen["env"]["PULUMI_CONFIG"]) == {"aws:region": "eu-west-1", "proj:team": '{"name": "ml"}'}
    assert Path(seen["cwd"]) == pack.resolve()
    assert Path(seen["python"]).parent == REPO_ROOT / ".venv" / "bin"
    totals = json.loads(stack.detail)
    assert totals == {"count": 3, "arn": "arn:aws:s3:::data", "parent": STACK_URN, "deps": [PROVIDER_URN],
                      "provider_region": "eu-west-1"}
    assert run.resources_analyzed == 3


def test_many_resources_keep_their_order(tmp_path):
    pack = make_pack(tmp_path / "pack", "if args.name.startswith('b'): report_violation(args.name)")
    names = [f"b{i:03d}" for i in range(60)]
    run, _ = check(pack, small_graph(*names))
    assert [v.detail for v in run.violations] == names
    assert all(v.is_mandatory and v.policy_pack == "fake" for v in run.violations)


@pytest.mark.parametrize("body, before, expected", [
    ("if args.name == 'boom': os._exit(3)", "", r"crashed \(exit code 3\) during Analyze of urn:.*::boom"),
    ("if args.name == 'boom': raise RuntimeError('policy bug')", "",
     r"policy pack 'fake': policy 'probe' raised RuntimeError during Analyze of resource urn:.*::boom: policy bug"),
    ("if args.name == 'boom': time.sleep(30)", "", r"did not answer Analyze of urn:.*::boom within 1s"),
    ("pass", "raise ImportError('no module named policies.oops')\n",
     r"exited \(exit code 1\) before it started serving(.|\n)*no module named policies.oops"),
    ("pass", "print('hello from the pack')\n", r"printed 'hello from the pack' where the CLI expects the port"),
])
def test_a_broken_pack_fails_closed_and_is_killed(tmp_path, monkeypatch, body, before, expected):
    # One Analyze call at a time, so that a crash is pinned on the one resource that caused it (with
    # several in flight the runner can only name them all: see the test below).
    monkeypatch.setattr(policy_runner, "ANALYZE_WINDOW", 1)
    pack = make_pack(tmp_path / "pack", body, before_pack=before)
    packs = PolicyPackSet([pack], PackEnvironment.for_graph(small_graph("boom")), timeout=1, start_timeout=30)
    with pytest.raises(PolicyPackError, match=expected):
        with packs:
            packs.check(small_graph("ok", "boom"))
    assert not packs.is_open
    assert all(p._process is None for p in packs.processes)


def test_a_crash_with_calls_in_flight_names_every_resource_that_was_in_flight(tmp_path):
    pack = make_pack(tmp_path / "pack", "if args.name == 'boom': os._exit(3)")
    packs = PolicyPackSet([pack], PackEnvironment.for_graph(small_graph("boom")), timeout=5, start_timeout=30)
    with pytest.raises(PolicyPackError, match=r"crashed \(exit code 3\) during Analyze of ") as raised:
        with packs:
            packs.check(small_graph("ok", "boom"))
    # The ok resource may have been answered before the crash; boom was in flight either way.
    assert "::boom" in str(raised.value).split("during Analyze of ", 1)[1].split("\n")[0]
    assert not packs.is_open


def test_a_crashing_stack_policy_fails_closed(tmp_path):
    pack = make_pack(tmp_path / "pack", "pass", stack_body="os._exit(4)")
    with pytest.raises(PolicyPackError, match=r"crashed \(exit code 4\) during AnalyzeStack"):
        check(pack, small_graph("data"))


def test_pack_definition_errors(tmp_path):
    with pytest.raises(PolicyPackError, match="runtime is 'nodejs'"):
        pack_python(make_pack(tmp_path / "node", "pass", runtime="nodejs"))
    with pytest.raises(PolicyPackError, match="virtualenv .*missing-venv does not exist.*scripts/bootstrap"):
        pack_python(make_pack(tmp_path / "novenv", "pass", virtualenv="missing-venv"))
    with pytest.raises(PolicyPackError, match="no PulumiPolicy.yaml"):
        pack_python(tmp_path)
    # the shipped packs name no virtualenv: they run with the interpreter that has aifinops installed
    assert [pack_python(d) for d in policies.pack_dirs()] == [sys.executable] * 2


def test_shipped_packs_declare_their_policies(policy_packs):
    graph = small_graph("data")
    policy_packs.check(graph)
    packs = {pack.name: pack for pack in policy_packs._sets[("proj", "dev")].packs}
    assert {"aifinops-cost", "aifinops-security"} <= set(packs)
    cost = packs["aifinops-cost"]
    tags = cost.policy("required-cost-tags")
    assert tags.enforcement_level == "mandatory" and tags.is_stack_policy
    assert tags.config_schema["properties"]["requiredTags"]["default"] == ["CostCenter", "Project", "Environment"]
    assert cost.policy("approved-gpu-instance-types").config_schema["properties"]["approvedInstanceTypes"]["default"]
    security = packs["aifinops-security"]
    for name in ("s3-bucket-server-side-encryption", "s3-bucket-public-access-block", "ebs-volumes-encrypted",
                 "imdsv2-required", "gpu-instance-no-public-ip"):
        assert security.policy(name).enforcement_level == "mandatory"


def test_a_pack_that_never_prints_its_port_times_out(tmp_path):
    pack = make_pack(tmp_path / "pack", "pass", before_pack="time.sleep(30)\n")
    packs = PolicyPackSet([pack], PackEnvironment("proj", "dev"), start_timeout=1)
    with pytest.raises(PolicyPackError, match="did not print its port within 1s"):
        packs.__enter__()
    assert not packs.is_open


GARBAGE_ANALYZER = """
import sys, time
from concurrent import futures
import grpc
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

class Garbage(analyzer_pb2_grpc.AnalyzerServicer):
    def GetAnalyzerInfo(self, request, context):
        return analyzer_pb2.AnalyzerInfo(name="garbage", version="1.0.0", policies=[
            analyzer_pb2.PolicyInfo(name="real", description="d", enforcementLevel=analyzer_pb2.MANDATORY)])
    def ConfigureStack(self, request, context):
        return analyzer_pb2.AnalyzerStackConfigureResponse()
    def Configure(self, request, context):
        from google.protobuf import empty_pb2
        return empty_pb2.Empty()
    def Analyze(self, request, context):
        return analyzer_pb2.AnalyzeResponse(diagnostics=[analyzer_pb2.AnalyzeDiagnostic(
            policyName="ghost", message="boo", enforcementLevel=analyzer_pb2.MANDATORY)])

server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
analyzer_pb2_grpc.add_AnalyzerServicer_to_server(Garbage(), server)
print(server.add_insecure_port("127.0.0.1:0"), flush=True)
server.start()
time.sleep(3600)
"""
NOT_GRPC = """
import socket
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen()
print(listener.getsockname()[1], flush=True)
while True:
    connection, _ = listener.accept()
    connection.sendall(b"HTTP/1.0 200 OK\\r\\n\\r\\nnot an analyzer")
    connection.close()
"""


@pytest.mark.parametrize("program, expected", [
    (GARBAGE_ANALYZER, "answered Analyze of .* with a diagnostic for unknown policy 'ghost'"),
    (NOT_GRPC, "failed Handshake: UNAVAILABLE"),
])
def test_a_pack_answering_garbage_fails_closed(tmp_path, program, expected):
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "PulumiPolicy.yaml").write_text(f"runtime:\n  name: python\n  options:\n    virtualenv: {REPO_ROOT / '.venv'}\n")
    (pack / "__main__.py").write_text(program)
    packs = PolicyPackSet([pack], PackEnvironment("proj", "dev"), timeout=5, start_timeout=10)
    with pytest.raises(PolicyPackError, match=expected):
        with packs:
            packs.check(small_graph("data"))
    assert not packs.is_open
