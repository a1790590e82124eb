"""The cost section of `aifinops preview`: the estimate's summary in the text, `costEstimate` in the JSON."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .cost_estimate import estimate_graph
from .cost_rendering import summary_lines
from .graph import ResourceGraph
from .project import from_cwd


def add_cost_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--usage", type=Path, metavar="FILE",
                        help="usage file for the cost section (default: the stack's costUsage config)")


def preview_cost_section(graph: ResourceGraph, args: argparse.Namespace) -> tuple[list[str], dict[str, Any]]:
    """Text lines and the JSON of the estimate that `aifinops preview` shows."""
    estimate = estimate_graph(graph, from_cwd(args, getattr(args, "usage", None)))
    return ["Cost estimate (details: aifinops cost):", *[f"    {line}" for line in summary_lines(estimate)], ""], \
        estimate.to_json()
