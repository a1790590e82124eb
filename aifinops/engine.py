"""Runs a Pulumi Python program offline under the SDK's mock runtime and records a ResourceGraph.

This is the one module that touches SDK internals (the mock monitor, the root-stack setting, the
async drivers); the SDK version is pinned in pyproject.toml for that reason. It reproduces what the
engine would do for a preview: URNs in the engine's format, default providers built from stack config,
stack transforms applied to every registration, secrets kept secret, and for every resource the line
of the user's program that created it.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import gc
import io
import os
import runpy
import sys
import traceback
from pathlib import Path
from typing import Any, Callable, Optional
from urllib.parse import unquote, urlparse

import pulumi
import pulumi.runtime
from pulumi.resource import ResourceOptions, ResourceTransformArgs
from pulumi.runtime import resource as runtime_resource
from pulumi.runtime import rpc
from pulumi.runtime._context import wrap_with_context
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.mocks import MockMonitor, _ensure_event_loop, set_mocks
from google.protobuf import json_format, struct_pb2
from pulumi.runtime.proto import engine_pb2, resource_pb2, source_pb2
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

from .child_processes import Interrupted
from .core.errors import ProgramError
from .graph import PROVIDER_TYPE_PREFIX, STACK_TYPE, Resource, ResourceGraph, SourcePosition
from .mock_cloud import DEFAULT_REGION, CloudMocks
from .program_timeout import program_deadline
from .provider_exports import lazy_provider_exports
from .project import BLINDED, Project, StackConfig

UNKNOWN = rpc.UNKNOWN
SIG_KEY = rpc._special_sig_key  # a secret on the wire: {SIG_KEY: SECRET_SIG, "value": ...}
SECRET_SIG = rpc._special_secret_sig
RESOURCE_SIG = rpc._special_resource_sig  # a resource reference on the wire: {SIG_KEY: RESOURCE_SIG, urn, id}
STACK_REFERENCE_TYPE = "pulumi:pulumi:StackReference"
# Called with each resource as it is recorded (its inputs final), while the program goes on.
RegistrationListener = Callable[[Resource, ResourceGraph], None]


def engine_urn(stack: str, project: str, parent_urn: str, type_token: str, name: str) -> str:
    """The engine's URN rule: children of a component nest their type under the parent's qualified type."""
    qualified = type_token
    if parent_urn:
        parent_qualified = parent_urn.split("::")[2]
        if parent_qualified != STACK_TYPE:
            qualified = f"{parent_qualified}${type_token}"
    return f"urn:pulumi:{stack}::{project}::{qualified}::{name}"


def plain(value: Any) -> Any:
    """Turn deserialized SDK values into JSON data; unknowns become the engine's unknown sentinel."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if type(value).__name__ == "Unknown":
        return UNKNOWN
    if isinstance(value, (pulumi.Asset, pulumi.Archive)):
        # What the engine keeps of an asset: its kind and what it holds (path, text, uri, or nested assets).
        recorded = {"asset": type(value).__name__}
        for field in ("path", "text", "uri"):
            if isinstance(getattr(value, field, None), str):
                recorded[field] = getattr(value, field)
        if isinstance(getattr(value, "assets", None), dict):
            recorded["assets"] = {name: plain(item) for name, item in value.assets.items()}
        return recorded
    return str(value)


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG


def reveal(value: Any) -> Any:
    """Strip secret wrappers (for code that needs the values, e.g. the estimator)."""
    if is_secret(value):
        return reveal(value["value"])
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


def blind(value: Any) -> Any:
    """Replace secrets with '[secret]', as pulumi preview --json does."""
    if is_secret(value):
        return BLINDED
    if isinstance(value, dict):
        return {k: blind(v) for k, v in value.items()}
    if isinstance(value, list):
        return [blind(v) for v in value]
    return value


def downgrade_resource_references(value: Any) -> Any:
    """A resource passed as an input reaches the provider as its id (a component's as its URN), as the
    engine hands it to providers that take no references; unknown while the id is unknown."""
    if isinstance(value, struct_pb2.Struct):
        downgraded = struct_pb2.Struct()
        downgraded.update({key: downgrade_resource_references(item) for key, item in
                           json_format.MessageToDict(value).items()})
        return downgraded
    if isinstance(value, dict):
        if value.get(SIG_KEY) == RESOURCE_SIG:
            if "id" in value:
                return value["id"] or UNKNOWN
            return value.get("urn", UNKNOWN)
        return {key: downgrade_resource_references(item) for key, item in value.items()}
    if isinstance(value, list):
        return [downgrade_resource_references(item) for item in value]
    return value


def _has_resource_reference(message: struct_pb2.Struct) -> bool:
    return RESOURCE_SIG in message.SerializeToString().decode("utf-8", "replace")


def serialize_now(properties: dict[str, Any]) -> Any:
    """Run rpc.serialize_properties to completion without the event loop.

    Mock state holds plain values and assets, whose serialization never waits on anything; driving
    the coroutine directly spares each monitor call an event loop of its own.
    """
    coroutine = rpc.serialize_properties(properties, {})
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("mock state unexpectedly needed the event loop to serialize")


class RecordingEngine:
    """Keeps what the program logs as diagnostics, the way the engine shows them in a preview."""

    _SEVERITY = {engine_pb2.DEBUG: "debug", engine_pb2.INFO: "info", engine_pb2.WARNING: "warning",
                 engine_pb2.ERROR: "error"}

    def __init__(self, graph: ResourceGraph) -> None:
        self.graph = graph

    def Log(self, request) -> None:  # noqa: N802 (gRPC method name)
        severity = self._SEVERITY.get(request.severity, "info")
        if severity == "debug":
            return
        self.graph.diagnostics.append({"urn": request.urn, "prefix": f"{severity}: ",
                                       "message": request.message.rstrip("\n") + "\n", "severity": severity})


class RecordingMonitor(MockMonitor):
    """A mock resource monitor that keeps the whole registration, as the engine would record it."""

    def __init__(self, mocks: CloudMocks, graph: ResourceGraph, project: Project, stack: StackConfig,
                 mock_outputs: bool = False, stack_reference_outputs: Optional[dict[str, Any]] = None) -> None:
        super().__init__(mocks)
        self.graph = graph
        self.on_register: Optional[RegistrationListener] = None
        # As in a preview of creates, ids and provider-computed outputs are unknown unless asked otherwise.
        self.mock_outputs = mock_outputs
        self.stack_reference_outputs = stack_reference_outputs or {}
        self.project_root = project.root
        self.program_dir = str(project.main.resolve())
        self.package_config = self._package_config(stack.values)
        self.default_providers: dict[str, str] = {}  # package -> provider reference

    @staticmethod
    def _package_config(values: dict[str, str]) -> dict[str, dict[str, str]]:
        """Config by package. Kept as strings: the engine hands provider config over as strings
        (objects such as aws:defaultTags JSON-encoded), and policies see them that way."""
        config: dict[str, dict[str, str]] = {}
        for key, value in values.items():
            package, _, name = key.partition(":")
            config.setdefault(package, {})[name] = value
        return config

    def region_for(self, provider_ref: Optional[str]) -> str:
        if provider_ref:
            provider = self.graph.get(provider_ref.rsplit("::", 1)[0])
            if provider and isinstance(provider.inputs.get("region"), str):
                return provider.inputs["region"]
        return str(self.package_config.get("aws", {}).get("region") or DEFAULT_REGION)

    def _record(self, resource: Resource) -> None:
        self.graph.add(resource)
        if self.on_register is not None:
            self.on_register(resource, self.graph)

    # -- the engine's default providers -----------------------------------------------------------
    def _default_provider(self, package: str, version: str) -> str:
        if package in self.default_providers:
            return self.default_providers[package]
        name = "default_" + version.replace(".", "_") if version else "default"
        urn = engine_urn(self.graph.stack, self.graph.project, "", f"{PROVIDER_TYPE_PREFIX}{package}", name)
        inputs = dict(self.package_config.get(package, {}))
        if version:
            inputs["version"] = version
        provider_id, outputs = self.mocks.new_resource(pulumi.runtime.MockResourceArgs(
            typ=f"{PROVIDER_TYPE_PREFIX}{package}", name=name, inputs=inputs, custom=True))
        if not self.mock_outputs:
            provider_id = UNKNOWN  # a provider created by this update has no id during its preview
        # The engine's default providers have no parent.
        self._record(Resource(urn=urn, type=f"{PROVIDER_TYPE_PREFIX}{package}", name=name, custom=True,
                                id=provider_id, inputs=inputs, outputs=outputs))
        self.default_providers[package] = f"{urn}::{provider_id}"
        return self.default_providers[package]

    # -- registrations ----------------------------------------------------------------------------
    def RegisterResource(self, request):  # noqa: N802 (gRPC method name)
        urn = engine_urn(self.graph.stack, self.graph.project, request.parent, request.type, request.name)
        if request.type == STACK_TYPE:
            self._record(Resource(urn=urn, type=STACK_TYPE, name=request.name, custom=False))
            return resource_pb2.RegisterResourceResponse(urn=urn)

        inputs = self._inputs(request.object)
        inputs = self._apply_stack_transforms(request, inputs)
        provider = request.provider
        is_provider = request.type.startswith(PROVIDER_TYPE_PREFIX)
        if request.custom and not is_provider and not provider:
            provider = self._default_provider(request.type.split(":", 1)[0], request.version)

        resource_id, state = self.mocks.new_resource(pulumi.runtime.MockResourceArgs(
            typ=request.type, name=request.name, inputs=inputs, provider=provider,
            resource_id=request.importId, custom=request.custom))
        if request.custom and not self.mock_outputs:
            resource_id, state = self.mocks.preview_of_create(request.type, inputs, state)
            if is_provider:
                resource_id = UNKNOWN  # resources refer to a provider being created as <urn>::<unknown id>
        self._record(Resource(
            urn=urn, type=request.type, name=request.name, custom=bool(request.custom),
            parent=request.parent, provider=provider if request.custom else "", id=resource_id or "",
            # The SDK sends these in the order of a set of URNs, and string hashes differ per process, so
            # the order changed from run to run: sorted, two runs of one program report alike.
            dependencies=sorted(request.dependencies),
            property_dependencies={k: sorted(v.urns) for k, v in request.propertyDependencies.items()},
            inputs=plain(inputs), outputs=plain(state), protect=bool(request.protect),
            source=self._source_position(request), options=self._options(request), remote=bool(request.remote)))
        if request.remote:
            self.graph.diagnostics.append({
                "urn": urn, "prefix": "warning: ", "severity": "warning",
                "message": f"{request.type} '{request.name}' is a remote (multi-language) component: a provider "
                           f"plugin creates its children, which cannot run offline, so they are not previewed, "
                           f"priced or scanned\n"})
        return resource_pb2.RegisterResourceResponse(urn=urn, id=resource_id or "", object=serialize_now(state))

    def ReadResource(self, request):  # noqa: N802
        """Resource.get and StackReference: a read step with the id the program supplied."""
        urn = engine_urn(self.graph.stack, self.graph.project, request.parent, request.type, request.name)
        inputs = self._inputs(request.properties)
        provider = request.provider
        if request.type != STACK_REFERENCE_TYPE and not provider:
            provider = self._default_provider(request.type.split(":", 1)[0], request.version)
        if request.type == STACK_REFERENCE_TYPE:
            state = self._stack_reference_state(request.id or request.name)
        else:
            _, state = self.mocks.new_resource(pulumi.runtime.MockResourceArgs(
                typ=request.type, name=request.name, inputs=inputs, provider=provider, resource_id=request.id,
                custom=True))
            state["id"] = request.id
        self._record(Resource(
            urn=urn, type=request.type, name=request.name, custom=True, parent=request.parent,
            provider=provider if request.type != STACK_REFERENCE_TYPE else "", id=request.id,
            dependencies=sorted(request.dependencies), inputs=plain(inputs), outputs=plain(state), read=True,
            source=self._source_position(request)))
        return resource_pb2.ReadResourceResponse(urn=urn, properties=serialize_now(state))

    def _stack_reference_state(self, stack_name: str) -> dict[str, Any]:
        """What the engine reads for a StackReference: the other stack's outputs (from the file the user
        named with --stack-reference-outputs), else unknown, as they cannot be read offline."""
        outputs = self.stack_reference_outputs.get(stack_name)
        if outputs is None:
            return {"name": stack_name, "outputs": UNKNOWN, "secretOutputNames": []}
        return {"name": stack_name, "outputs": outputs, "secretOutputNames": []}

    def _inputs(self, message: struct_pb2.Struct) -> dict[str, Any]:
        _ensure_event_loop()
        if _has_resource_reference(message):
            message = downgrade_resource_references(message)
        return rpc.deserialize_properties(message, keep_unknowns=True)

    def _options(self, request) -> dict[str, Any]:
        """The resource options the program set, named as the engine names them in its state."""
        options: dict[str, Any] = {}
        timeouts = request.customTimeouts if request.HasField("customTimeouts") else None
        aliases = [self._alias_urn(request, alias) for alias in getattr(request, "aliases", [])]
        candidates = {
            "ignoreChanges": list(request.ignoreChanges),
            "deleteBeforeReplace": request.deleteBeforeReplace if request.deleteBeforeReplaceDefined else None,
            "additionalSecretOutputs": list(request.additionalSecretOutputs),
            "aliases": [a for a in aliases if a] + list(request.aliasURNs),
            "customTimeouts": {k: getattr(timeouts, k) for k in ("create", "update", "delete")
                               if timeouts is not None and getattr(timeouts, k)},
            "retainOnDelete": request.retainOnDelete if request.HasField("retainOnDelete") else None,
            "replaceOnChanges": list(request.replaceOnChanges),
            "deletedWith": request.deletedWith,
            "importId": request.importId,
            "version": request.version,
            "pluginDownloadURL": request.pluginDownloadURL,
            "hideDiffs": list(getattr(request, "hideDiffs", [])),
        }
        for key, value in candidates.items():
            if value not in (None, "", [], {}):
                options[key] = value
        return options

    def _alias_urn(self, request, alias) -> str:
        if alias.urn:
            return alias.urn
        spec = alias.spec
        parent = "" if spec.noParent else (spec.parentUrn or request.parent)
        return engine_urn(spec.stack or self.graph.stack, spec.project or self.graph.project, parent,
                          spec.type or request.type, spec.name or request.name)

    def RegisterResourceOutputs(self, request):  # noqa: N802
        outputs = plain(rpc.deserialize_properties(request.outputs, keep_unknowns=True))
        resource = self.graph.get(request.urn)
        if resource is not None:
            resource.outputs = outputs
            if resource.type == STACK_TYPE:
                self.graph.stack_outputs = outputs
        return super().RegisterResourceOutputs(request)

    def _apply_stack_transforms(self, request, inputs: dict) -> dict:
        """The engine runs stack transforms on every registration; the stock mock monitor does not."""
        for transform in self._stack_transforms:
            result = transform(ResourceTransformArgs(
                custom=bool(request.custom), type_=request.type, name=request.name, props=inputs,
                opts=ResourceOptions()))
            if asyncio.iscoroutine(result):
                result = _sync_await(result)
            if result is not None:
                inputs = dict(result.props)
        return inputs

    def _source_position(self, request) -> Optional[SourcePosition]:
        """The nearest frame in the user's program directory: not our components, not the SDK."""
        for frame in request.stackTrace.frames:
            uri = frame.pc.uri
            if not uri:
                continue
            path = unquote(urlparse(uri).path)
            if is_program_file(path, self.program_dir):
                return SourcePosition(os.path.relpath(path, self.project_root).replace(os.sep, "/"), frame.pc.line)
        parent = self.graph.get(request.parent)  # resources made in callbacks: fall back to the parent's
        return parent.source if parent else None


_INSTALLED_PACKAGES = (os.sep + "site-packages" + os.sep, os.sep + "dist-packages" + os.sep)


def is_program_file(path: str, program_dir: str) -> bool:
    """A file of the user's program: under its directory, and not in a virtualenv kept there."""
    return path.startswith(program_dir + os.sep) and not any(part in path for part in _INSTALLED_PACKAGES)


def _program_stack_trace(program_dir: str) -> source_pb2.StackTrace:
    """The frames of the user's program on the current stack, innermost first.

    Stands in for the SDK's _get_stack_trace, which formats every frame of the stack (file URIs and
    source lines) for every resource; the monitor only ever reads the program's own frames.
    """
    frames = []
    frame = sys._getframe(1)
    # Like the SDK, start above the third __init__ (Resource, Custom/ComponentResource, the concrete
    # class): a component's own `super().__init__` line is not where it was created.
    inits = 0
    while frame is not None and inits < 3:
        inits += frame.f_code.co_name == "__init__"
        frame = frame.f_back
    while frame is not None:
        filename = frame.f_code.co_filename
        if is_program_file(filename, program_dir):
            position = source_pb2.SourcePosition(uri=Path(filename).as_uri(), line=frame.f_lineno)
            frames.append(source_pb2.StackFrame(pc=position))
        frame = frame.f_back
    return source_pb2.StackTrace(frames=frames)


class _MonitorCallsInline(concurrent.futures.ThreadPoolExecutor):
    """The event loop's default executor from the first program run on: the SDK's monitor calls run at
    once, in the loop's thread. (It stays installed after a run: asyncio cannot go back to its lazily made
    default, and outside a run nothing the SDK submits needs a thread either.)

    The SDK sends every monitor call (wrapped by wrap_with_context) through run_in_executor, for a monitor
    that is a gRPC server elsewhere. Here the monitor is this process's RecordingMonitor, which answers at
    once without waiting on the loop, so a worker thread only added two thread hand-offs per call and a
    fight for the GIL with the loop (a sixth of a 1,000-resource run). The answer still reaches its
    awaiting task through the loop, as before. Anything else (a program's own run_in_executor) goes to the
    pool's threads as usual."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future:
        if getattr(fn, "__module__", None) != wrap_with_context.__module__:
            return super().submit(fn, *args, **kwargs)
        future: concurrent.futures.Future = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as error:  # noqa: BLE001 handed to the awaiting task, as a worker thread would
            future.set_exception(error)
        return future


@contextlib.contextmanager
def _fast_program_run(program_dir: str):
    """Speed-ups that change nothing a program can observe (see benchmarks/engine.py for the figures).

    - The cyclic garbage collector is paused: a program allocates hundreds of thousands of futures,
      tasks and Outputs that live until the end, and repeated gen-2 scans of them took ~40% of the run.
    - Stack traces are taken for the program's frames only.
    - Monitor calls run in the loop's thread (see _MonitorCallsInline).
    - Provider SDK packages export their classes as the program first reads them (aifinops.provider_exports):
      the same objects, without importing the hundreds of modules a program does not use. The one thing
      a program could see is `vars()` of such a package, which fills as names are read.
    """
    collector_was_enabled = gc.isenabled()
    original_stack_trace = runtime_resource._get_stack_trace
    loop = _ensure_event_loop()
    if not isinstance(getattr(loop, "_default_executor", None), _MonitorCallsInline):
        loop.set_default_executor(_MonitorCallsInline(thread_name_prefix="aifinops-program"))
    gc.disable()
    runtime_resource._get_stack_trace = lambda: _program_stack_trace(program_dir)
    try:
        with lazy_provider_exports():
            yield
    finally:
        runtime_resource._get_stack_trace = original_stack_trace
        # The graph keeps most of these objects alive; freezing them spares the collector one long
        # full scan (~15% of a preview) when it resumes. The next run unfreezes them (see run_program).
        gc.freeze()
        if collector_was_enabled:
            gc.enable()


class _DiagnosticStream(io.TextIOBase):
    """A program's stdout or stderr: each line becomes a diagnostic, as the CLI shows program output."""

    def __init__(self, graph: ResourceGraph, severity: str) -> None:
        self.graph, self.severity, self.pending = graph, severity, ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            self._emit(line)
        return len(text)

    def flush_pending(self) -> None:
        if self.pending:
            self._emit(self.pending)
            self.pending = ""

    def _emit(self, line: str) -> None:
        self.graph.diagnostics.append({"urn": "", "prefix": "", "message": line + "\n", "severity": self.severity})


@contextlib.contextmanager
def _program_output_as_diagnostics(graph: ResourceGraph):
    """print() in a program must not reach our stdout (it would corrupt --json): the engine turns a
    program's stdout into `info` and its stderr into `info#err` diagnostics."""
    streams = _DiagnosticStream(graph, "info"), _DiagnosticStream(graph, "info#err")
    with contextlib.redirect_stdout(streams[0]), contextlib.redirect_stderr(streams[1]):
        try:
            yield
        finally:
            for stream in streams:
                stream.flush_pending()


def run_program(project: Project, stack: StackConfig, debug: bool = False, mock_outputs: bool = False,
                stack_reference_outputs: Optional[dict[str, Any]] = None,
                timeout: Optional[float] = None,
                on_register: Optional[RegistrationListener] = None) -> ResourceGraph:
    """Run the project's program for `stack` under mocks and return what it registered.

    As `pulumi preview` of a new stack: ids and provider-computed outputs are unknown; `mock_outputs`
    gives them AWS-shaped concrete values instead. `stack_reference_outputs`: stack name -> outputs, what
    StackReferences read (else unknown). `timeout`: seconds the program may run (see program_timeout).
    `on_register` is called with each resource as it is recorded (e.g. aifinops.pack_stream.PackStream.submit,
    which analyzes it while the program goes on)."""
    # What an earlier run in this process froze is garbage now, unless its graph is still held: let the
    # collector reclaim it, or memory grows with every run (tests, benchmarks, a long-lived caller).
    if gc.get_freeze_count():
        gc.unfreeze()
        gc.collect()
    graph = ResourceGraph(project.name, stack.name, stack.blinded_values(), program_dir=str(project.main))
    mocks = CloudMocks(region_for=lambda ref: monitor.region_for(ref))
    monitor = RecordingMonitor(mocks, graph, project, stack, mock_outputs, stack_reference_outputs)

    pulumi.runtime.set_all_config(dict(stack.values), list(stack.secret_keys))
    set_mocks(mocks, project=project.name, stack=stack.name, preview=True, monitor=monitor)
    runtime_settings.ROOT.set(None)  # set_mocks made a root stack; run_in_stack makes the real one
    runtime_settings.SETTINGS.engine = RecordingEngine(graph)
    graph.resources.clear()
    monitor.on_register = on_register  # from here on: the program's own registrations

    # `main` names the program's directory (its __main__.py runs) or, valid for Python too, one file.
    program = project.main.resolve()
    program_dir = str(program.parent if program.is_file() else program)
    saved_cwd, saved_path = os.getcwd(), list(sys.path)
    os.chdir(program_dir)  # the CLI runs a program from inside its directory
    sys.path.insert(0, program_dir)
    def last_registered() -> Optional[str]:
        sources = [resource.source for resource in graph if resource.source is not None]
        return str(sources[-1]) if sources else None
    deadline = None
    try:
        with program_deadline(timeout, program_dir, project.root, last_registered) as deadline, \
                _fast_program_run(program_dir), _program_output_as_diagnostics(graph):
            _sync_await(run_in_stack(lambda: runpy.run_path(str(program), run_name="__main__")))
    except BaseException as error:  # noqa: BLE001 any program failure becomes a ProgramError
        if isinstance(error, (KeyboardInterrupt, Interrupted)):
            raise
        if deadline is not None and deadline.expired:  # whatever the SDK made of the exception
            raise ProgramError(deadline.message()) from error
        raise _program_error(error, stack, mocks, program_dir, project.root, debug) from error
    finally:
        os.chdir(saved_cwd)
        sys.path[:] = saved_path
    graph.put_in_stable_order()
    return graph


def _program_error(error: BaseException, stack: StackConfig, mocks: CloudMocks, program_dir: str,
                   root: Path, debug: bool) -> ProgramError:
    if isinstance(error, pulumi.config.ConfigMissingError):
        key = error.key
        short = key.split(":", 1)[1] if ":" in key else key
        return ProgramError(
            f"missing required configuration key '{key}' for stack '{stack.name}': set it in {stack.path} "
            f"(or run `pulumi config set {short} <value> --stack {stack.name}`)")
    if mocks.unanswered_invokes:
        return ProgramError(f"program error: the offline preview has no answer for invoke "
                            f"'{mocks.unanswered_invokes[0]}'")
    where = ""
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if is_program_file(frame.filename, program_dir):
            where = f" at {os.path.relpath(frame.filename, root)}:{frame.lineno}"
            break
    message = str(error) if not isinstance(error, pulumi.RunError) else error.args[0]
    detail = "".join(traceback.format_exception(error)) if debug else ""
    return ProgramError(f"program error{where}: {type(error).__name__}: {message}" + (f"\n{detail}" if detail else ""))
