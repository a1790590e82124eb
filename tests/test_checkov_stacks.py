"""The goal of the checkov integration: every example stack (stacks/Pulumi.*.yaml) passes every checkov
check, AWS and Kubernetes, with each suppression justified in its component. One checkov run for all."""
from __future__ import annotations

from aifinops.checkov.run import scan_graphs
from tests.conftest import REPO_ROOT, run_example_stack

STACKS = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in (REPO_ROOT / "stacks").glob("Pulumi.*.yaml"))


def test_every_example_stack_has_no_failed_checkov_check():
    graphs = [run_example_stack(stack)[0] for stack in STACKS]
    for stack, scan in zip(STACKS, scan_graphs(graphs)):
        assert sum(scan.scanned.values()) > 0, stack
        failed = [f"{f.check_id} {f.checkov_resource} ({f.check_name})" for f in scan.failed]
        assert not failed, f"{stack}: " + "; ".join(failed)
        assert all(f.suppression_reason for f in scan.suppressed), stack
