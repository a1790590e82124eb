"""Work shared by the policies of one Analyzer call (aifinops.policies.call_memo)."""
from __future__ import annotations

import gc
import importlib
import inspect
import json
import threading

import pulumi_policy.policy
import pytest
from google.protobuf import json_format
from pulumi_policy import EnforcementLevel

from aifinops.analyzer_requests import analyze_requests, analyze_stack_request
from aifinops.engine import run_program
from aifinops.policies import call_memo, packs
from aifinops.policies.call_memo import once_per_call
from aifinops.project import load_project
from tests.conftest import write_project


class Servicer:
    def __init__(self) -> None:
        self.computed = 0

    def AnalyzeStack(self, request, context):
        def compute():
            self.computed += 1
            return [request]
        first, second = once_per_call("views", compute), once_per_call("views", compute)
        return first is second, once_per_call(("other", request), lambda: request)


def test_a_call_computes_once_and_the_next_call_afresh():
    call_memo.install(Servicer)
    servicer = Servicer()
    assert servicer.AnalyzeStack("a", None) == (True, "a")
    assert servicer.AnalyzeStack("b", None) == (True, "b")  # nothing kept from the call before
    assert servicer.computed == 2


def test_a_result_computed_from_an_object_is_kept_for_that_object_only():
    class Converting:
        def AnalyzeStack(self, request, context):
            first, second = [request], [request]  # equal, but two objects
            convert = lambda views: once_per_call("convert", lambda: list(views), of=views)  # noqa: E731
            return convert(first) is convert(first), convert(first) is convert(second), convert(second) == second

    call_memo.install(Converting)
    assert Converting().AnalyzeStack("a", None) == (True, False, True)


def test_outside_a_call_nothing_is_kept():
    calls = []
    assert once_per_call("k", lambda: calls.append(1) or len(calls)) == 1
    assert once_per_call("k", lambda: calls.append(1) or len(calls)) == 2


def test_calls_in_parallel_threads_keep_their_own_memo():
    seen = {}
    barrier = threading.Barrier(2)

    class Waiting(Servicer):
        def AnalyzeStack(self, request, context):
            once_per_call("views", lambda: request)
            barrier.wait(timeout=10)  # both calls hold a memo at once
            seen[request] = once_per_call("views", lambda: "recomputed")

    call_memo.install(Waiting)
    waiting = Waiting()
    threads = [threading.Thread(target=waiting.AnalyzeStack, args=(name, None)) for name in ("x", "y")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert seen == {"x": "x", "y": "y"}


def test_installing_twice_wraps_once_and_a_built_in_pack_installs_it(monkeypatch):
    call_memo.install(Servicer)
    wrapped = Servicer.AnalyzeStack
    call_memo.install(Servicer)
    assert Servicer.AnalyzeStack is wrapped

    servicer_class = pulumi_policy.policy._PolicyAnalyzerServicer
    for name in ("Analyze", "AnalyzeStack"):
        monkeypatch.setattr(servicer_class, name, inspect.unwrap(getattr(servicer_class, name)))
    monkeypatch.setattr(pulumi_policy.policy, "json_format", json_format)
    monkeypatch.setattr(pulumi_policy.policy, "signature", inspect.signature)
    monkeypatch.setattr(packs, "PolicyPack", lambda **kwargs: None)
    monkeypatch.setattr(packs, "_collect_garbage_less_often", lambda: None)
    packs.serve("cost")
    assert getattr(servicer_class.Analyze, "with_call_memo", False)
    assert getattr(inspect.unwrap(servicer_class.AnalyzeStack, stop=lambda f: getattr(f, "with_call_memo", False)),
                   "with_call_memo", False)
    assert getattr(servicer_class.AnalyzeStack, "collector_paused", False)
    assert isinstance(pulumi_policy.policy.json_format, call_memo.JsonFormatWithMemo)
    assert hasattr(pulumi_policy.policy.signature, "cache_info")


def test_a_pack_reads_the_sdk_settings_signature_once_not_per_call(tmp_path, monkeypatch):
    for name, value in {"PULUMI_PROJECT": "testproj", "PULUMI_STACK": "dev", "PULUMI_DRY_RUN": "true",
                        "PULUMI_CONFIG": json.dumps({"aws:region": "us-east-1"})}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(pulumi_policy.policy, "signature", inspect.signature)
    packs._settings_signature_read_once(pulumi_policy.policy)
    kept = pulumi_policy.policy.signature
    packs._settings_signature_read_once(pulumi_policy.policy)
    assert pulumi_policy.policy.signature is kept  # idempotent
    project = load_project(write_project(tmp_path, VIOLATING_PROGRAM, {"aws:region": "us-east-1"}))
    analyzed, _ = served_answers(run_program(project, project.load_stack("dev")), "security")
    assert len(analyzed) > 3
    assert kept.cache_info().misses == 1 and kept.cache_info().hits == len(analyzed)  # and AnalyzeStack once


def served_answers(graph, kind: str) -> tuple[list[bytes], bytes]:
    """A built-in pack's servicer, called in-process: each Analyze answer and the AnalyzeStack answer."""
    module = importlib.import_module(f"aifinops.policies.{kind}")
    servicer = pulumi_policy.policy._PolicyAnalyzerServicer(
        module.PACK_NAME, "0.0.1", module.POLICIES, EnforcementLevel.MANDATORY, None, "", None, None, None, None, None)
    analyzed = [servicer.Analyze(request, None).SerializeToString() for request in analyze_requests(graph)]
    return analyzed, servicer.AnalyzeStack(analyze_stack_request(graph), None).SerializeToString()


# Untagged, unencrypted, without lifecycle, and an unapproved GPU type: both packs have things to say,
# resource by resource and about the stack.
VIOLATING_PROGRAM = """
import pulumi_aws as aws
for i in range(3):
    bucket = aws.s3.Bucket(f"data-{i}")
    aws.s3.BucketVersioning(f"data-{i}-versioning", bucket=bucket.id, versioning_configuration={"status": "Enabled"})
    aws.ec2.Instance(f"gpu-{i}", instance_type="p5.48xlarge", ami="ami-0123456789abcdef0")
"""


@pytest.mark.parametrize("kind", ["cost", "security"])
def test_the_packs_answer_the_same_with_the_memo_and_convert_less(tmp_path, monkeypatch, kind):
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({"aws:region": "us-east-1"}))
    project = load_project(write_project(tmp_path, VIOLATING_PROGRAM, {"aws:region": "us-east-1"}))
    graph = run_program(project, project.load_stack("dev"))
    servicer_class = pulumi_policy.policy._PolicyAnalyzerServicer
    for name in ("Analyze", "AnalyzeStack"):
        monkeypatch.setattr(servicer_class, name, inspect.unwrap(getattr(servicer_class, name)))
    conversions = []
    original = json_format.MessageToDict
    monkeypatch.setattr(json_format, "MessageToDict", lambda *a, **k: conversions.append(1) or original(*a, **k))
    monkeypatch.setattr(pulumi_policy.policy, "json_format", json_format)
    without = served_answers(graph, kind)
    converted_without, conversions[:] = len(conversions), []
    call_memo.install(servicer_class, pulumi_policy.policy)
    with_memo = served_answers(graph, kind)
    analyzed, stack = without
    assert with_memo == without  # byte for byte
    assert any(analyzed) or stack  # answers with violations in them
    assert 0 < len(conversions) < converted_without / 2


def test_analyze_stack_runs_with_the_collector_paused_even_when_calls_overlap():
    seen, barrier = [], threading.Barrier(2)

    def analyze_stack(name):
        barrier.wait(timeout=10)
        seen.append((name, gc.isenabled()))
        if name == "quick":
            return
        barrier.wait(timeout=10)  # the quick call has returned: the collector stays paused for this one
        seen.append((name, gc.isenabled()))

    paused = packs._collector_paused(analyze_stack)
    assert gc.isenabled()
    threads = [threading.Thread(target=paused, args=(name,)) for name in ("quick", "slow")]
    for thread in threads:
        thread.start()
    threads[0].join(timeout=10)
    barrier.wait(timeout=10)
    threads[1].join(timeout=10)
    assert sorted(seen) == [("quick", False), ("slow", False), ("slow", False)]
    assert gc.isenabled()  # on again after the last call
