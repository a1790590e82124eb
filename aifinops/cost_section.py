"""The cost section of `aifinops preview`: the estimate's summary in the text, `costEstimate` in the JSON."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .cost_estimate import estimate_and_document
from .cost_rendering import change_lines, summary_lines
from .graph import ResourceGraph
from .project import from_cwd


def add_cost_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--usage", type=Path, metavar="FILE",
                        help="usage file for the cost section (default: the stack's costUsage config)")
    add_compare_argument(parser)


def add_compare_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--compare-to", type=Path, metavar="BASE.json", default=None,
                        help="the same command's --json from the base branch: adds pastTotalMonthlyCost, "
                             "diffTotalMonthlyCost and the change per resource")


def preview_cost_section(graph: ResourceGraph, args: argparse.Namespace) -> tuple[list[str], dict[str, Any]]:
    """Text lines and the JSON of the estimate that `aifinops preview` shows (with the change against
    --compare-to)."""
    compare_to = getattr(args, "compare_to", None)
    estimate, document = estimate_and_document(graph, from_cwd(args, getattr(args, "usage", None)),
                                               from_cwd(args, compare_to))
    lines = ["Cost estimate (details: aifinops cost):", *[f"    {line}" for line in summary_lines(estimate)]]
    if compare_to is not None:
        lines += [f"    {line}" for line in change_lines(document)]
    return lines + [""], document
