"""Streaming resources to the packs while the program runs (aifinops.pack_stream), through `aifinops preview`.

Each test runs a program in-process with throwaway packs as real processes over gRPC. What the tests
observe is order, never time: a program that waits for the pack to have analyzed its first resource before
it registers the next one can only finish that way if Analyze calls are sent while it runs.
"""
from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from aifinops import child_processes, pack_stream, policy_runner
from aifinops.cli import main
from aifinops.core.errors import PolicyPackError
from aifinops.core.policy_config import parse_config
from aifinops.engine import run_program
from aifinops.pack_stream import PackStream
from aifinops.policy_runner import PackEnvironment, PolicyPackSet
from aifinops.project import load_project
from tests.conftest import write_project
from tests.test_analyzer_protocol import write_pack
from tests.test_policy_runner import make_pack, small_graph

# The pack writes a file when it analyzes the bucket named "first"; its path comes from stack config.
MARKER_PACK = """
import os

def marks(args, report_violation):
    if args.name == "first":
        marker = json.loads(os.environ["PULUMI_CONFIG"])["testproj:marker"]
        with open(marker, "w") as written:
            written.write(args.urn)
    if args.resource_type == "aws:s3/bucketV2:BucketV2":
        report_violation("analyzed " + args.name)

PolicyPack("marker", [ResourceValidationPolicy(name="marks", description="marks", validate=marks)],
           enforcement_level=EnforcementLevel.ADVISORY)
"""

# The SDK registers resources from the event loop once the program's body has run, so "second" is made
# where registrations can be told apart in time: in a callback that runs once "first" has registered. It
# waits (up to a minute: only a broken stream takes that long) until the pack has analyzed "first".
WAITING_PROGRAM = """
import os, time
import pulumi, pulumi_aws as aws

marker = pulumi.Config().require("marker")

def after_first(urn):
    deadline = time.monotonic() + 60
    while not os.path.exists(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    aws.s3.BucketV2("second", bucket="second")
    return open(marker).read() if os.path.exists(marker) else ""

first = aws.s3.BucketV2("first", bucket="first")
pulumi.export("analyzedBeforeSecond", first.urn.apply(after_first))
"""


def preview_json(root: Path, capsys, *flags: str) -> tuple[int, dict, str]:
    code = main(["preview", "--cwd", str(root), "--json", *flags])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if captured.out.strip() else {}), captured.err


def stack_outputs(digest: dict) -> dict:
    return next(s for s in digest["steps"] if s["newState"]["type"] == "pulumi:pulumi:Stack")["newState"]["outputs"]


@pytest.fixture(autouse=True)
def packs_before():
    """The pack processes already running when a test starts (e.g. the session's shared packs)."""
    return set(policy_runner._RUNNING)


def started_packs_running(before: set) -> list:
    return [p for p in list(policy_runner._RUNNING) if p not in before and p.is_running]


@pytest.mark.parametrize("backlog", [pack_stream.RELAY_BACKLOG, 0], ids=["in-process", "relayed"])
def test_analyze_calls_begin_while_the_program_is_still_registering(tmp_path, capsys, monkeypatch, packs_before,
                                                                    backlog):
    monkeypatch.setattr(pack_stream, "RELAY_BACKLOG", backlog)  # 0: the relay takes the very first resource
    relays = []
    monkeypatch.setattr(pack_stream, "_Relay", lambda processes, started=pack_stream._Relay:
                        relays.append(started(processes)) or relays[-1])
    marker = tmp_path / "analyzed-first"
    root = write_project(tmp_path / "project", WAITING_PROGRAM, {"aws:region": "us-east-1", "marker": str(marker)})
    pack = write_pack(tmp_path / "marker", MARKER_PACK)
    code, digest, err = preview_json(root, capsys, "--policy-pack", str(pack))
    assert code == 0, err
    first_urn = "urn:pulumi:dev::testproj::aws:s3/bucketV2:BucketV2::first"
    # the program saw the pack's Analyze of "first" before it went on to register "second"
    assert stack_outputs(digest)["analyzedBeforeSecond"] == first_urn
    analyzed = [v["message"].split("\n", 1)[1] for v in digest["policyViolations"]]
    # reported in the graph's stable order (ties by program line: "second" is made on an earlier line),
    # not in the order the answers came
    assert analyzed == ["analyzed second", "analyzed first"]
    assert len(relays) == (backlog == 0)
    assert not started_packs_running(packs_before) and not relays_running()


# Buckets registered in reverse name order on one line: the graph's stable order (ties by line, then URN)
# is the opposite of the order they reach the packs, and the pack answers at uneven speeds.
REVERSED_PROGRAM = """
import pulumi_aws as aws
for i in reversed(range(24)):
    aws.s3.BucketV2(f"b{i:02d}", bucket=f"b{i:02d}")
"""
FLAG_EVERY_BUCKET = """
import time

def flags(args, report_violation):
    if args.resource_type == "aws:s3/bucketV2:BucketV2":
        time.sleep(0.002 * (int(args.name[1:]) % 5))  # answers overtake one another
        report_violation(args.name)

def stack_count(args, report_violation):
    report_violation(str(len(args.resources)))

PolicyPack("flagger", [ResourceValidationPolicy(name="flags", description="flags", validate=flags),
                       StackValidationPolicy(name="count", description="count", validate=stack_count)],
           enforcement_level=EnforcementLevel.MANDATORY)
"""


def test_streamed_results_are_those_of_a_run_over_the_finished_graph_in_stable_order(tmp_path, capsys):
    root = write_project(tmp_path / "project", REVERSED_PROGRAM, {"aws:region": "us-east-1"})
    flagger, marker = write_pack(tmp_path / "flagger", FLAG_EVERY_BUCKET), write_pack(tmp_path / "marker", MARKER_PACK)
    streamed = [preview_json(root, capsys, "--policy-pack", str(flagger), "--policy-pack", str(marker))
                for _ in range(2)]
    assert [code for code, _, _ in streamed] == [1, 1]  # mandatory violations
    (_, first, _), (_, second, _) = streamed
    assert first["policyViolations"] == second["policyViolations"]  # the same document on every run

    project = load_project(root)
    graph = run_program(project, project.load_stack("dev"))
    with PolicyPackSet([flagger, marker], PackEnvironment.for_graph(graph)) as packs:
        finished = packs.check(graph)
    as_digest = [(v["policyPack"], v["policy"], v["urn"], v["message"]) for v in first["policyViolations"]]
    assert as_digest == [(v.policy_pack, v.policy, v.urn, v.message) for v in finished.violations]
    names = [v.detail for v in finished.violations if v.policy == "flags"]
    assert names == [f"b{i:02d}" for i in range(24)]  # the graph's order, not the registration order
    assert [v.detail for v in finished.violations if v.policy == "count"] == ["26"]  # AnalyzeStack at the end


CRASH_PACK = """
import os

def crashes(args, report_violation):
    if args.name == "boom":
        os._exit(3)

PolicyPack("crasher", [ResourceValidationPolicy(name="crashes", description="crashes", validate=crashes)],
           enforcement_level=EnforcementLevel.MANDATORY)
"""
CRASH_PROGRAM = """
import pulumi_aws as aws
aws.s3.BucketV2("ok", bucket="ok")
aws.s3.BucketV2("boom", bucket="boom")
for i in range(20):
    aws.s3.BucketV2(f"after-{i}", bucket=f"after-{i}")
"""


def test_a_pack_crashing_mid_stream_fails_closed(tmp_path, capsys, packs_before):
    root = write_project(tmp_path / "project", CRASH_PROGRAM, {"aws:region": "us-east-1"})
    pack = write_pack(tmp_path / "crasher", CRASH_PACK)
    code, digest, err = preview_json(root, capsys, "--policy-pack", str(pack))
    assert code == 2 and not digest  # no report: a check never passes because a pack went away
    assert "policy pack 'crasher'" in err and "crashed (exit code 3) during Analyze of " in err and "::boom" in err
    assert not started_packs_running(packs_before)


def test_a_program_error_while_streaming_closes_the_packs(tmp_path, capsys, packs_before):
    program = CRASH_PROGRAM.replace('aws.s3.BucketV2("boom", bucket="boom")', 'raise ValueError("bad capacity")')
    root = write_project(tmp_path / "project", program, {"aws:region": "us-east-1"})
    code, _, err = preview_json(root, capsys, "--policy-pack", str(write_pack(tmp_path / "marker", MARKER_PACK)))
    assert code == 2 and "ValueError: bad capacity" in err
    assert not started_packs_running(packs_before)


def test_a_pack_that_cannot_start_fails_closed_after_the_program(tmp_path, capsys, packs_before):
    root = write_project(tmp_path / "project", CRASH_PROGRAM, {"aws:region": "us-east-1"})
    pack = write_pack(tmp_path / "broken", "raise ImportError('no module named policies.oops')\n")
    code, digest, err = preview_json(root, capsys, "--policy-pack", str(pack))
    assert code == 2 and not digest
    assert "exited (exit code 1) before it started serving" in err and "no module named policies.oops" in err
    assert not started_packs_running(packs_before)


READS_PACK = """
def analyzed(args, report_violation):
    report_violation("analyzed " + args.name)

def stacked(args, report_violation):
    report_violation(json.dumps(sorted(r.name for r in args.resources)))

PolicyPack("reads", [ResourceValidationPolicy(name="analyzed", description="analyzed", validate=analyzed),
                     StackValidationPolicy(name="stacked", description="stacked", validate=stacked)],
           enforcement_level=EnforcementLevel.ADVISORY)
"""


def test_reads_reach_only_analyze_stack(tmp_path, capsys):
    program = "import pulumi_aws as aws\naws.s3.BucketV2.get('existing', 'my-bucket')\naws.s3.BucketV2('new')\n"
    root = write_project(tmp_path / "project", program, {"aws:region": "us-east-1"})
    code, digest, err = preview_json(root, capsys, "--policy-pack", str(write_pack(tmp_path / "reads", READS_PACK)))
    assert code == 0, err
    details = [v["message"].split("\n", 1)[1] for v in digest["policyViolations"]]
    assert "analyzed new" in details and "analyzed existing" not in details
    assert "existing" in json.loads(next(d for d in details if d.startswith("[")))


@pytest.mark.parametrize("window", [1, 3])
def test_every_answer_is_kept_in_order_whatever_the_window(tmp_path, monkeypatch, window):
    monkeypatch.setattr(policy_runner, "ANALYZE_WINDOW", window)
    root = write_project(tmp_path / "project", REVERSED_PROGRAM, {"aws:region": "us-east-1"})
    project = load_project(root)
    graph = run_program(project, project.load_stack("dev"))
    flagger = write_pack(tmp_path / "flagger", FLAG_EVERY_BUCKET)
    with PolicyPackSet([flagger], PackEnvironment.for_graph(graph)) as packs:
        run = packs.check(graph)
    assert [v.detail for v in run.violations if v.policy == "flags"] == [f"b{i:02d}" for i in range(24)]
    assert run.resources_analyzed == 26  # the stack, the default provider and the buckets


def test_a_built_in_pack_serves_with_fewer_garbage_collections(monkeypatch):
    """AnalyzeStack of a large stack grew faster than the stack under the default collector thresholds."""
    import gc

    from aifinops.policies import packs

    served = []
    monkeypatch.setattr(packs, "PolicyPack", lambda **kwargs: served.append(kwargs["name"]))
    before = gc.get_threshold()
    try:
        packs.serve("cost")
        assert served == ["aifinops-cost"] and gc.get_threshold() == packs._GC_THRESHOLDS != before
        assert gc.get_freeze_count() > 0
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


# -- the Analyze relay: a long stream's calls sent from a process of its own (aifinops.analyze_relay) ----

def stream_while_running(packs: PolicyPackSet, graph, monkeypatch):
    """Submit every resource as a running program would (before finish), with the relay taking over at once."""
    monkeypatch.setattr(pack_stream, "RELAY_BACKLOG", 0)
    stream = PackStream(packs).start()
    for resource in graph:
        stream.submit(resource, graph)
    return stream, stream.finish(graph)


def relays_running() -> list:
    return [c for c in list(child_processes._LIVE) if "analyze_relay.py" in " ".join(c.popen.args)]


def test_the_relay_reports_what_the_packs_answer_in_process(tmp_path, monkeypatch):
    root = write_project(tmp_path / "project", REVERSED_PROGRAM, {"aws:region": "us-east-1"})
    project = load_project(root)
    graph = run_program(project, project.load_stack("dev"))
    flagger, marker = write_pack(tmp_path / "flagger", FLAG_EVERY_BUCKET), write_pack(tmp_path / "marker", MARKER_PACK)
    with PolicyPackSet([flagger, marker], PackEnvironment.for_graph(graph)) as packs:
        finished = packs.check(graph)  # a finished graph: no relay
        stream, relayed = stream_while_running(packs, graph, monkeypatch)
    assert stream.relayed == relayed.resources_analyzed == finished.resources_analyzed == 26
    assert relayed.violations == finished.violations
    assert [v.detail for v in relayed.violations if v.policy == "flags"] == [f"b{i:02d}" for i in range(24)]
    assert not relays_running()


def test_once_the_relay_runs_the_programs_own_thread_sends_to_it(tmp_path, monkeypatch):
    """A stream thread got the GIL too seldom to keep up with a busy program: once the relay is up, each
    registration is serialized and sent by the thread that submits it, and the results stay the same."""
    root = write_project(tmp_path / "project", REVERSED_PROGRAM, {"aws:region": "us-east-1"})
    project = load_project(root)
    graph = run_program(project, project.load_stack("dev"))
    flagger = write_pack(tmp_path / "flagger", FLAG_EVERY_BUCKET)
    sending = []
    send = pack_stream._Relay.send
    monkeypatch.setattr(pack_stream._Relay, "send", lambda relay, request: sending.append(
        (request.name, threading.current_thread().name)) or send(relay, request))
    monkeypatch.setattr(pack_stream, "RELAY_BACKLOG", 0)
    with PolicyPackSet([flagger], PackEnvironment.for_graph(graph)) as packs:
        finished = packs.check(graph)
        stream = PackStream(packs).start()
        first, *rest = list(graph)
        stream.submit(first, graph)
        for _ in range(600):  # until the stream thread has started the relay (the packs start first)
            if stream._direct is not None:
                break
            time.sleep(0.05)
        for resource in rest:
            stream.submit(resource, graph)
        relayed = stream.finish(graph)
    assert relayed.violations == finished.violations and stream.relayed == 26
    assert sending[0] == (first.name, "aifinops-pack-stream")
    assert {thread for _, thread in sending[1:]} == {threading.current_thread().name}
    assert not relays_running()


@pytest.mark.parametrize("body, expected", [
    ("if args.name == 'boom': os._exit(3)", r"crashed \(exit code 3\) during Analyze of .*::boom"),
    ("if args.name == 'boom': raise RuntimeError('policy bug')",
     r"policy pack 'fake': policy 'probe' raised RuntimeError during Analyze of resource urn:.*::boom: policy bug"),
    ("if args.name == 'boom': time.sleep(30)", r"did not answer Analyze of .*::boom.* within 1s"),
])
def test_a_pack_failing_behind_the_relay_fails_closed_as_it_would_in_process(tmp_path, monkeypatch, body, expected):
    monkeypatch.setattr(policy_runner, "ANALYZE_WINDOW", 1)  # so the failure is pinned on boom alone
    graph = small_graph("ok", "boom", "after")
    packs = PolicyPackSet([make_pack(tmp_path / "pack", body)], PackEnvironment.for_graph(graph), timeout=1,
                          start_timeout=30)
    with pytest.raises(PolicyPackError, match=expected):
        with packs:
            stream_while_running(packs, graph, monkeypatch)
    assert not packs.is_open and not relays_running()


def test_a_remediating_pack_is_never_relayed(tmp_path, monkeypatch):
    pack = make_pack(tmp_path / "pack", "pass")
    graph = small_graph("ok")
    with PolicyPackSet([pack], PackEnvironment.for_graph(graph)) as packs:
        monkeypatch.setattr(pack_stream, "RELAY_BACKLOG", 0)
        stream = PackStream(packs, lambda names: {"fake": [parse_config({"probe": "remediate"}, "test")]})
        stream.start()
        for resource in graph:
            stream.submit(resource, graph)
        run = stream.finish(graph)
    assert run.resources_analyzed == 3 and stream.relayed == 0  # each Remediate is answered before Analyze


# Stands in for the relay: reads a little, answers part of one frame, and dies.
DYING_RELAY = """
import os, sys
sys.stdin.buffer.read(4)
sys.stdout.buffer.write(b"R\\x00\\x00\\x00\\x00")
sys.stdout.buffer.flush()
sys.stderr.write("relay: out of memory\\n")
os._exit(9)
"""


def test_a_relay_that_dies_fails_closed_naming_what_it_said(tmp_path, monkeypatch):
    script = tmp_path / "dying_relay.py"
    script.write_text(DYING_RELAY)
    monkeypatch.setattr(pack_stream.analyze_relay, "__file__", str(script))
    graph = small_graph("ok", "later")
    packs = PolicyPackSet([make_pack(tmp_path / "pack", "pass")], PackEnvironment.for_graph(graph), timeout=5,
                          start_timeout=30)
    with pytest.raises(PolicyPackError, match=r"the Analyze relay exited with code 9 after 0 of 4 answers:\n"
                                              r"relay: out of memory"):
        with packs:
            stream_while_running(packs, graph, monkeypatch)
    assert not packs.is_open and not relays_running()


# Reports the nice value of the thread that runs the policy (one of the SDK's gRPC server threads, which
# the pack's process started after aifinops had lowered its priority) and its scheduling group's.
NICE_REPORTING_PACK = """
import os, threading

def reports_nice(args, report_violation):
    if args.name == "first":
        group = open("/proc/self/autogroup").read().split()[-1] if os.path.exists("/proc/self/autogroup") else ""
        report_violation(f"{os.getpriority(os.PRIO_PROCESS, threading.get_native_id())} {group}")

PolicyPack("nice", [ResourceValidationPolicy(name="reports-nice", description="reports nice", validate=reports_nice)],
           enforcement_level=EnforcementLevel.ADVISORY)
"""
TWO_BUCKETS = """
import pulumi_aws as aws
aws.s3.BucketV2("first", bucket="first")
aws.s3.BucketV2("second", bucket="second")
"""


def session_groups_can_be_lowered() -> bool:
    """Whether this kernel has session scheduling groups (autogroup) and lets this user lower one's priority."""
    probe = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        with open(f"/proc/{probe.pid}/autogroup", "w") as group:
            group.write("5")
        with open(f"/proc/{probe.pid}/autogroup") as group:
            return group.read().split()[-1] == "5"
    except OSError:
        return False
    finally:
        probe.kill()
        probe.wait()


def reported_nice(violations) -> tuple[int, str]:
    thread, _, group = next(v for v in violations if v["policy"] == "reports-nice")["message"].split("\n", 1)[1].partition(" ")
    return int(thread), group


def test_packs_streamed_beside_the_program_run_at_lower_priority_and_a_finished_graph_at_normal(
        tmp_path, capsys, monkeypatch):
    """The program is the critical path of a preview: its packs (and the relay) yield the CPU to it."""
    from aifinops.policy_check import PROGRAM_FIRST_NICENESS
    own = os.getpriority(os.PRIO_PROCESS, 0)
    lowered = min(19, own + PROGRAM_FIRST_NICENESS)
    monkeypatch.setattr(pack_stream, "RELAY_BACKLOG", 0)
    relay_nice = []
    answers = pack_stream._Relay.answers

    def relay_answers(relay):
        # The relay's nice value is set before it execs `python -P analyze_relay.py`: read it once it has.
        deadline = time.monotonic() + 30
        while open(f"/proc/{relay.child.pid}/cmdline", "rb").read().split(b"\0")[1] != b"-P" \
                and time.monotonic() < deadline:
            time.sleep(0.01)
        relay_nice.append(os.getpriority(os.PRIO_PROCESS, relay.child.pid))
        return answers(relay)
    monkeypatch.setattr(pack_stream._Relay, "answers", relay_answers)
    root = write_project(tmp_path / "project", TWO_BUCKETS, {"aws:region": "us-east-1"})
    pack = write_pack(tmp_path / "nice", NICE_REPORTING_PACK)
    code, digest, err = preview_json(root, capsys, "--policy-pack", str(pack))
    assert code == 0, err
    thread_nice, group_nice = reported_nice(digest["policyViolations"])
    assert thread_nice == lowered and relay_nice == [lowered]
    if session_groups_can_be_lowered():  # a kernel that schedules by session ranks the group too
        assert group_nice == str(lowered)

    project = load_project(root)
    graph = run_program(project, project.load_stack("dev"))
    with PolicyPackSet([pack], PackEnvironment.for_graph(graph)) as packs:
        run = packs.check(graph)
    assert reported_nice([{"policy": v.policy, "message": v.message} for v in run.violations])[0] == own
