"""Runs CrossGuard policy packs the way the Pulumi CLI does, and fails closed.

Each pack is its own process, started as the CLI starts a Python analyzer plugin:
`<venv python> -u -m pulumi.policy <engine address> .` in the pack directory, with PULUMI_CONFIG,
PULUMI_PROJECT, PULUMI_STACK, PULUMI_DRY_RUN and PULUMI_ORGANIZATION set (the module is run by a
three-line launcher that only adds a handler for the gRPC server's log, so a raising policy's traceback
is seen), in a process group of its own (aifinops.child_processes). The pack prints the port of
its Analyzer gRPC server; this module then speaks the Analyzer protocol to it with the protobufs that
ship in the pulumi package: GetAnalyzerInfo, ConfigureStack, Configure (schema defaults plus the user's
config, validated), then, as the engine's step generator does for each resource as it registers, Remediate
through every pack in order (later packs and Analyze see the remediated inputs, which are written back to
the graph), Analyze with its options and provider, and at the end AnalyzeStack with outputs. The order of
those calls, and their streaming while the program runs, is aifinops.pack_stream's.

A pack that does not start, crashes, hangs or answers something that is not a valid Analyzer response
raises PolicyPackError (exit 2): a policy check never passes because a pack went quiet. Processes are
killed when the PolicyPackSet closes, whatever happened.
"""
from __future__ import annotations

import atexit
import collections
import dataclasses
import json
import os
import queue
import sys
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

import grpc
import yaml
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from .analyze_relay import CHANNEL_OPTIONS
from .child_processes import ChildProcess
from .analyzer_requests import graph_value
from .core.errors import PolicyPackError
from .core.input_files import read_text_file
from .policy_failures import exception_type, last_traceback, raising_policy
from .core.policy_config import PackInfo, PolicyInfo, PolicyPackConfig, PolicySettings
from .graph import Resource, ResourceGraph

START_TIMEOUT_SECONDS = 60.0
RPC_TIMEOUT_SECONDS = 60.0
# The CLI passes its own gRPC address; the Python policy SDK never dials it, so no engine is served here.
ENGINE_ADDRESS = "127.0.0.1:0"
# Analyze calls kept in flight per pack: the pack serves 4 threads, and overlapping calls hides latency.
ANALYZE_WINDOW = 8
_STDERR_TAIL_LINES = 40
# `-m pulumi.policy` as the CLI runs it, plus a handler for the gRPC server's log: it logs the traceback of
# a raising policy, which its own NullHandler would drop (see aifinops.policy_failures).
_PACK_LAUNCHER = ("import logging, runpy, sys\n"
                  "handler = logging.StreamHandler(sys.stderr)\n"
                  "handler.addFilter(lambda record: 'Method not implemented' not in record.getMessage())\n"
                  "logging.getLogger('grpc._server').addHandler(handler)\n"
                  "runpy.run_module('pulumi.policy', run_name='__main__', alter_sys=True)\n")
_OUTPUT_KEPT_LINES = 400  # enough for a deep traceback of a raising policy

_LEVELS = {analyzer_pb2.ADVISORY: "advisory", analyzer_pb2.MANDATORY: "mandatory",
           analyzer_pb2.DISABLED: "disabled", analyzer_pb2.REMEDIATE: "remediate"}
_LEVEL_VALUES = {name: value for value, name in _LEVELS.items()}
_SEVERITIES = {analyzer_pb2.POLICY_SEVERITY_UNSPECIFIED: "", analyzer_pb2.POLICY_SEVERITY_LOW: "low",
               analyzer_pb2.POLICY_SEVERITY_MEDIUM: "medium", analyzer_pb2.POLICY_SEVERITY_HIGH: "high",
               analyzer_pb2.POLICY_SEVERITY_CRITICAL: "critical"}


@dataclass(frozen=True)
class PackEnvironment:
    """What the CLI tells a pack process about the stack, through its environment."""

    project: str
    stack: str
    config: Mapping[str, str] = field(default_factory=dict)  # namespaced key -> string value
    organization: str = "organization"  # what the CLI passes for DIY backends
    dry_run: bool = True
    tags: Mapping[str, str] = field(default_factory=dict)  # the stack's tags, sent in ConfigureStack

    @classmethod
    def for_graph(cls, graph: ResourceGraph, stack_tags: Optional[Mapping[str, str]] = None,
                  description: str = "") -> "PackEnvironment":
        """`stack_tags`: the user's (`--stack-tag`); the CLI's own pulumi:* tags are added and win."""
        config = {key: value if isinstance(value, str) else json.dumps(value) for key, value in graph.config.items()}
        tags = {**dict(stack_tags or {}), "pulumi:project": graph.project, "pulumi:runtime": "python"}
        if description:
            tags["pulumi:description"] = description
        return cls(graph.project, graph.stack, config, tags=tags)

    def variables(self) -> dict[str, str]:
        return {"PULUMI_CONFIG": json.dumps(dict(self.config)), "PULUMI_PROJECT": self.project,
                "PULUMI_STACK": self.stack, "PULUMI_DRY_RUN": "true" if self.dry_run else "false",
                "PULUMI_ORGANIZATION": self.organization}


@dataclass(frozen=True)
class PolicyViolation:
    """One diagnostic from a pack, with the URN filled in as the engine does."""

    policy_pack: str
    policy_pack_version: str
    policy: str
    description: str
    message: str  # as the pack sent it: the policy description, a newline, then the detail
    enforcement_level: str  # advisory | mandatory (the engine reports a remediate-level violation as mandatory)
    urn: str
    severity: str = ""  # the policy's severity: low | medium | high | critical, or ""

    @property
    def detail(self) -> str:
        """The message without the policy description the SDK puts in front of it."""
        prefix = self.description + "\n"
        return self.message[len(prefix):] if self.message.startswith(prefix) else self.message

    @property
    def is_mandatory(self) -> bool:
        return self.enforcement_level == "mandatory"


@dataclass(frozen=True)
class PolicyRemediation:
    """A policy at level `remediate` that rewrote a resource's inputs before it was analyzed (the CLI
    prints these as `[remediate]` events)."""

    policy_pack: str
    policy_pack_version: str
    policy: str
    description: str
    urn: str
    before: Mapping[str, Any]  # the inputs the policy was given
    after: Mapping[str, Any]  # the inputs it returned, which every later pack and the graph see

    enforcement_level = "remediate"


@dataclass
class PolicyRun:
    packs: list[PackInfo]
    violations: list[PolicyViolation]
    resources_analyzed: int
    duration_seconds: float
    config: dict[str, PolicyPackConfig] = field(default_factory=dict)  # pack name -> effective settings
    remediations: list[PolicyRemediation] = field(default_factory=list)  # in the order they were applied

    @property
    def mandatory(self) -> list[PolicyViolation]:
        return [v for v in self.violations if v.is_mandatory]

    @property
    def advisory(self) -> list[PolicyViolation]:
        return [v for v in self.violations if not v.is_mandatory]


# Every pack process not yet closed: killed at interpreter exit too, because a pack serves forever.
# (aifinops.child_processes also stops them on SIGTERM/SIGHUP/SIGINT, and its guard on SIGKILL.)
_RUNNING: "weakref.WeakSet[PolicyPackProcess]" = weakref.WeakSet()
atexit.register(lambda: [process.close() for process in list(_RUNNING)])


def pack_version(pack_dir: Path) -> str:
    """PulumiPolicy.yaml's `version`, which the CLI uses over the version the pack reports; "" if unset."""
    version = _policy_project(pack_dir).get("version")
    return "" if version is None else str(version)


def pack_python(pack_dir: Path) -> str:
    """The interpreter the CLI would use for a Python pack: its PulumiPolicy.yaml virtualenv, if any."""
    document = _policy_project(pack_dir)
    runtime = document.get("runtime")
    name = runtime.get("name") if isinstance(runtime, dict) else runtime
    if name != "python":
        raise PolicyPackError(f"policy pack {pack_dir}: runtime is {name!r}; aifinops runs Python policy packs")
    options = runtime.get("options") if isinstance(runtime, dict) else None
    virtualenv = options.get("virtualenv") if isinstance(options, dict) else None
    if not virtualenv:
        return os.environ.get("PULUMI_PYTHON_CMD") or sys.executable
    venv = (pack_dir / str(virtualenv)).resolve()
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if not python.exists():
        raise PolicyPackError(f"policy pack {pack_dir}: its virtualenv {venv} does not exist "
                              f"(run ./scripts/bootstrap from the repository root)")
    return str(python)


def _policy_project(pack_dir: Path) -> dict[str, Any]:
    path = pack_dir / "PulumiPolicy.yaml"
    try:
        document = yaml.safe_load(read_text_file(path, f"policy pack {pack_dir}:")) or {}
    except OSError as error:
        raise PolicyPackError(f"policy pack {pack_dir}: no PulumiPolicy.yaml ({error.strerror})") from error
    except yaml.YAMLError as error:
        raise PolicyPackError(f"policy pack {pack_dir}: PulumiPolicy.yaml is not valid YAML: {error}") from error
    return document if isinstance(document, dict) else {}


class PolicyPackProcess:
    """One running pack and its Analyzer client. Use through PolicyPackSet, which always closes it."""

    def __init__(self, pack_dir: Path, environment: PackEnvironment, timeout: float = RPC_TIMEOUT_SECONDS,
                 niceness: int = 0) -> None:
        self.directory = Path(pack_dir).resolve()
        self.environment = environment
        self.timeout = timeout
        self.niceness = niceness  # > 0: the process runs at lower CPU priority (aifinops.child_processes)
        self.info: Optional[PackInfo] = None
        self.project_version = ""  # PulumiPolicy.yaml's version, read at launch
        self.port: Optional[int] = None  # of its Analyzer server, once connected
        self._process: Optional[ChildProcess] = None
        self._port_line: queue.Queue[bytes] = queue.Queue()
        self._port_seen = False
        self._channel: Optional[grpc.Channel] = None
        self._stub: Optional[analyzer_pb2_grpc.AnalyzerStub] = None
        self._output_tail: collections.deque[str] = collections.deque(maxlen=_OUTPUT_KEPT_LINES)
        self.settings: Optional[PolicyPackConfig] = None  # what Configure last sent
        self._failed_traceback: list[str] = []  # the pack's traceback of the last policy that raised

    @property
    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def label(self) -> str:
        return f"'{self.info.name}' ({self.directory})" if self.info else str(self.directory)

    # -- lifecycle --------------------------------------------------------------------------------
    def launch(self) -> None:
        """Start the process in a process group of its own (returns at once; `connect` waits for the port)."""
        command = [pack_python(self.directory), "-u", "-c", _PACK_LAUNCHER, ENGINE_ADDRESS, "."]
        self.project_version = pack_version(self.directory)
        env = {**os.environ, **self.environment.variables()}

        def on_stdout(line: bytes) -> None:
            if self._port_seen:  # the first line is the port; the rest is output, kept like stderr's
                self._remember(line)
            else:
                self._port_seen = True
                self._port_line.put(line)
        try:
            self._process = ChildProcess(command, cwd=self.directory, env=env, on_stdout_line=on_stdout,
                                         on_stderr_line=self._remember, niceness=self.niceness)
        except OSError as error:
            raise PolicyPackError(f"policy pack {self.label} could not be started: {error}") from error
        _RUNNING.add(self)

    def connect(self, start_timeout: float = START_TIMEOUT_SECONDS) -> PackInfo:
        """Read the port the pack prints (with a deadline), connect, and ask what it is (GetAnalyzerInfo)."""
        assert self._process is not None
        deadline = time.monotonic() + start_timeout
        line = None
        while line is None:
            try:
                line = self._port_line.get(timeout=0.1)
            except queue.Empty:
                if self._process.stdout_closed.is_set() and self._port_line.empty():
                    line = b""  # stdout closed without a port line
                elif time.monotonic() > deadline:
                    raise PolicyPackError(f"policy pack {self.label} did not print its port within "
                                          f"{start_timeout:g}s" + self._tail()) from None
        text = line.decode(errors="replace").strip()
        if not text:  # stdout closed: the process is exiting
            self._wait_briefly()
            raise PolicyPackError(f"policy pack {self.label} exited{self._exit_status()} before it started serving"
                                  + self._tail())
        if not text.isdigit() or not 0 < int(text) < 65536:
            raise PolicyPackError(f"policy pack {self.label} printed {text[:200]!r} where the CLI expects the "
                                  f"port of its Analyzer server" + self._tail())
        self.port = int(text)
        self._channel = grpc.insecure_channel(f"127.0.0.1:{text}", options=CHANNEL_OPTIONS)
        self._stub = analyzer_pb2_grpc.AnalyzerStub(self._channel)
        self._handshake(start_timeout)
        info = self._call("GetAnalyzerInfo", lambda: self._stub.GetAnalyzerInfo(empty_pb2.Empty(),
                                                                                 timeout=start_timeout))
        self.info = self._pack_info(info)
        return self.info

    def _remember(self, line: bytes) -> None:
        self._output_tail.append(line.decode(errors="replace").rstrip())

    def _handshake(self, timeout: float) -> None:
        """The CLI's first call; the Python policy SDK does not implement it, which the CLI accepts."""
        request = analyzer_pb2.AnalyzerHandshakeRequest(engine_address=ENGINE_ADDRESS, root_directory=str(self.directory),
                                                        program_directory=str(self.directory))
        try:
            self._stub.Handshake(request, timeout=timeout)
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise PolicyPackError(self._failure("Handshake", error, "")) from error

    def close(self) -> None:
        """Kill the pack's process group (whatever it started dies with it); never waits on a grandchild."""
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        if self._process is not None:
            self._process.stop()
            self._process = None

    # -- the Analyzer protocol --------------------------------------------------------------------
    def configure_stack(self, graph: ResourceGraph) -> None:
        env = self.environment
        request = analyzer_pb2.AnalyzerStackConfigureRequest(
            stack=env.stack, project=env.project, organization=env.organization, dry_run=env.dry_run,
            config=dict(env.config), tags=dict(env.tags) or {"pulumi:project": graph.project, "pulumi:runtime": "python"})
        self._call("ConfigureStack", lambda: self._stub.ConfigureStack(request, timeout=self.timeout))

    def configure(self, settings: PolicyPackConfig) -> None:
        self.settings = settings
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for name, setting in settings.items():
            properties = struct_pb2.Struct()
            properties.update(dict(setting.properties))
            request.policyConfig[name].CopyFrom(analyzer_pb2.PolicyConfig(
                enforcementLevel=_LEVEL_VALUES[setting.enforcement_level], properties=properties))
        self._call("Configure", lambda: self._stub.Configure(request, timeout=self.timeout))

    def analyze(self, requests: Sequence[analyzer_pb2.AnalyzeRequest]) -> list[PolicyViolation]:
        """Analyze every resource, a few calls in flight at a time; violations in request order."""
        violations: list[PolicyViolation] = []
        for request, response in self._windowed("Analyze", requests):
            violations.extend(self._violations(response, request.urn, "Analyze"))
        return violations

    def remediate(self, requests: Sequence[analyzer_pb2.AnalyzeRequest]) -> list[tuple[str, Any]]:
        """Remediate every resource: (urn, RemediateResponse) in request order."""
        return [(request.urn, response) for request, response in self._windowed("Remediate", requests)]

    def _windowed(self, method: str, requests: Sequence[analyzer_pb2.AnalyzeRequest]) -> list[tuple[Any, Any]]:
        answers: list[tuple[Any, Any]] = []
        pending: collections.deque[tuple[analyzer_pb2.AnalyzeRequest, Any]] = collections.deque()

        def collect() -> None:
            request, future = pending[0]
            response = self.finish_call(method, future, in_flight([r.urn for r, _ in pending]), request)
            pending.popleft()
            answers.append((request, response))

        for request in requests:
            pending.append((request, self.start_call(method, request)))
            if len(pending) >= ANALYZE_WINDOW:
                collect()
        while pending:
            collect()
        return answers

    def start_call(self, method: str, request: analyzer_pb2.AnalyzeRequest) -> Any:
        """Send one per-resource call (Analyze, Remediate) without waiting: its future."""
        return self._call(method, lambda: getattr(self._stub, method).future(request, timeout=self.timeout),
                          request.urn)

    def finish_call(self, method: str, future: Any, what: str, request: Any = None) -> Any:
        """Wait for a call `start_call` sent; `what` names the resource(s) a failure is blamed on, `request`
        is the one answered (so a raising policy can be named)."""
        return self._call(method, future.result, what, request)

    def analyze_violations(self, response: analyzer_pb2.AnalyzeResponse, urn: str) -> list[PolicyViolation]:
        return self._violations(response, urn, "Analyze")

    def analyze_stack(self, request: analyzer_pb2.AnalyzeStackRequest, stack_urn: str) -> list[PolicyViolation]:
        response = self._call("AnalyzeStack", lambda: self._stub.AnalyzeStack(request, timeout=self.timeout),
                              request=request)
        # A URN naming a resource of the stack is kept; any other is attributed to the stack, as the engine does.
        in_stack = {resource.urn for resource in request.resources}
        return [v if v.urn in in_stack else dataclasses.replace(v, urn=stack_urn)
                for v in self._violations(response, stack_urn, "AnalyzeStack", keep_urn=True)]

    # -- checking what comes back -----------------------------------------------------------------
    def _pack_info(self, info: analyzer_pb2.AnalyzerInfo) -> PackInfo:
        if not info.name or not info.policies:
            raise PolicyPackError(f"policy pack {self.label} answered GetAnalyzerInfo without a name or policies")
        policies = []
        for policy in info.policies:
            if not policy.name or policy.enforcementLevel not in _LEVELS:
                raise PolicyPackError(f"policy pack {self.label} declared a policy without a name or with an "
                                      f"unknown enforcement level ({policy.enforcementLevel})")
            schema = json_format.MessageToDict(policy.configSchema) if policy.HasField("configSchema") else None
            policies.append(PolicyInfo(
                name=policy.name, description=policy.description, enforcement_level=_LEVELS[policy.enforcementLevel],
                config_schema=schema or None, severity=_SEVERITIES.get(policy.severity, ""),
                display_name=policy.displayName, remediation_steps=policy.remediation_steps, url=policy.url,
                is_stack_policy=policy.policy_type == analyzer_pb2.POLICY_TYPE_STACK))
        # An entry without a level carries the proto's zero value, ADVISORY, and the CLI applies it as such.
        initial = {name: PolicySettings(_LEVELS.get(config.enforcementLevel, "advisory"),
                                        json_format.MessageToDict(config.properties))
                   for name, config in info.initialConfig.items()}
        version = self.project_version or info.version or "0.0.1"
        return PackInfo(info.name, version, self.directory, info.description, tuple(policies), initial)

    def _violations(self, response: analyzer_pb2.AnalyzeResponse, urn: str, method: str,
                    keep_urn: bool = False) -> list[PolicyViolation]:
        """Resource policies' violations carry the analyzed URN whatever the pack said (as the engine)."""
        assert self.info is not None
        result = []
        for diagnostic in response.diagnostics:
            policy = self.info.policy(diagnostic.policyName)
            if policy is None or diagnostic.enforcementLevel not in _LEVELS:
                raise PolicyPackError(
                    f"policy pack {self.label} answered {method} of {urn} with a diagnostic for "
                    f"{'unknown policy ' + repr(diagnostic.policyName) if policy is None else 'an unknown level'}")
            level = _LEVELS[diagnostic.enforcementLevel]
            result.append(PolicyViolation(
                policy_pack=diagnostic.policyPackName or self.info.name,
                policy_pack_version=self.project_version or diagnostic.policyPackVersion or self.info.version,
                policy=diagnostic.policyName, description=diagnostic.description or policy.description,
                message=diagnostic.message,
                # A violation left after remediation (or from a stack policy, which cannot remediate) is mandatory.
                enforcement_level="mandatory" if level == "remediate" else level,
                urn=(diagnostic.urn or urn) if keep_urn else urn,
                severity=_SEVERITIES.get(diagnostic.severity, "") or policy.severity))
        return result

    def remediation_results(self, urn: str, response: Any, inputs: Mapping[str, Any]
                            ) -> tuple[dict[str, Any], list[PolicyRemediation], list[PolicyViolation]]:
        """Apply one RemediateResponse: the final inputs, the remediations, and the advisory diagnostics
        the engine reports for a remediation that could not run (e.g. on an unknown value)."""
        assert self.info is not None
        remediations, violations = [], []
        current = dict(inputs)
        for remediation in response.remediations:
            policy = self.info.policy(remediation.policyName)
            if policy is None:
                raise PolicyPackError(f"policy pack {self.label} answered Remediate of {urn} with a remediation "
                                      f"for unknown policy {remediation.policyName!r}")
            pack = remediation.policyPackName or self.info.name
            version = self.project_version or remediation.policyPackVersion or self.info.version
            description = remediation.description or policy.description
            if remediation.diagnostic:
                violations.append(PolicyViolation(pack, version, remediation.policyName, description,
                                                  remediation.diagnostic, "advisory", urn, policy.severity))
            elif remediation.HasField("properties"):
                after = graph_value(json_format.MessageToDict(remediation.properties))
                remediations.append(PolicyRemediation(pack, version, remediation.policyName, description, urn,
                                                      before=current, after=after))
                current = after
        return current, remediations, violations

    # -- failures ---------------------------------------------------------------------------------
    @property
    def stub(self) -> Optional[analyzer_pb2_grpc.AnalyzerStub]:
        return self._stub

    def _call(self, method: str, call: Callable[[], Any], urn: str = "", request: Any = None) -> Any:
        """`request`: the Analyze/AnalyzeStack request being answered, so a raising policy can be named."""
        if self._stub is None and method != "GetAnalyzerInfo":
            raise PolicyPackError(f"policy pack {self.label} is not running")
        try:
            return call()
        except grpc.RpcError as error:
            raise self.call_failed(method, error, urn, request) from error

    def call_failed(self, method: str, error: grpc.RpcError, urn: str = "", request: Any = None) -> PolicyPackError:
        """The error for a failed call (also one the Analyze relay made): why the pack failed, naming `urn`."""
        failure = PolicyPackError(self._failure(method, error, urn, request))
        failure.pack_traceback = self._failed_traceback  # shown with --debug
        return failure

    def _failure(self, method: str, error: grpc.RpcError, urn: str, request: Any = None) -> str:
        what = f"{method} of {urn}" if urn else method
        code = error.code() if hasattr(error, "code") else None
        self._wait_briefly()
        if self._process is not None and self._process.poll() is not None:
            return f"policy pack {self.label} crashed{self._exit_status()} during {what}" + self._tail()
        if code == grpc.StatusCode.UNKNOWN and request is not None and method in ("Analyze", "AnalyzeStack"):
            return self._policy_raised(method, error, request)
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return f"policy pack {self.label} did not answer {what} within {self.timeout:g}s" + self._tail()
        details = error.details() if hasattr(error, "details") else str(error)
        return f"policy pack {self.label} failed {what}: {code.name if code else 'error'}: {details}" + self._tail()

    def _policy_raised(self, method: str, error: grpc.RpcError, request: Any) -> str:
        """A policy's validate raised: name the pack, the policy, the resource and the exception type."""
        deadline = time.monotonic() + 1.0  # the pack's server logged the traceback before it answered
        while not exception_type(last_traceback(list(self._output_tail))) and time.monotonic() < deadline:
            time.sleep(0.02)
        self._failed_traceback = last_traceback(list(self._output_tail))
        kind = exception_type(self._failed_traceback) or "an exception"
        policy = raising_policy(self, method, request)
        subject = f"resource {request.urn}" if method == "Analyze" else "the stack"
        details = (error.details() or "").removeprefix("Exception calling application: ")
        name = self.info.name if self.info else str(self.directory)
        return (f"policy pack '{name}': policy {repr(policy) if policy else '(which one could not be told)'} "
                f"raised {kind} during {method} of {subject}: {details}"
                + ("" if self._failed_traceback else self._tail()))

    def _wait_briefly(self) -> None:
        if self._process is not None:
            self._process.wait(0.5)

    def _exit_status(self) -> str:
        code = self._process.poll() if self._process is not None else None
        return f" (exit code {code})" if code is not None else ""

    def _tail(self) -> str:
        time.sleep(0.05)  # let the drain threads pick up the last lines of a dying process
        lines = [line for line in self._output_tail if line][-_STDERR_TAIL_LINES:]
        return ("\n  pack output:\n    " + "\n    ".join(lines)) if lines else ""


class PolicyPackSet:
    """Several packs started together, reusable for many graphs, always killed on exit.

        with PolicyPackSet(pack_dirs, PackEnvironment.for_graph(graph)) as packs:
            run = packs.check(graph)
    """

    def __init__(self, pack_dirs: Sequence[Path], environment: PackEnvironment,
                 timeout: float = RPC_TIMEOUT_SECONDS, start_timeout: float = START_TIMEOUT_SECONDS,
                 niceness: int = 0) -> None:
        """`niceness` > 0: the packs run at lower CPU priority, e.g. beside the program they are streamed from."""
        if not pack_dirs:
            raise PolicyPackError("no policy packs to run")
        self.environment = environment
        self.start_timeout = start_timeout
        self.processes = [PolicyPackProcess(Path(d), environment, timeout, niceness) for d in pack_dirs]

    def __enter__(self) -> "PolicyPackSet":
        try:
            for process in self.processes:
                process.launch()
            for process in self.processes:
                process.connect(self.start_timeout)
        except BaseException:
            self.close()
            raise
        names = [p.info.name for p in self.processes if p.info]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            self.close()
            raise PolicyPackError(f"more than one policy pack is named {', '.join(duplicates)}")
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        for process in self.processes:
            process.close()

    @property
    def is_open(self) -> bool:
        return all(p.is_running for p in self.processes)

    @property
    def packs(self) -> list[PackInfo]:
        return [p.info for p in self.processes if p.info is not None]

    def check(self, graph: ResourceGraph,
              configs: Optional[Mapping[str, Sequence[PolicyPackConfig]]] = None) -> PolicyRun:
        """Run every pack over a finished graph. `configs`: pack name -> its config documents, applied in order.

        The same path as a streamed preview (see aifinops.pack_stream), fed the whole graph at once."""
        from .pack_stream import PackStream  # it builds on this module

        return PackStream(self, lambda names: configs or {}).start().finish(graph)


def in_flight(urns: Sequence[str]) -> str:
    """What a failed call is blamed on: with calls in flight, a crash cannot be pinned on one of them."""
    return urns[0] if len(urns) == 1 else f"one of {len(urns)} resources in flight: " + ", ".join(urns)


def record_inputs(resource: Resource, inputs: dict[str, Any]) -> None:
    """Write remediated inputs to the graph; outputs that echoed an input follow it, as a preview's would."""
    before = resource.inputs
    for key in set(before) | set(inputs):
        echoed = key not in resource.outputs or resource.outputs.get(key) == before.get(key)
        if resource.custom and echoed and before.get(key) != inputs.get(key):
            if key in inputs:
                resource.outputs[key] = inputs[key]
            else:
                resource.outputs.pop(key, None)
    resource.inputs = inputs
