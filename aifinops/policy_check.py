"""How `aifinops preview` runs policy packs: which packs, with which config, and how long to wait.

With no `--policy-pack`, the packs in the project's own `policies/` folder run (each subfolder with a
PulumiPolicy.yaml), or, when the project has none, the packs built into the installed aifinops; each
`--policy-pack-config` file applies to all of them (a policy name belongs to one pack). With `--policy-pack`, the config files pair with the packs
in order, as in `pulumi preview`, and their numbers must match.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import yaml

from aifinops import policies

from .core.errors import PolicyPackError
from .core.input_files import UndecodableFileError, read_text_file
from .core.policy_config import ALL_POLICIES, PolicyPackConfig, load_config_file
from .graph import ResourceGraph
from .pack_stream import PackStream
from .project import from_cwd
from .secret_masking import mask_policy_run, mask_text, secret_strings
from .policy_runner import RPC_TIMEOUT_SECONDS, PackEnvironment, PolicyPackSet, PolicyRun


def add_policy_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags beyond pulumi preview's --policy-pack/--policy-pack-config (which preview.py declares)."""
    parser.add_argument("--policy-timeout", type=float, default=RPC_TIMEOUT_SECONDS, metavar="SECONDS",
                        help=f"fail when a policy pack takes longer than this to answer (default {RPC_TIMEOUT_SECONDS:g})")
    parser.add_argument("--skip-policy-packs", action="store_true",
                        help="do not run policy packs (a plain preview)")
    parser.add_argument("--stack-tag", action="append", default=[], type=stack_tag, metavar="KEY=VALUE",
                        help="a stack tag the packs see (as set with `pulumi stack tag set`); repeatable. "
                             "pulumi:project, pulumi:runtime and pulumi:description are added as the CLI does")


def stack_tag(text: str) -> tuple[str, str]:
    """--stack-tag KEY=VALUE; the pulumi: namespace is the CLI's own."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"--stack-tag {text!r}: expected KEY=VALUE")
    if key.startswith("pulumi:"):
        raise argparse.ArgumentTypeError(f"--stack-tag {text!r}: the pulumi: namespace is reserved for the tags "
                                         f"the CLI sets itself")
    return key.strip(), value


def project_description(project_dir: Path) -> str:
    """Pulumi.yaml's `description`, which the CLI sends as the pulumi:description stack tag."""
    try:
        document = yaml.safe_load(read_text_file(project_dir / "Pulumi.yaml")) or {}
    except (OSError, yaml.YAMLError, UndecodableFileError):
        return ""  # the preview already read this file; a policy run does not fail on it twice
    description = document.get("description") if isinstance(document, dict) else None
    return str(description) if description else ""


PROJECT_PACKS_DIR = "policies"
# The nice value of packs streamed beside a running program. The program is the critical path: at equal
# priority, its thread waited 0.8-1.0 s of a 1,000-resource run for a CPU the packs held (schedstat); at
# 10 it waits 0.05 s, the packs take what it leaves, and catch up once it ends (benchmarks/engine.py).
PROGRAM_FIRST_NICENESS = 10


def selected_pack_dirs(args: argparse.Namespace) -> list[Path]:
    base = Path(args.cwd)
    if args.policy_pack:
        return [from_cwd(args, directory).resolve() for directory in args.policy_pack]
    project_packs = sorted(path.parent.resolve() for path in (base / PROJECT_PACKS_DIR).glob("*/PulumiPolicy.yaml"))
    return project_packs or policies.pack_dirs()


def start_policy_packs(args: argparse.Namespace, project: str, stack: str, config: Mapping[str, Any],
                       beside_program: bool = False) -> Optional[PackStream]:
    """Start the packs for `project`/`stack` (`config`: the stack config as the graph keeps it) now, before
    the program runs, so they start while it imports its SDKs; the stream then takes each resource as it
    registers. `beside_program`: the program runs meanwhile (here, or in the program host), and the packs
    (and the Analyze relay) run at lower CPU priority (PROGRAM_FIRST_NICENESS). None with
    --skip-policy-packs. Flag and config-file errors are raised here, before any process starts."""
    if getattr(args, "skip_policy_packs", False):
        if args.policy_pack or args.policy_pack_config:
            raise PolicyPackError("--skip-policy-packs cannot be combined with --policy-pack or --policy-pack-config")
        return None
    if args.policy_pack and args.policy_pack_config and len(args.policy_pack_config) != len(args.policy_pack):
        raise PolicyPackError('the number of "--policy-pack-config" flags must match the number of '
                              '"--policy-pack" flags')
    configs = [load_config_file(from_cwd(args, path)) for path in args.policy_pack_config]
    environment = PackEnvironment.for_graph(ResourceGraph(project, stack, dict(config)),
                                            dict(getattr(args, "stack_tag", []) or []),
                                            project_description(Path(args.cwd)))

    def configs_for(names: Sequence[str]) -> dict[str, list[PolicyPackConfig]]:
        if args.policy_pack:
            return {name: configs[i:i + 1] for i, name in enumerate(names)}
        return {name: configs for name in names}

    packs = PolicyPackSet(selected_pack_dirs(args), environment, timeout=args.policy_timeout,
                          niceness=PROGRAM_FIRST_NICENESS if beside_program else 0)
    return PackStream(packs, configs_for).start()


def finish_policy_packs(stream: PackStream, graph: ResourceGraph, args: argparse.Namespace) -> PolicyRun:
    """The last answers and AnalyzeStack, once the program has finished; the packs are closed after. What
    reaches the report is masked: a pack sees plain values, so what it says may quote a secret."""
    try:
        try:
            run = stream.finish(graph)
            _warn_unknown_policies(stream.packs, stream.configs_for([pack.name for pack in stream.packs.packs]))
        finally:
            stream.packs.close()
        return mask_policy_run(run, graph)
    except PolicyPackError as error:
        message = str(error)
        traceback = getattr(error, "pack_traceback", None)
        if getattr(args, "debug", False) and traceback:  # the pack's own traceback, not ours
            message += "\n  the pack's traceback:\n    " + "\n    ".join(traceback)
        # Not chained: --debug prints the cause, whose gRPC details hold the unmasked text.
        raise PolicyPackError(mask_text(message, secret_strings(graph))) from None


def run_policy_packs(graph: ResourceGraph, args: argparse.Namespace) -> Optional[PolicyRun]:
    """Run the packs over a finished graph (no streaming)."""
    stream = start_policy_packs(args, graph.project, graph.stack, graph.config)
    return finish_policy_packs(stream, graph, args) if stream is not None else None


def _warn_unknown_policies(packs: PolicyPackSet, per_pack: Mapping[str, Sequence[PolicyPackConfig]]) -> None:
    """A misspelt policy name would silently keep the policy's defaults: say so (the CLI does not)."""
    known = {policy.name for pack in packs.packs for policy in pack.policies} | {ALL_POLICIES}
    named = {name for configs in per_pack.values() for config in configs for name in config}
    for name in sorted(named - known):
        print(f"warning: --policy-pack-config names policy '{name}', which no policy pack that ran defines",
              file=sys.stderr)
