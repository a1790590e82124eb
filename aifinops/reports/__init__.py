"""Reports for PR checks. One model (`model.Report` of `model.Finding`s from any tool), one module per
format: text (the CLI's), digest (`--json`), sarif, junit, markdown. A new source of findings registers a
`Tool` and adds `Finding`s (see `policy_findings`); the formats need no change."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Callable

from aifinops.core.errors import AifinopsError
from aifinops.project import from_cwd

from .junit import junit_document
from .markdown import markdown_document
from .model import Finding, Level, Report, Rule, Tool, ToolKind
from .sarif import sarif_document

# flag -> (what it writes, how it renders a report)
FILE_FORMATS: dict[str, tuple[str, Callable[[Report], str]]] = {
    "sarif": ("SARIF 2.1.0 for GitHub code scanning", lambda r: json.dumps(sarif_document(r), indent=2) + "\n"),
    "junit": ("JUnit XML for CI dashboards", junit_document),
    "markdown": ("a Markdown summary for a PR comment", markdown_document),
}


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    for flag, (what, _) in FILE_FORMATS.items():
        parser.add_argument(f"--{flag}", metavar="FILE", default=None, help=f"write {what} to FILE")


def write_reports(report: Report, args: argparse.Namespace) -> list[Path]:
    written = []
    for flag, (_, render) in FILE_FORMATS.items():
        target = getattr(args, flag, None)
        if not target:
            continue
        path = from_cwd(args, target)  # relative to --cwd, as every path the CLI takes
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(report))
        except OSError as error:
            raise AifinopsError(f"--{flag} {target}: cannot write: {error.strerror}") from error
        written.append(path)
    return written


__all__ = ["FILE_FORMATS", "Finding", "Level", "Report", "Rule", "Tool", "ToolKind", "add_report_arguments",
           "write_reports"]
