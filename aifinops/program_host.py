"""Runs a stack's program in the project's own virtualenv, as the Pulumi CLI does.

The CLI runs a Python program with the interpreter of the virtualenv that Pulumi.yaml names
(`runtime.options.virtualenv`; uv's `.venv` with `toolchain: uv`), so the program sees that
virtualenv's packages and versions. When that is not the interpreter running aifinops, the offline
engine runs there too, in a child process: it is handed this aifinops (unless the virtualenv has the
same version installed), records the ResourceGraph, and writes it to a file the parent reads back.
With no virtualenv named, or when aifinops already runs in it, the program runs in this process.
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Optional

from .child_processes import ChildProcess, ChildTimeout, guard_path, release_path
from .core.errors import AifinopsError, ProgramError, ProjectError
from .graph import ResourceGraph
from .program_timeout import DEFAULT_PROGRAM_TIMEOUT_SECONDS
from .project import Project, StackConfig, load_project

# The engine leans on SDK internals (the mock monitor, the root-stack setting, the async drivers), so it
# runs only with the pulumi SDK versions it was tried with: 3.260.0 to 3.272.0 previewed the same program
# here; 3.255.0 and older lack the mock monitor's stack transforms. Newer versions are refused until tried.
PINNED_PULUMI = "3.272.0"  # what pyproject.toml pins (a test keeps the two equal)
SUPPORTED_PULUMI = ((3, 260, 0), (3, 273, 0))
# The parts of the aifinops namespace, each of which may live in its own folder (an editable install).
NAMESPACE_PACKAGES = ("aifinops", "aifinops.core", "aifinops.components", "aifinops.policies", "aifinops.automation")

# Runs first in the child: make this aifinops importable if the virtualenv lacks it, then serve.
_BOOTSTRAP = """
import importlib.util, json, sys
if sys.path and sys.path[0] == "":
    sys.path.pop(0)
request = json.loads(sys.stdin.read())
directories = request["packages"]

class ThisAifinops:
    @staticmethod
    def find_spec(name, path=None, target=None):
        directory = directories.get(name)
        if directory is None:
            return None
        return importlib.util.spec_from_file_location(name, directory + "/__init__.py",
                                                      submodule_search_locations=[directory])

if importlib.util.find_spec("aifinops") is None:
    sys.meta_path.insert(0, ThisAifinops)
from aifinops.program_host import serve
sys.exit(serve(request))
"""
# What the host may take beyond the program's own timeout: its start-up and the SDK's imports.
HOST_GRACE_SECONDS = 30.0
_ERRORS = {"ProjectError": ProjectError, "ProgramError": ProgramError}


def run_stack_program(project: Project, stack: StackConfig, debug: bool = False, mock_outputs: bool = False,
                      stack_reference_outputs: Optional[dict[str, Any]] = None,
                      timeout: Optional[float] = DEFAULT_PROGRAM_TIMEOUT_SECONDS,
                      on_register: Optional[Callable[..., None]] = None) -> ResourceGraph:
    """The program's ResourceGraph, recorded in the interpreter the Pulumi CLI would run it with
    (see `aifinops.engine.run_program` for the options). `on_register` hears of each resource as it
    registers when the program runs in this process; a program run in another interpreter is only
    heard of as a whole, in the graph returned."""
    options = {"debug": debug, "mock_outputs": mock_outputs, "stack_reference_outputs": stack_reference_outputs,
               "timeout": timeout}
    python = project.python
    if python is None or _is_running_interpreter(project.virtualenv):
        from .engine import run_program

        return run_program(project, stack, **options, on_register=on_register)
    if not python.exists():
        relative = os.path.relpath(project.virtualenv, project.root)
        raise ProjectError(
            f"{project.root / 'Pulumi.yaml'}: runtime.options.virtualenv is {relative!r}, but {project.virtualenv} "
            f"does not appear to be a virtualenv (no {python}); create it, e.g. `python3 -m venv {relative} && "
            f"{relative}/bin/pip install -r requirements.txt`, as `pulumi install` would")
    return _run_in_virtualenv(python, project, stack, options)


def _is_running_interpreter(virtualenv: Path) -> bool:
    return Path(sys.prefix).resolve() == virtualenv.resolve()


def _package_directories() -> dict[str, str]:
    directories = {}
    for name in NAMESPACE_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            directories[name] = str(Path(list(spec.submodule_search_locations)[0]).resolve())
    return directories


def _run_in_virtualenv(python: Path, project: Project, stack: StackConfig, options: dict[str, Any]) -> ResourceGraph:
    timeout = options.get("timeout") or DEFAULT_PROGRAM_TIMEOUT_SECONDS
    with tempfile.TemporaryDirectory(prefix="aifinops-program-") as scratch:
        guard_path(scratch)  # removed by the guard if aifinops is killed first
        result_file = Path(scratch) / "graph.json"
        request = {"cwd": str(project.root), "stack": stack.name, "options": options, "result": str(result_file),
                   "aifinops": metadata.version("aifinops"), "packages": _package_directories()}
        try:
            host = ChildProcess([str(python), "-c", _BOOTSTRAP], stdin=json.dumps(request).encode(), cwd=project.root)
        except OSError as error:
            raise ProjectError(f"the project's virtualenv interpreter {python} could not be started: {error}") from error
        try:
            # The host enforces the program's timeout itself (naming its last line); this is the backstop.
            returncode = host.finish(timeout + HOST_GRACE_SECONDS)
        except ChildTimeout:
            raise ProgramError(f"the program host in {python} did not finish within {timeout + HOST_GRACE_SECONDS:g}s "
                               f"(--timeout {timeout:g}s) and was stopped") from None
        finally:
            host.stop()
            release_path(scratch)
        stdout, stderr = (data.decode(errors="replace") for data in (host.stdout, host.stderr))
        # What the program printed is the program's output: pass it on, away from our own stdout.
        for stream in (stdout, stderr):
            if stream:
                sys.stderr.write(stream)
        if returncode != 0 or not result_file.exists():
            raise ProgramError(f"the program host in {python} exited with code {returncode} "
                               f"before it recorded the stack" + (f":\n{stderr.strip()[-2000:]}"
                                                                  if stderr.strip() else ""))
        result = json.loads(result_file.read_text())
    if "error" in result:
        error = _ERRORS.get(result["kind"], AifinopsError)(result["error"])
        error.exit_code = result["exitCode"]
        raise error
    return ResourceGraph.from_json(result["graph"])


def check_pulumi_sdk(installed: str, where: str) -> None:
    """Refuse a pulumi SDK version the engine does not support, naming both versions."""
    version = tuple(int(part) for part in installed.split("+")[0].split(".")[:3] if part.isdigit())
    low, high = SUPPORTED_PULUMI
    if not low <= version < high:
        supported = f">={'.'.join(map(str, low))},<{'.'.join(map(str, high))}"
        raise ProjectError(f"{where} has pulumi {installed}; the offline engine of aifinops "
                           f"{metadata.version('aifinops')} supports pulumi {supported} (it pins {PINNED_PULUMI}): "
                           f"install a supported version there, e.g. `pip install pulumi=={PINNED_PULUMI}`")


def serve(request: dict[str, Any]) -> int:
    """The child's side: check the SDKs, run the program, write the graph (or the error) to the result file."""
    result: dict[str, Any]
    try:
        where = f"the project's virtualenv {sys.prefix}"
        try:
            check_pulumi_sdk(metadata.version("pulumi"), where)
        except metadata.PackageNotFoundError:
            raise ProjectError(f"{where} has no pulumi SDK: install it, e.g. `pip install pulumi=={PINNED_PULUMI}`") \
                from None
        installed_aifinops = _installed_version("aifinops")
        if installed_aifinops not in (None, request["aifinops"]):
            raise ProjectError(f"{where} has aifinops {installed_aifinops}, this preview is aifinops "
                               f"{request['aifinops']}: run the preview with the project's own "
                               f"(`{Path(sys.prefix) / 'bin' / 'aifinops'} preview`), or install the same version")
        from .engine import run_program

        project = load_project(request["cwd"])
        graph = run_program(project, project.load_stack(request["stack"]), **request["options"])
        result = {"graph": graph.to_json()}
    except AifinopsError as error:
        result = {"error": str(error), "exitCode": error.exit_code, "kind": type(error).__name__}
    Path(request["result"]).write_text(json.dumps(result, default=str))
    return 0


def _installed_version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None
