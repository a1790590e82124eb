"""Nothing outlives a run: packs, checkov and their children in process groups of their own, stopped on
SIGTERM/SIGHUP/SIGINT (exit 128 + N) and, when aifinops is SIGKILLed, by the guard; pipes read with
deadlines, so a grandchild holding one never hangs aifinops. Checked with the process table (/proc)
and the temp folder (TMPDIR of the run)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from aifinops.child_processes import GUARD, PIPE_GRACE_SECONDS, ChildProcess, ChildTimeout
from aifinops.policy_runner import PackEnvironment, PolicyPackSet
from tests.conftest import tagged_config, write_project
from tests.test_policy_runner import make_pack, small_graph

pytestmark = pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads the Linux process table")

PROGRAM = """
import pulumi_aws as aws
aws.s3.Bucket("data", tags={"CostCenter": "ml", "Project": "test", "Environment": "dev"})
"""
# A pack whose policy starts a grandchild holding the pack's pipes, says it is running, then hangs.
SLOW_BODY = ("subprocess.Popen(['sleep', '300'])\n"
             "open(os.environ['AIFINOPS_TEST_STARTED'], 'w').close()\n"
             "time.sleep(300)")


def processes_with(marker: str) -> list[int]:
    """Every live process whose environment carries `marker` (whatever it was started as), but this
    one and its guard (which outlives a test, and may have been started with the marker set)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in (os.getpid(), GUARD.pid):
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = next((line for line in (entry / "status").read_text().splitlines()
                          if line.startswith("State:")), "")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if marker.encode() in environ and "zombie" not in state:
            found.append(int(entry.name))
    return found


def wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def run_files(temp: Path) -> list[Path]:
    """What the run put in its temp folder, less the parser cache that importing checkov writes there
    (lark's `.lark_cache_*.tmp`): a cache kept across runs on purpose, as checkov run by hand keeps it."""
    return [path for path in temp.iterdir() if not path.name.startswith(".lark_cache_")]


@pytest.fixture
def slow_run(tmp_path: Path):
    """Start `aifinops preview --checkov` with a pack that hangs in Analyze; yield once the pack is
    analysing and the checkov export is on disk, with the marker and the run's temp folder."""
    root = write_project(tmp_path / "project", PROGRAM, tagged_config())
    pack = make_pack(tmp_path / "slow-pack", SLOW_BODY, before_pack="import subprocess\n")
    temp = tmp_path / "tmp"
    temp.mkdir()
    started = tmp_path / "started"
    marker = f"AIFINOPS_TEST_RUN={uuid.uuid4().hex}"
    env = {**os.environ, "TMPDIR": str(temp), "AIFINOPS_TEST_STARTED": str(started),
           marker.split("=")[0]: marker.split("=")[1]}
    process = subprocess.Popen([sys.executable, "-m", "aifinops", "preview", "-C", str(root), "--checkov",
                                "--policy-pack", str(pack), "--policy-timeout", "600"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: started.exists() or process.poll() is not None, 120), "the pack never started"
        assert process.poll() is None, process.communicate()
        # The pack analyses while the program still runs (streamed); checkov's export follows the program.
        assert wait_for(lambda: any(run_files(temp)), 60), "the checkov export should be on disk while the packs run"
        assert len(processes_with(marker)) >= 3  # aifinops, the pack, its sleep (and checkov, the guard)
        yield process, marker, temp
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_termination_signal_stops_every_child_and_removes_temp_files(slow_run, number):
    process, marker, temp = slow_run
    process.send_signal(number)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 128 + number, stderr
    assert f"stopped by {signal.Signals(number).name}" in stderr
    assert wait_for(lambda: not processes_with(marker), 10), processes_with(marker)
    assert run_files(temp) == []


def test_after_sigkill_the_guard_stops_the_children_and_removes_temp_files(slow_run):
    process, marker, temp = slow_run
    process.kill()
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL
    # The guard reads end-of-file at once; seconds are ample on a loaded machine.
    assert wait_for(lambda: not processes_with(marker), 10), processes_with(marker)
    assert run_files(temp) == []


def test_a_pack_whose_policy_starts_a_child_does_not_hang_the_run(tmp_path: Path, monkeypatch):
    """The child (`sleep 300`) holds the pack's stdout and stderr; closing the set kills the pack's
    process group and stops reading without waiting for the pipes to close."""
    marker = uuid.uuid4().hex
    monkeypatch.setenv("AIFINOPS_TEST_CHILD", marker)
    pack = make_pack(tmp_path / "pack", "subprocess.Popen(['sleep', '300'])",
                     before_pack="import subprocess\n")
    graph = small_graph("a", "b")
    started = time.monotonic()
    with PolicyPackSet([pack], PackEnvironment.for_graph(graph), timeout=30, start_timeout=60) as packs:
        run = packs.check(graph)
        assert len(processes_with(marker)) >= 2  # the pack and its sleeps are running
    assert run.resources_analyzed == len(graph)
    assert time.monotonic() - started < 60  # before this fix: until the sleep ended (300 s)
    assert wait_for(lambda: not processes_with(marker), 5), processes_with(marker)


def test_finishing_a_child_never_waits_on_a_grandchild_that_holds_its_pipes(monkeypatch):
    marker = uuid.uuid4().hex
    monkeypatch.setenv("AIFINOPS_TEST_CHILD", marker)
    child = ChildProcess(["sh", "-c", "sleep 300 & echo started"])
    started = time.monotonic()
    assert child.finish(timeout=30) == 0
    assert time.monotonic() - started < PIPE_GRACE_SECONDS + 5
    assert child.stdout == b"started\n"
    assert wait_for(lambda: not processes_with(marker), 5), processes_with(marker)


def test_a_child_that_outlives_its_time_is_stopped(monkeypatch):
    marker = uuid.uuid4().hex
    monkeypatch.setenv("AIFINOPS_TEST_CHILD", marker)
    child = ChildProcess(["sleep", "300"])
    with pytest.raises(ChildTimeout, match="did not exit within 0.5s"):
        child.finish(timeout=0.5)
    assert wait_for(lambda: not processes_with(marker), 5), processes_with(marker)


def test_a_failed_command_stops_the_children_it_started_and_leaves_the_callers(monkeypatch):
    """A command run inside a longer-lived process (a test session sharing its packs) stops only what it
    started, whatever way it fails."""
    from aifinops import cli
    callers = ChildProcess(["sleep", "300"])
    started: list[ChildProcess] = []

    def broken(args):
        started.append(ChildProcess(["sleep", "300"]))
        raise KeyError("resources")

    monkeypatch.setattr("aifinops.cost_command.load_graph", broken)
    try:
        assert cli.main(["cost"]) == 3
        assert started[0].poll() is not None  # the command's own child was stopped
        assert callers.poll() is None  # the caller's is still running
    finally:
        callers.stop()


def test_a_child_at_lower_priority_runs_its_own_command_with_every_thread_lowered():
    script = ("import os, sys, threading\n"
              "seen = []\n"
              "thread = threading.Thread(target=lambda: seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))\n"
              "thread.start(); thread.join()\n"
              "print(os.getpriority(os.PRIO_PROCESS, 0), seen[0], sys.argv[1:])\n")
    child = ChildProcess([sys.executable, "-c", script, "a b", "c"], niceness=3)
    assert child.finish(30) == 0, child.stderr
    expected = min(19, os.getpriority(os.PRIO_PROCESS, 0) + 3)
    assert child.stdout.decode().split(None, 2) == [str(expected), str(expected), "['a b', 'c']\n"]


def test_a_child_at_lower_priority_whose_program_is_missing_fails_as_popen_would():
    with pytest.raises(FileNotFoundError, match="no-such-program-for-aifinops"):
        ChildProcess(["no-such-program-for-aifinops", "--version"], niceness=3)
