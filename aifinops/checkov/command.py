"""`aifinops preview --checkov`: start checkov before the policy packs run, collect it after.

checkov costs ~3 s of imports per run; started first, it runs while the policy packs do, so the preview
waits only for what is left of it.
"""
from __future__ import annotations

import argparse
import atexit
import time
from pathlib import Path
from typing import Optional

from aifinops.graph import ResourceGraph
from aifinops.project import from_cwd
from aifinops.reports.checkov_findings import add_checkov_scan, checkov_sections
from aifinops.reports.model import Report

from .run import PendingScan, WarmCheckov


def add_checkov_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkov", action="store_true",
                        help="also scan the stack with checkov (its AWS and Kubernetes checks and aifinops's own); "
                             "a failed check fails the preview (exit 1)")


def _config_files(args: argparse.Namespace) -> list[str]:
    return [str(Path(from_cwd(args, path)).resolve()) for path in args.policy_pack_config]


def warm_up_checkov(args: argparse.Namespace, project_dir: Path) -> Optional[WarmCheckov]:
    """With --checkov, start checkov's interpreter now, so its imports overlap the program."""
    if not getattr(args, "checkov", False):
        return None
    return WarmCheckov(project_dir, _config_files(args))


def start_checkov_scan(graph: ResourceGraph, args: argparse.Namespace,
                       warm: Optional[WarmCheckov] = None) -> Optional[PendingScan]:
    if not getattr(args, "checkov", False):
        return None
    started = time.perf_counter()
    pending = PendingScan([graph], policy_config_files=_config_files(args), warm=warm)
    atexit.register(pending.cancel)  # if the policy packs fail first, do not leave checkov behind
    pending.waited_seconds = time.perf_counter() - started
    return pending


def finish_checkov_scan(pending: Optional[PendingScan], report: Report) -> list[str]:
    """Add checkov's findings to the report and return its text section ([] without --checkov)."""
    if pending is None:
        return []
    started = time.perf_counter()
    scan = pending.result()
    atexit.unregister(pending.cancel)
    add_checkov_scan(report, scan)
    # What the preview waited for: the export and start, then what was left after the policy packs.
    report.duration_seconds += pending.waited_seconds + time.perf_counter() - started
    return checkov_sections(report, scan)
