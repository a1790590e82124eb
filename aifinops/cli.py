"""The `aifinops` command: subcommands register themselves from their own modules."""
from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import sys
import traceback
from typing import Optional, Sequence

from . import terminal
from .child_processes import Interrupted, stop_all, termination_signals_interrupt
from .core.errors import EXIT_ERROR, EXIT_INTERNAL, AifinopsError
from .terminal import COLOR_CHOICES

# One module per subcommand; each has register(subparsers) that sets `handler` on its parser.
COMMAND_MODULES = {
    "preview": "aifinops.preview",
    "cost": "aifinops.cost_command",
    "catalog": "aifinops.catalog_command",
    "audit": "aifinops.audit_command",
    "report": "aifinops.spend_command",
    "policy": "aifinops.policy_command",
    "rightsize": "aifinops.rightsize_command",
}


def build_parser(command: Optional[str] = None) -> argparse.ArgumentParser:
    """The parser; given the subcommand, only its module is imported (boto3, checkov glue and the
    estimator are not every command's business)."""
    parser = argparse.ArgumentParser(
        prog="aifinops",
        description="Preview Pulumi stacks offline with cost policies, checkov and a cost estimate.",
        epilog="exit codes: 0 ok; 1 mandatory policy violations (or failed checkov checks) only; 2 usage, "
               "config, program or tool errors; 3 an internal error in aifinops (please report it).")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    names = [command] if command in COMMAND_MODULES else list(COMMAND_MODULES)
    for name in names:
        importlib.import_module(COMMAND_MODULES[name]).register(subparsers)
    _add_global_flags(parser, top=True)
    return parser


def _add_global_flags(parser: argparse.ArgumentParser, top: bool = False) -> None:
    """--color, --non-interactive and --debug, before or after any (sub)command, as the Pulumi CLI takes them.

    Below the top their defaults are SUPPRESS, so a subcommand's parser never resets what was given
    before it (a subcommand's own --debug included)."""
    flags = {"--color": dict(choices=COLOR_CHOICES, default="auto",
                             help="colour the output: auto (a terminal, NO_COLOR unset), always or never"),
             "--non-interactive": dict(action="store_true", default=False,
                                       help="no progress on stderr (also off when stderr is not a terminal)"),
             "--debug": dict(action="store_true", default=False, help="print tracebacks and debug detail")}
    options = parser._option_string_actions  # argparse has no public "is this flag defined"
    for flag, settings in flags.items():
        if flag in options:
            if not top:
                options[flag].default = argparse.SUPPRESS
            continue
        parser.add_argument(flag, **{**settings, "default": settings["default"] if top else argparse.SUPPRESS})
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for subparser in action.choices.values():
                _add_global_flags(subparser)


def _version() -> str:
    try:
        return importlib.metadata.version("aifinops")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((arg for arg in argv if arg in COMMAND_MODULES), None)
    parser = build_parser(command)
    args = parser.parse_args(argv)  # a usage error exits 2 here, as argparse does
    terminal.configure(args.color, args.non_interactive)
    if args.command is None:  # like a missing required argument: usage error, help on stderr
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    try:
        with termination_signals_interrupt():
            return int(args.handler(args) or 0)
    except AifinopsError as error:
        if getattr(args, "debug", False) and error.__cause__ is not None:
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
    except Exception as error:  # a bug: never reported as a policy verdict
        stop_all()
        if args.debug:
            traceback.print_exc()
        hint = "" if args.debug else "; run the same command with --debug for the traceback"
        print(f"internal error: {type(error).__name__}: {error}\n"
              f"This is a bug in aifinops: please report it{hint}.", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
