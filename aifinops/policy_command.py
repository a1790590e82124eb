"""`aifinops policy new DIR`: write a policy pack that builds on the installed aifinops policies.

The pack is three small files, as awsguard's users write theirs: PulumiPolicy.yaml, a requirements.txt
pinning this aifinops version, and a __main__.py that serves one of `aifinops.policies.packs.PACKS`.
It runs unchanged under `pulumi preview --policy-pack DIR` (with aifinops installed in the Python on
PATH, or in a virtualenv you name in PulumiPolicy.yaml) and under `aifinops preview --policy-pack DIR`.
"""
from __future__ import annotations

import argparse
import re
from importlib import metadata
from pathlib import Path
from typing import Any

from .core.errors import AifinopsError

PACK_KINDS = ("cost", "security")  # aifinops.policies.packs.PACKS, without importing pulumi_policy here
PACK_FILES = ("PulumiPolicy.yaml", "requirements.txt", "__main__.py")
_PACK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class PolicyNewError(AifinopsError):
    """DIR or --name cannot be used for a new pack (exit 2)."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("policy", help="write a policy pack that uses the aifinops policies")
    commands = parser.add_subparsers(dest="policy_command", required=True, metavar="COMMAND")
    new = commands.add_parser("new", help="write PulumiPolicy.yaml, requirements.txt and __main__.py into DIR")
    new.add_argument("directory", type=Path, metavar="DIR", help="the pack directory (created if missing)")
    new.add_argument("--pack", choices=PACK_KINDS, default="cost", help="which aifinops pack to serve (default cost)")
    new.add_argument("--name", default=None, help="the pack's name (default aifinops-<pack>)")
    new.set_defaults(handler=run_new)


def pack_files(kind: str, name: str, version: str) -> dict[str, str]:
    return {
        "PulumiPolicy.yaml": (
            f'description: "{name}: the aifinops {kind} policies"\n'
            "runtime:\n"
            "  name: python\n"
            "  # Without a virtualenv the Pulumi CLI runs the pack with the `python3` on PATH, which must have\n"
            "  # aifinops installed. To give the pack its own, add:\n"
            "  #   options:\n"
            "  #     toolchain: pip\n"
            "  #     virtualenv: venv\n"),
        "requirements.txt": f"aifinops=={version}\n",
        "__main__.py": (
            f'"""The {name} policy pack: the aifinops {kind} policies (see `aifinops.policies.packs.serve`)."""\n'
            "from aifinops.policies.packs import serve\n\n"
            "# initial_config sets your defaults, e.g.\n"
            '# {"approved-gpu-instance-types": {"approvedInstanceTypes": ["g5.xlarge", "g6e.xlarge"]}};\n'
            "# --policy-pack-config still wins over it.\n"
            f"serve({kind!r}, name={name!r}, initial_config={{}})\n"),
    }


def run_new(args: argparse.Namespace) -> int:
    kind = args.pack
    name = args.name or f"aifinops-{kind}"
    if not _PACK_NAME.match(name):
        raise PolicyNewError(f"--name: expected letters, digits, '.', '_' or '-' (at most 100), got {name!r}")
    directory: Path = args.directory
    if directory.exists() and not directory.is_dir():
        raise PolicyNewError(f"DIR: {directory} exists and is not a directory")
    existing = [f for f in PACK_FILES if (directory / f).exists()]
    if existing:
        raise PolicyNewError(f"DIR: {directory} already has {', '.join(existing)}; choose an empty directory")
    directory.mkdir(parents=True, exist_ok=True)
    for filename, text in pack_files(kind, name, metadata.version("aifinops")).items():
        (directory / filename).write_text(text)
    print(f"wrote the {name} policy pack to {directory}: "
          f"aifinops preview --policy-pack {directory}   or   pulumi preview --policy-pack {directory}")
    return 0
