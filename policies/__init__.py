"""CrossGuard policy packs: `cost/` (aifinops-cost) and `security/` (aifinops-security).

Each pack directory is a Python policy pack the Pulumi CLI can run (`pulumi preview --policy-pack
policies/cost`) and that `aifinops preview` runs the same way. A pack's `__main__.py` only builds the
PolicyPack from the `POLICIES` list in its `__init__.py`; each policy lives in its own module, and what
several policies need (unknown-safe property reads, config defaults, where instance types and tags are
found) lives in the helper modules of this package.
"""
from pathlib import Path

PACKS_DIR = Path(__file__).resolve().parent


def pack_dirs() -> list[Path]:
    """Every policy pack shipped here: the subdirectories holding a PulumiPolicy.yaml."""
    return sorted(p.parent for p in PACKS_DIR.glob("*/PulumiPolicy.yaml"))
