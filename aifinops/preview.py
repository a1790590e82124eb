"""`aifinops preview`: run a stack's program offline and show what it would create."""
from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Optional

from .core.errors import ProjectError
from .checkov.command import add_checkov_arguments, finish_checkov_scan, start_checkov_scan, warm_up_checkov
from .cost_section import add_cost_arguments, preview_cost_section
from .program_host import run_stack_program
from .engine import RegistrationListener
from .program_timeout import DEFAULT_PROGRAM_TIMEOUT_SECONDS, parse_timeout
from .graph import ResourceGraph
from .policy_check import add_policy_arguments, finish_policy_packs, start_policy_packs
from .preview_output import render_text
from .project import Project, StackConfig, from_cwd, load_project, read_json_argument
from .reports import Report, add_report_arguments, write_reports
from .reports.digest import preview_document
from .reports.policy_findings import add_policy_run
from .reports.text import policy_sections
from .terminal import paint, step


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("preview", help="preview a stack offline (like `pulumi preview`)")
    add_stack_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print a PreviewDigest, like `pulumi preview --json`")
    parser.add_argument("--policy-pack", action="append", default=[], metavar="DIR",
                        help="run this policy pack (repeatable); default: every pack in policies/")
    parser.add_argument("--policy-pack-config", action="append", default=[], metavar="FILE",
                        help="policy config JSON, in `pulumi preview --policy-pack-config` format")
    add_policy_arguments(parser)
    add_checkov_arguments(parser)
    add_report_arguments(parser)
    add_cost_arguments(parser)
    parser.set_defaults(handler=run)


def add_stack_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags every stack-reading subcommand shares with pulumi preview."""
    parser.add_argument("--cwd", "-C", default=".", metavar="DIR", help="run as if started in DIR")
    parser.add_argument("--stack", "-s", default=None, metavar="NAME", help="the stack to preview")
    parser.add_argument("--debug", "-d", action="store_true", help="print tracebacks and debug detail")
    parser.add_argument("--mock-outputs", action="store_true",
                        help="give ids and computed outputs AWS-shaped values (default: unknown, as a preview)")
    parser.add_argument("--stack-reference-outputs", type=Path, metavar="FILE",
                        help="JSON {stack name: {output: value}}: what StackReferences read (default: unknown)")
    parser.add_argument("--timeout", type=parse_timeout, default=DEFAULT_PROGRAM_TIMEOUT_SECONDS, metavar="DURATION",
                        help=f"stop the program after DURATION (e.g. 90s, 10m, 1h; default "
                             f"{DEFAULT_PROGRAM_TIMEOUT_SECONDS / 60:g}m) and name the line it was running")


def stack_reference_outputs(args: argparse.Namespace) -> Optional[dict[str, Any]]:
    """--stack-reference-outputs FILE: {"org/project/stack": {"output": value, ...}, ...}."""
    path = args.stack_reference_outputs
    if path is None:
        return None
    path = from_cwd(args, path)
    document = read_json_argument("--stack-reference-outputs", path)
    if not isinstance(document, dict) or not all(isinstance(v, dict) for v in document.values()):
        raise ProjectError(f"--stack-reference-outputs: {path}: expected an object of stack name -> "
                           f"{{output name: value}}, got {json.dumps(document)[:200]}")
    return document


def load_stack(args: argparse.Namespace) -> tuple[Project, StackConfig]:
    """The project and stack named by the shared flags."""
    project = load_project(args.cwd)
    return project, project.load_stack(project.select_stack(args.stack))


def load_graph(args: argparse.Namespace, on_register: Optional[RegistrationListener] = None
               ) -> tuple[ResourceGraph, float]:
    """Load the project and stack named by the shared flags, run the program, time it."""
    project, stack = load_stack(args)
    return run_program_timed(project, stack, args, on_register)


def run_program_timed(project: Project, stack: StackConfig, args: argparse.Namespace,
                      on_register: Optional[RegistrationListener] = None) -> tuple[ResourceGraph, float]:
    started = time.perf_counter()
    graph = run_stack_program(project, stack, debug=args.debug, mock_outputs=args.mock_outputs,
                              stack_reference_outputs=stack_reference_outputs(args), timeout=args.timeout,
                              on_register=on_register)
    return graph, time.perf_counter() - started


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    project, stack = load_stack(args)
    # The packs start now and analyze each resource as it registers, while the program goes on; checkov's
    # interpreter imports meanwhile (the children are stopped by the command however the run ends).
    stream = start_policy_packs(args, project.name, stack.name, stack.blinded_values(), beside_program=True)
    warm_checkov = warm_up_checkov(args, project.main.resolve().parent)
    try:
        graph, duration = step("running the program", run_program_timed, project, stack, args,
                               stream.submit if stream else None)
    except BaseException:
        if stream is not None:
            stream.abort()
        if warm_checkov is not None:
            warm_checkov.cancel()
        raise
    report = Report(graph, duration)
    checkov_scan = start_checkov_scan(graph, args, warm_checkov)  # runs while the policy packs finish
    # The packs' last answers and AnalyzeStack, which this process only waits on, overlap the estimate.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="aifinops-packs") as pool:
        finishing = pool.submit(finish_policy_packs, stream, graph, args) if stream is not None else None
        try:
            cost_lines, cost_json = step("estimating the cost", preview_cost_section, graph, args)
            policy_run = step("running the policy packs", finishing.result) if finishing is not None else None
        except BaseException:  # a bad usage file, a signal: the packs are closed, so their thread ends now
            if stream is not None:
                stream.abort()
            raise
    if policy_run is not None:
        add_policy_run(report, policy_run)
        report.duration_seconds = time.perf_counter() - started  # program and packs overlap
    checkov_lines = step("scanning with checkov", finish_checkov_scan, checkov_scan, report)
    report.cost = cost_json
    if args.json:
        json.dump({**preview_document(report), "costEstimate": cost_json}, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        print(paint(render_text(graph, report.duration_seconds, policy_sections(report) + checkov_lines + cost_lines)))
    write_reports(report, args)
    return report.exit_code
