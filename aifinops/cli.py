"""The `aifinops` command: subcommands register themselves from their own modules."""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Optional, Sequence

from .errors import EXIT_ERROR, AifinopsError

# One module per subcommand; each has register(subparsers) that sets `handler` on its parser.
COMMAND_MODULES = (
    "aifinops.preview",
    "aifinops.cost_command",
    "aifinops.catalog_command",
    "aifinops.audit_command",
    "aifinops.report_command",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aifinops",
        description="Preview Pulumi stacks offline with cost policies, checkov and a cost estimate.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except AifinopsError as error:
        if getattr(args, "debug", False) and error.__cause__ is not None:
            import traceback
            traceback.print_exception(error.__cause__)
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
