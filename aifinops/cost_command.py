"""`aifinops cost`: the stack's monthly cost estimate, offline, with the savings against the naive equivalent."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .core.errors import EXIT_OK, AifinopsError
from .cost_estimate import estimate_and_document
from .cost_rendering import change_lines, render_html, render_table
from .cost_section import add_compare_argument
from .preview import add_stack_arguments, load_graph
from .project import from_cwd
from .terminal import step


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("cost", help="estimate a stack's monthly cost offline (like infracost breakdown)")
    add_stack_arguments(parser)
    parser.add_argument("--usage", type=Path, metavar="FILE",
                        help="usage file (YAML: GB stored, growth, hours, requests); default: the stack's costUsage")
    parser.add_argument("--json", action="store_true",
                        help="print the estimate as JSON, with Infracost's field names (totalMonthlyCost, ...)")
    add_compare_argument(parser)
    parser.add_argument("--html", type=Path, metavar="FILE", help="also write a self-contained HTML report with charts")
    parser.add_argument("--no-assumptions", action="store_true", help="leave the usage assumptions out of the table")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    graph, _ = step("running the program", load_graph, args)
    estimate, document = step("estimating the cost", estimate_and_document, graph, from_cwd(args, args.usage),
                              from_cwd(args, args.compare_to))
    html_file = from_cwd(args, args.html)
    if html_file is not None:
        try:
            html_file.write_text(render_html(estimate))
        except OSError as error:
            raise AifinopsError(f"--html {args.html}: cannot write: {error.strerror}") from error
    if args.json:
        json.dump(document, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(render_table(estimate, show_assumptions=not args.no_assumptions))
        if args.compare_to is not None:
            print("\n" + "\n".join(change_lines(document)))
        if args.html:
            print(f"\nHTML report: {html_file}")
    return EXIT_OK

