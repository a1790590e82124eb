"""Run checkov over an exported stack and map its findings back to Pulumi URNs and source lines.

checkov lives in its own virtualenv (it pins `packaging<24`, current pulumi needs >=26) and runs as a
subprocess with offline flags. It exits 0 on missing or empty input, so the scanned resource count is
compared with what was exported: a mismatch is an error, never a clean result.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

from aifinops.child_processes import ChildProcess, ChildTimeout, guard_path, release_path
from aifinops.components.checkov_suppressions import CheckovSuppression, declared_suppressions, find_suppression
from aifinops.core.errors import AifinopsError
from aifinops.graph import ResourceGraph, SourcePosition
from aifinops.policies import checkov_checks
from aifinops.policies.checkov_checks.aifinops_check_settings import check_enforcement_levels

from .export import KUBERNETES, TERRAFORM, CheckovExport, ExportedResource, NotScanned, export_graph

CUSTOM_CHECKS_DIR = Path(checkov_checks.__file__).resolve().parent
CHECKOV_VERSION = "3.3.30"  # what our checks and the mapping are tested with (scripts/bootstrap installs it)
# A checkout of this repository keeps checkov in .venv-checkov beside the package.
SOURCE_CHECKOUT = Path(__file__).resolve().parents[2]
CHECKOV_ENV = "AIFINOPS_CHECKOV"  # path to a checkov executable, to override the lookup
POLICY_CONFIG_ENV = "AIFINOPS_POLICY_CONFIG"  # read by our custom checks; os.pathsep-separated files
TIMEOUT_SECONDS = 600
# Offline: no update check, no download of guideline mappings; and a user's CHECKOV_NO_OUTPUT must not
# silence the report we parse.
OFFLINE_ENV = {"CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "BC_SKIP_MAPPING": "TRUE", "CHECKOV_NO_OUTPUT": "false",
               # Read the plan's after_unknown: values unknown until apply count as set, not as missing.
               "EVAL_TF_PLAN_AFTER_UNKNOWN": "true"}
# An API key in the environment would make checkov talk to (and upload to) the Prisma Cloud platform.
PLATFORM_ENV = ("BC_API_KEY",)

PASSED, FAILED, SUPPRESSED = "passed", "failed", "suppressed"


class CheckovError(AifinopsError):
    """checkov is missing, crashed, answered garbage, or scanned a different number of resources."""


@dataclass
class CheckovFinding:
    check_id: str
    check_name: str
    status: str  # PASSED | FAILED | SUPPRESSED
    framework: str
    checkov_resource: str  # checkov's own id: a Terraform address or Kind.namespace.name
    urn: str
    source: Optional[SourcePosition]
    guideline: str = ""
    severity: str = ""
    suppression_reason: str = ""
    details: list[str] = field(default_factory=list)  # what a failed check found, when it says


@dataclass
class CheckovScan:
    findings: list[CheckovFinding] = field(default_factory=list)
    not_scanned: list[NotScanned] = field(default_factory=list)
    scanned: dict[str, int] = field(default_factory=dict)  # framework -> resources checkov counted
    # Our checks (CKV_AIFINOPS_*) -> the enforcement level the policy config gives the policy they mirror.
    enforcement_levels: dict[str, str] = field(default_factory=dict)
    checkov_version: str = ""
    duration_seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for f in self.findings if f.status == status)

    @property
    def passed(self) -> list[CheckovFinding]:
        return [f for f in self.findings if f.status == PASSED]

    @property
    def failed(self) -> list[CheckovFinding]:
        return [f for f in self.findings if f.status == FAILED]

    @property
    def suppressed(self) -> list[CheckovFinding]:
        return [f for f in self.findings if f.status == SUPPRESSED]


def find_checkov(project_dir: Optional[Path] = None) -> Path:
    """$AIFINOPS_CHECKOV, else .venv-checkov of the project or of an aifinops checkout, else checkov on PATH."""
    candidates = []
    if os.environ.get(CHECKOV_ENV):
        candidates.append(Path(os.environ[CHECKOV_ENV]))
    for root in (project_dir, SOURCE_CHECKOUT):
        if root is not None:
            candidates.append(Path(root) / ".venv-checkov" / "bin" / "checkov")
    on_path = shutil.which("checkov")
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise CheckovError(f"checkov not found: install it in a virtualenv of its own (it cannot share one with pulumi), "
                       f"e.g. `pipx install checkov=={CHECKOV_VERSION}`, so that `checkov` is on PATH, or set "
                       f"{CHECKOV_ENV} to a checkov executable (in a checkout of aifinops, ./scripts/bootstrap "
                       f"installs it into .venv-checkov)")


class PendingScan:
    """checkov started in the background over one or more graphs (one process for all of them);
    `results()` collects one CheckovScan per graph. It overlaps whatever the caller does meanwhile."""

    def __init__(self, graphs: Sequence[ResourceGraph], *, policy_config_files: Sequence[str] = (),
                 checkov: Optional[Path] = None, work_dir: Optional[Path] = None,
                 suppressions: Optional[Iterable[CheckovSuppression]] = None,
                 warm: Optional[WarmCheckov] = None) -> None:
        self.started = time.perf_counter()
        self.waited_seconds = 0.0  # what the caller spent waiting on this scan, outside results()
        self.graphs = list(graphs)
        self.suppressions = suppressions
        config_files = tuple(str(Path(f).resolve()) for f in policy_config_files)
        # Read here first: a bad config is our error to report, not one for checkov to swallow.
        self.enforcement_levels = check_enforcement_levels(config_files)
        if work_dir is not None and Path(work_dir).exists() and any(Path(work_dir).iterdir()):
            raise CheckovError(f"{work_dir}: the checkov work directory must be empty: checkov scans all of it")
        self._temporary = None if work_dir else tempfile.TemporaryDirectory(prefix="aifinops-checkov-")
        self.directory = Path(work_dir) if work_dir else Path(self._temporary.name)
        if self._temporary is not None:
            guard_path(self.directory)  # removed by the guard if aifinops is killed before cancel()
        # One subdirectory per graph: checkov reports file paths, which say whose finding it is.
        self.exports = [export_graph(graph, self.directory / f"{index}-{graph.stack}")
                        for index, graph in enumerate(self.graphs)]
        self.process: Optional[ChildProcess] = None
        frameworks = [f for f in (TERRAFORM, KUBERNETES) if any(f in e.frameworks() for e in self.exports)]
        if frameworks and warm is not None:
            self.process = warm.start(self.directory, frameworks, config_files)
        elif frameworks:
            program_dir = self.graphs[0].program_dir
            executable = checkov or find_checkov(Path(program_dir).parent if program_dir else None)
            self.process = start_checkov(executable, self.directory, frameworks, config_files)
        elif warm is not None:
            warm.cancel()

    def results(self) -> list[CheckovScan]:
        try:
            reports, log = finish_checkov(self.process) if self.process is not None else ([], "")
            scans = findings_from_reports(reports, list(zip(self.exports, self.graphs)), self.directory, log)
        finally:
            self.cancel()
        active = list(self.suppressions) if self.suppressions is not None else declared_suppressions()
        for scan in scans:
            scan.enforcement_levels = dict(self.enforcement_levels)
            apply_suppressions(scan, active)
            scan.duration_seconds = time.perf_counter() - self.started
        return scans

    def result(self) -> CheckovScan:
        """The scan of the only graph."""
        (scan,) = self.results()
        return scan

    def cancel(self) -> None:
        """Stop checkov if it still runs and remove the exported files."""
        if self.process is not None:
            self.process.stop()  # its whole process group
        if self._temporary is not None:
            self._temporary.cleanup()
            release_path(self.directory)
            self._temporary = None


def scan_graph(graph: ResourceGraph, **options: Any) -> CheckovScan:
    """Export the graph, run checkov with our custom checks, and return findings by URN."""
    return PendingScan([graph], **options).result()


def scan_graphs(graphs: Sequence[ResourceGraph], **options: Any) -> list[CheckovScan]:
    """Several stacks in one checkov run (its ~3 s start-up is paid once)."""
    return PendingScan(graphs, **options).results()


def checkov_arguments(directory: Path, frameworks: Sequence[str]) -> list[str]:
    """checkov's command line for one offline run over `directory` with our custom checks."""
    return ["--directory", str(directory), "--framework", *frameworks, "--skip-download", "--output", "json",
            "--soft-fail", "--compact", "--external-checks-dir", str(CUSTOM_CHECKS_DIR)]


def checkov_environment(policy_config_files: Sequence[str]) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in PLATFORM_ENV} | OFFLINE_ENV
    if policy_config_files:
        env[POLICY_CONFIG_ENV] = os.pathsep.join(policy_config_files)
    else:
        env.pop(POLICY_CONFIG_ENV, None)
    return env


def start_checkov(executable: Path, directory: Path, frameworks: Sequence[str],
                  policy_config_files: Sequence[str] = ()) -> ChildProcess:
    """Start one checkov run over `directory`, offline, with our custom checks, in a process group of its own."""
    try:
        return ChildProcess([str(executable), *checkov_arguments(directory, frameworks)],
                            env=checkov_environment(policy_config_files), cwd=directory)
    except OSError as error:
        raise CheckovError(f"could not run {executable}: {error}") from error


# Runs in checkov's interpreter: import checkov (most of its start-up) at once, then wait for the run's
# command line, and run it exactly as the `checkov` script does. An empty line or EOF: not needed.
_WARM_CHECKOV = """
import json, os, sys, warnings
with warnings.catch_warnings():
    warnings.simplefilter("ignore", category=SyntaxWarning)
    from checkov.main import Checkov
line = sys.stdin.readline()
if not line.strip():
    sys.exit(0)
request = json.loads(line)
os.chdir(request["cwd"])
with warnings.catch_warnings():
    warnings.simplefilter("ignore", category=SyntaxWarning)
    sys.exit(Checkov(request["argv"]).run())
"""


def script_interpreter(executable: Path) -> Optional[Path]:
    """The Python a console script such as `checkov` runs with (its #! line), or None if it is not one."""
    try:
        with open(executable, "rb") as script:
            first = script.readline(1024)
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    words = first[2:].decode(errors="replace").split()
    interpreter = Path(words[0]) if len(words) == 1 else None  # `#!/usr/bin/env python3` and the like: no
    return interpreter if interpreter is not None and interpreter.name.startswith("python") \
        and interpreter.is_file() else None


class WarmCheckov:
    """checkov's interpreter started before the program runs, so its ~3 s of imports overlap the program;
    `start` hands it the run once the export is on disk. Where checkov is not a Python console script,
    `start` runs the executable as before."""

    def __init__(self, project_dir: Optional[Path], policy_config_files: Sequence[str] = ()) -> None:
        self.executable = find_checkov(project_dir)
        self.policy_config_files = tuple(policy_config_files)
        interpreter = script_interpreter(self.executable)
        self.process: Optional[ChildProcess] = None
        if interpreter is not None:
            self.process = ChildProcess([str(interpreter), "-c", _WARM_CHECKOV], stdin_later=True,
                                        env=checkov_environment(self.policy_config_files))

    def start(self, directory: Path, frameworks: Sequence[str], policy_config_files: Sequence[str]) -> ChildProcess:
        """The checkov run over `directory` (the warm process, unless the config files changed)."""
        process, self.process = self.process, None
        if process is None or tuple(policy_config_files) != self.policy_config_files or process.poll() is not None:
            if process is not None:
                process.stop()
            return start_checkov(self.executable, directory, frameworks, policy_config_files)
        request = {"cwd": str(directory), "argv": checkov_arguments(directory, frameworks)}
        process.write_stdin((json.dumps(request) + "\n").encode())
        return process

    def cancel(self) -> None:
        """Not needed after all (nothing to scan, or the run failed first)."""
        if self.process is not None:
            self.process.stop()
            self.process = None


def finish_checkov(process: ChildProcess) -> tuple[list[dict[str, Any]], str]:
    """Wait for checkov; return its JSON reports (one per framework) and its log."""
    try:
        process.finish(TIMEOUT_SECONDS)
    except ChildTimeout as error:
        raise CheckovError(f"checkov did not finish within {TIMEOUT_SECONDS} s") from error
    stdout, stderr = (data.decode(errors="replace") for data in (process.stdout, process.stderr))
    if process.returncode != 0:
        raise CheckovError(f"checkov exited {process.returncode}: {_tail(stderr or stdout)}")
    try:
        parsed = json.loads(stdout)
    except ValueError as error:
        raise CheckovError(f"checkov printed no JSON report: {_tail(stdout or stderr)}") from error
    reports = parsed if isinstance(parsed, list) else [parsed]
    if not all(isinstance(r, dict) for r in reports):
        raise CheckovError(f"unexpected checkov report shape: {_tail(stdout)}")
    return reports, stderr


def findings_from_reports(reports: list[dict[str, Any]], exports: Sequence[tuple[CheckovExport, ResourceGraph]],
                          root: Path, log: str = "") -> list[CheckovScan]:
    """Check checkov's counts against the exports, then turn each check result into a finding on a URN."""
    scans = [CheckovScan(not_scanned=list(exported.not_scanned)) for exported, _ in exports]
    by_type = {r.get("check_type"): r for r in reports if "check_type" in r}
    for framework in (TERRAFORM, KUBERNETES):
        expected = sum(exported.expected_count(framework) for exported, _ in exports)
        if not expected:
            continue
        report = by_type.get(framework) or {}
        summary = report.get("summary", {})
        scanned = int(summary.get("resource_count", 0))
        if scanned != expected:
            raise CheckovError(f"checkov scanned {scanned} {framework} resources but {expected} were exported "
                               f"(to {root}); refusing to report a partial scan as clean"
                               + (f"\ncheckov said:\n{_tail(log)}" if log.strip() else ""))
        if int(summary.get("parsing_errors", 0)):
            raise CheckovError(f"checkov could not parse {summary['parsing_errors']} exported {framework} file(s): "
                               f"{report.get('results', {}).get('parsing_errors')}")
        for scan, (exported, _) in zip(scans, exports):
            scan.scanned[framework] = exported.expected_count(framework)
            scan.checkov_version = summary.get("checkov_version", "")
        results = report.get("results", {})
        for key, status in (("passed_checks", PASSED), ("failed_checks", FAILED), ("skipped_checks", SUPPRESSED)):
            for check in results.get(key, []):
                index, resource = _exported_resource(check, framework, exports, root)
                scans[index].findings.append(_finding(check, status, framework, resource, exports[index][1]))
    return scans


def _finding(check: dict[str, Any], status: str, framework: str, exported: ExportedResource,
             graph: ResourceGraph) -> CheckovFinding:
    resource = graph.get(exported.urn)
    return CheckovFinding(
        check_id=check.get("check_id", ""), check_name=check.get("check_name", ""), status=status,
        framework=framework, checkov_resource=check.get("resource", ""), urn=exported.urn,
        source=resource.source if resource else None, guideline=check.get("guideline") or "",
        severity=check.get("severity") or "",
        suppression_reason=(check.get("check_result") or {}).get("suppress_comment", "") if status == SUPPRESSED else "",
        details=[str(d) for d in check.get("details") or []])


def _exported_resource(check: dict[str, Any], framework: str, exports: Sequence[tuple[CheckovExport, ResourceGraph]],
                       root: Path) -> tuple[int, ExportedResource]:
    """Which graph and resource a check result is about: by file, then by Terraform address.

    A manifest is one file per resource, so the file names it (its pod template too)."""
    path = "/" + str(check.get("file_path", "")).replace(os.sep, "/").lstrip("/")
    for index, (exported, _) in enumerate(exports):
        prefix = "/" + exported.directory.relative_to(root).as_posix() + "/"
        if not path.startswith(prefix):
            continue
        file = path[len(prefix):]
        address = check.get("resource_address") or check.get("resource", "")
        for resource in exported.resources:
            if resource.framework == framework and resource.file == file and \
                    (framework == KUBERNETES or resource.address == address):
                return index, resource
    raise CheckovError(f"checkov reported {check.get('check_id')} on {check.get('resource')!r} "
                       f"({check.get('file_path')}), which is not an exported resource")


def apply_suppressions(scan: CheckovScan, suppressions: Sequence[CheckovSuppression]) -> None:
    """Failed findings a component suppresses, with a reason, become suppressed findings."""
    for finding in scan.findings:
        if finding.status != FAILED:
            continue
        suppression = find_suppression(suppressions, finding.urn, finding.check_id)
        if suppression is not None:
            finding.status = SUPPRESSED
            finding.suppression_reason = suppression.reason


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


__all__ = ["CheckovError", "CheckovFinding", "CheckovScan", "KUBERNETES", "TERRAFORM", "PendingScan", "find_checkov",
           "scan_graph", "scan_graphs", "start_checkov", "finish_checkov", "findings_from_reports",
           "apply_suppressions"]
