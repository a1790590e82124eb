"""Streams resources to the policy packs as the program registers them, as the Pulumi CLI does.

The engine's step generator calls Remediate, then Analyze, for each resource as it registers, while the
program goes on; AnalyzeStack comes once at the end, with outputs. A PackStream does the same from a
thread of its own: `submit` queues a registered resource; the thread connects and configures the packs
(so they start while the program still imports its SDKs), sends each resource through every pack's
Remediate in order (the remediated inputs are what later packs and Analyze see, and what the graph keeps),
then one Analyze request to every pack, a few calls in flight per pack (ANALYZE_WINDOW). `finish` waits for
the last answers, sends AnalyzeStack and returns the PolicyRun.

A long stream's Analyze calls go through aifinops.analyze_relay, a process of its own: a thread here that
waits on gRPC answers while the program keeps the interpreter busy gets the GIL back too seldom, and the
calls fell behind the program. Once RELAY_BACKLOG registrations wait while the program runs, the thread
starts the relay and hands it what is queued; from then on `submit` itself, in the program's thread,
serializes each request and writes them to the relay a few kilobytes at a time (RELAY_WRITE_BYTES): a
thread of its own got the GIL too seldom for that too, and half the resources were still queued when the
program ended. The answers come back when the stream ends. A stream with a pack that remediates stays
here: each Remediate must be answered before the next pack sees the resource.

Answers arrive in any order; results are kept by resource and assembled at the end in the graph's stable
order (see ResourceGraph.put_in_stable_order), so a streamed run reports exactly what a run over the
finished graph reports. Reads (Resource.get, StackReference) are not analyzed one by one: the engine
analyzes registrations, and reads reach the packs in AnalyzeStack.

Fail closed: a pack that fails to start, crashes, hangs or answers garbage stops the stream; the error
is raised by `finish` (the program is not interrupted), and the packs are closed.
"""
from __future__ import annotations

import collections
import dataclasses
import json
import queue
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Mapping, Optional, Sequence

from pulumi.runtime.proto import analyzer_pb2

import grpc

from . import analyze_relay, policy_runner
from .analyzer_requests import analyze_request, analyze_stack_request
from .child_processes import ChildProcess, ChildTimeout
from .core.errors import PolicyPackError
from .core.policy_config import PolicyPackConfig, reconcile
from .graph import STACK_TYPE, Resource, ResourceGraph
from .policy_runner import PolicyPackProcess, PolicyPackSet, PolicyRemediation, PolicyRun, PolicyViolation

# pack names -> each pack's config documents, applied in order (they can only be paired with packs
# once the packs have said who they are)
ConfigsFor = Callable[[Sequence[str]], Mapping[str, Sequence[PolicyPackConfig]]]
_END = object()
# Registrations waiting that start the relay: a program whose packs keep up needs no process more (it takes
# about 0.1 s to start), and neither does a run over a finished graph (nothing competes for the GIL).
RELAY_BACKLOG = 32
# Serialized requests kept before `submit` writes them to the relay: small enough that the packs start on
# them at once, large enough that a write (a system call) is spread over several resources.
RELAY_WRITE_BYTES = 8 * 1024
# What the relay may take beyond the packs' own call timeout to send its answers and exit.
RELAY_GRACE_SECONDS = 30.0


@dataclasses.dataclass
class _Outcome:
    """What the packs answered for one resource, kept until the run is assembled in stable order."""

    remediations: dict[int, list[PolicyRemediation]] = dataclasses.field(default_factory=dict)  # by pack index
    remediation_violations: dict[int, list[PolicyViolation]] = dataclasses.field(default_factory=dict)
    violations: dict[int, list[PolicyViolation]] = dataclasses.field(default_factory=dict)


class _InFlight:
    """One pack's Analyze calls in flight, answered in the order they were sent."""

    def __init__(self, index: int, process: PolicyPackProcess) -> None:
        self.index, self.process = index, process
        self.calls: collections.deque[tuple[analyzer_pb2.AnalyzeRequest, Any]] = collections.deque()

    def send(self, request: analyzer_pb2.AnalyzeRequest) -> None:
        self.calls.append((request, self.process.start_call("Analyze", request)))

    def collect(self, wait: bool = True) -> Optional[tuple[str, Any]]:
        """The oldest call's (urn, response); None when `wait` is false and it has not been answered yet."""
        request, future = self.calls[0]
        if not wait and not future.done():
            return None
        what = policy_runner.in_flight([r.urn for r, _ in self.calls])
        response = self.process.finish_call("Analyze", future, what, request)
        self.calls.popleft()
        return request.urn, response


class _RelayedError(grpc.RpcError):
    """A call the relay saw fail, as the pack's own error handling reads a gRPC error."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        super().__init__(document.get("details", ""))
        self._code = getattr(grpc.StatusCode, str(document.get("code")), grpc.StatusCode.UNKNOWN)
        self._details = str(document.get("details", ""))

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


class _Relay:
    """Analyze calls sent to every pack by aifinops.analyze_relay; the answers come back at the end."""

    def __init__(self, processes: Sequence[PolicyPackProcess]) -> None:
        self.processes = processes
        self.timeout = max(p.timeout for p in processes)
        command = [sys.executable, "-P", analyze_relay.__file__, f"{self.timeout:g}",
                   str(policy_runner.ANALYZE_WINDOW), *[str(p.port) for p in processes]]
        try:
            self.child = ChildProcess(command, stdin_later=True, niceness=max(p.niceness for p in processes))
        except OSError as error:
            raise PolicyPackError(f"the Analyze relay could not be started: {error}") from error
        self.requests: list[analyzer_pb2.AnalyzeRequest] = []
        self._unsent: list[bytes] = []
        self.unsent_bytes = 0

    def send(self, request: analyzer_pb2.AnalyzeRequest) -> None:
        """Queue `request` for every pack; `flush` writes what is queued (a relay that has exited says why
        in `answers`)."""
        self.requests.append(request)
        body = request.SerializeToString()
        self._unsent += (analyze_relay.HEADER.pack(len(body)), body)
        self.unsent_bytes += analyze_relay.HEADER.size + len(body)

    def flush(self) -> None:
        if self._unsent:
            self.child.write_stdin(b"".join(self._unsent), close=False)
            self._unsent.clear()
            self.unsent_bytes = 0

    def answers(self) -> list[tuple[int, str, bytes]]:
        """End the stream and wait: (pack index, urn, AnalyzeResponse bytes) for every request and pack, or
        the error of the first call that failed, as the pack's own client would have raised it."""
        self.flush()
        self.child.write_stdin(analyze_relay.HEADER.pack(0))
        try:
            code = self.child.finish(self.timeout + RELAY_GRACE_SECONDS)
        except ChildTimeout:
            raise PolicyPackError(f"the Analyze relay did not finish within {self.timeout + RELAY_GRACE_SECONDS:g}s")
        answers = []
        for kind, pack, number, payload in analyze_relay.read_results(self.child.stdout):
            if kind == b"F":
                document = json.loads(payload)
                urns = [self.requests[n].urn for n in document.get("inFlight", [number])]
                raise self.processes[pack].call_failed("Analyze", _RelayedError(document),
                                                       policy_runner.in_flight(urns), self.requests[number])
            answers.append((pack, self.requests[number].urn, payload))
        if len(answers) != len(self.requests) * len(self.processes):
            stderr = self.child.stderr.decode(errors="replace").strip()
            raise PolicyPackError(f"the Analyze relay exited with code {code} after {len(answers)} of "
                                  f"{len(self.requests) * len(self.processes)} answers"
                                  + (f":\n{stderr[-2000:]}" if stderr else ""))
        return answers

    def stop(self) -> None:
        self.child.stop()


class PackStream:
    """Remediate and Analyze for each resource while the program runs; AnalyzeStack at the end.

        stream = PackStream(packs, configs_for).start()   # packs: a PolicyPackSet, entered or not
        run_program(..., on_register=stream.submit)       # or stream.submit(resource, graph) per resource
        run = stream.finish(graph)                        # raises PolicyPackError if a pack failed
    """

    def __init__(self, packs: PolicyPackSet, configs_for: Optional[ConfigsFor] = None) -> None:
        self.packs = packs
        self.configs_for = configs_for or (lambda names: {})
        self.effective: dict[str, PolicyPackConfig] = {}
        self.first_sent_at: Optional[float] = None  # perf_counter() of the first Analyze call (for tests, benchmarks)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._outcomes: dict[str, _Outcome] = {}
        # Analyze answers (pack index, urn, AnalyzeResponse or its bytes), read into violations at the end,
        # while the packs run AnalyzeStack
        self._answers: list[tuple[int, str, Any]] = []
        self._remediating: list[int] = []  # indexes of the packs with a policy at level remediate
        self._graph: Optional[ResourceGraph] = None
        self._streamed = False  # the program submitted something
        self._analyzed = 0
        self.relayed = 0  # Analyze requests sent through the relay (for tests, benchmarks)
        # The relay, once `submit` sends to it from the program's thread (see the module docstring); the
        # lock keeps that thread's sends and the stream thread's apart.
        self._direct: Optional[_Relay] = None
        self._relay_lock = threading.Lock()
        self._error: Optional[BaseException] = None
        self._ended = False  # the thread has taken the end marker off the queue
        self._ready = threading.Event()  # the packs are started and configured (or failed)
        self._thread = threading.Thread(target=self._serve, name="aifinops-pack-stream", daemon=True)
        self._started_at = time.perf_counter()

    # -- the caller's side ------------------------------------------------------------------------
    def start(self) -> "PackStream":
        self._started_at = time.perf_counter()
        self._thread.start()
        return self

    def submit(self, resource: Resource, graph: ResourceGraph) -> None:
        """Queue a resource the program just registered (its inputs are final; `graph` holds its provider).
        Safe from any thread (the engine answers monitor calls in the program's thread, but a caller may
        register from threads of its own)."""
        self._graph = graph
        self._streamed = True
        with self._relay_lock:
            relay = self._direct
            if relay is not None:
                self._relay(relay, resource)
                if relay.unsent_bytes >= RELAY_WRITE_BYTES:
                    relay.flush()
                return
        self._queue.put(resource)

    def wait_until_ready(self) -> None:
        """Block until the packs have started and been configured; raises what went wrong."""
        self._ready.wait()
        if self._error is not None:
            raise self._error

    def finish(self, graph: ResourceGraph) -> PolicyRun:
        """Wait for every answer, run AnalyzeStack over the finished graph, return the run in stable order.

        A graph that was not streamed (e.g. recorded in another interpreter) is sent here, whole."""
        if not self._streamed:
            self._graph = graph
            for resource in graph:
                self._queue.put(resource)
        self._queue.put(_END)
        # The graph is final (nothing remediates it now): build the stack's request while the last answers come.
        ready = self._ready.is_set() and self._error is None and not self._remediating
        stack_request = analyze_stack_request(graph) if ready else None
        self._thread.join()
        if self._error is not None:
            raise self._error
        try:
            return self._assemble(graph, stack_request or analyze_stack_request(graph))
        except BaseException:
            self.packs.close()  # unblocks the other packs' calls; a failed set is not reused
            raise

    def abort(self) -> None:
        """Stop streaming (the program failed): nothing more is sent, the packs are closed."""
        self._queue.put(_END)
        self.packs.close()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    # -- the stream's thread ----------------------------------------------------------------------
    def _serve(self) -> None:
        try:
            try:
                self._configure()
            finally:
                self._ready.set()
            self._stream()
        except BaseException as error:  # noqa: BLE001 raised by finish() in the caller's thread
            self._error = error if isinstance(error, PolicyPackError) else \
                PolicyPackError(f"policy packs failed: {type(error).__name__}: {error}")
            self.packs.close()
            self._discard_queue()

    def _configure(self) -> None:
        if not self.packs.is_open:
            self.packs.__enter__()
        configs = self.configs_for([p.info.name for p in self.packs.processes])
        self.effective = {p.info.name: reconcile(p.info, configs.get(p.info.name, ())) for p in self.packs.processes}
        for process in self.packs.processes:
            process.configure_stack(self._graph_for_configure())
            process.configure(self.effective[process.info.name])
        self._remediating = [i for i, p in enumerate(self.packs.processes)
                             if any(s.enforcement_level == "remediate" for s in self.effective[p.info.name].values())]

    def _graph_for_configure(self) -> ResourceGraph:
        environment = self.packs.environment
        return ResourceGraph(environment.project, environment.stack, {})

    def _stream(self) -> None:
        processes, remediating = self.packs.processes, self._remediating
        windows = [_InFlight(index, process) for index, process in enumerate(processes)]
        relay: Optional[_Relay] = None
        try:
            while True:
                resource = self._queue.get()
                if resource is _END:
                    self._ended = True
                    break
                if relay is None and not remediating and self._streamed and self._queue.qsize() >= RELAY_BACKLOG:
                    relay = _Relay(processes)
                    with self._relay_lock:
                        self._direct = relay  # what registers from now on is sent by submit
                if relay is not None:  # what was queued before
                    with self._relay_lock:
                        self._relay(relay, resource)
                        if self._queue.empty():
                            relay.flush()
                    continue
                outcome = self._outcomes.setdefault(resource.urn, _Outcome())
                if resource.read:
                    continue
                graph = self._graph
                for index in remediating:
                    self._remediate(processes[index], index, resource, graph, outcome)
                request = self._analyze_request(resource)
                for window in windows:
                    while len(window.calls) >= policy_runner.ANALYZE_WINDOW:
                        self._record(window.index, *window.collect())
                    window.send(request)
                    while window.calls and (answer := window.collect(wait=False)) is not None:
                        self._record(window.index, *answer)
            for window in windows:
                while window.calls:
                    self._record(window.index, *window.collect())
            for index, urn, response in relay.answers() if relay is not None else ():
                self._record(index, urn, response)
        finally:
            with self._relay_lock:
                self._direct = None  # ended or failed: a late submit queues, and a failed stream's queue is discarded
            if relay is not None:
                relay.stop()

    def _analyze_request(self, resource: Resource) -> analyzer_pb2.AnalyzeRequest:
        if self.first_sent_at is None:
            self.first_sent_at = time.perf_counter()
        self._analyzed += 1
        return analyze_request(self._graph, resource)

    def _relay(self, relay: _Relay, resource: Resource) -> None:
        """Send `resource` through the relay (with _relay_lock held, from either thread)."""
        self._outcomes.setdefault(resource.urn, _Outcome())
        if not resource.read:
            relay.send(self._analyze_request(resource))
            self.relayed += 1

    def _remediate(self, process: PolicyPackProcess, index: int, resource: Resource, graph: ResourceGraph,
                   outcome: _Outcome) -> None:
        """One pack's Remediate of one resource; what it changed is written to the graph at once, so the
        next pack, Analyze and every resource that names this one as its provider see it."""
        ((urn, response),) = process.remediate([analyze_request(graph, resource)])
        inputs, applied, diagnostics = process.remediation_results(urn, response, resource.inputs)
        outcome.remediation_violations[index] = diagnostics
        outcome.remediations[index] = applied
        if applied:
            policy_runner.record_inputs(resource, inputs)

    def _record(self, index: int, urn: str, response: Any) -> None:
        self._answers.append((index, urn, response))

    def _discard_queue(self) -> None:
        """After a failure: drop what is queued, and keep dropping until finish() or abort() ends it."""
        while not self._ended:
            self._ended = self._queue.get() is _END

    # -- the end of the run -----------------------------------------------------------------------
    def _assemble(self, graph: ResourceGraph, stack_request: analyzer_pb2.AnalyzeStackRequest) -> PolicyRun:
        processes = self.packs.processes
        stack_urn = graph.root.urn if any(r.type == STACK_TYPE for r in graph) else ""
        with ThreadPoolExecutor(max_workers=len(processes)) as pool:
            analyzing = [pool.submit(p.analyze_stack, stack_request, stack_urn) for p in processes]
            try:
                for index, urn, response in self._answers:  # while the packs run their stack policies
                    if isinstance(response, bytes):
                        response = analyzer_pb2.AnalyzeResponse.FromString(response)
                    self._outcomes[urn].violations[index] = processes[index].analyze_violations(response, urn)
            except BaseException:
                self.packs.close()  # so the pool does not wait out the stack calls
                raise
            stack_results = [future.result() for future in analyzing]
        outcomes = [self._outcomes.get(resource.urn, _Outcome()) for resource in graph]
        # The order of a run over the finished graph: each remediating pack's diagnostics resource by
        # resource, then each pack's Analyze violations in graph order followed by its stack violations.
        violations: list[PolicyViolation] = []
        remediations: list[PolicyRemediation] = []
        for index in range(len(processes)):
            for outcome in outcomes:
                violations += outcome.remediation_violations.get(index, [])
                remediations += outcome.remediations.get(index, [])
        for index, stack_violations in enumerate(stack_results):
            for outcome in outcomes:
                violations += outcome.violations.get(index, [])
            violations += stack_violations
        return PolicyRun(self.packs.packs, violations, self._analyzed, time.perf_counter() - self._started_at,
                         self.effective, remediations)
