"""The `aifinops` command: subcommands register themselves from their own modules."""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Optional, Sequence

from .child_processes import Interrupted, stop_all, termination_signals_interrupt
from .core.errors import EXIT_ERROR, AifinopsError

# One module per subcommand; each has register(subparsers) that sets `handler` on its parser.
COMMAND_MODULES = {
    "preview": "aifinops.preview",
    "cost": "aifinops.cost_command",
    "catalog": "aifinops.catalog_command",
    "audit": "aifinops.audit_command",
    "report": "aifinops.spend_command",
    "policy": "aifinops.policy_command",
}


def build_parser(command: Optional[str] = None) -> argparse.ArgumentParser:
    """The parser; given the subcommand, only its module is imported (boto3, checkov glue and the
    estimator are not every command's business)."""
    parser = argparse.ArgumentParser(
        prog="aifinops",
        description="Preview Pulumi stacks offline with cost policies, checkov and a cost estimate.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    names = [command] if command in COMMAND_MODULES else list(COMMAND_MODULES)
    for name in names:
        importlib.import_module(COMMAND_MODULES[name]).register(subparsers)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv else None
    args = build_parser(command).parse_args(argv)
    try:
        with termination_signals_interrupt():
            return int(args.handler(args) or 0)
    except AifinopsError as error:
        if getattr(args, "debug", False) and error.__cause__ is not None:
            import traceback
            traceback.print_exception(error.__cause__)
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except Interrupted as interrupted:  # SIGTERM, SIGHUP or SIGINT: the unwinding ran every cleanup
        stop_all()
        print(f"aifinops: stopped by {interrupted}", file=sys.stderr)
        return interrupted.exit_code
    except KeyboardInterrupt:
        stop_all()
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
