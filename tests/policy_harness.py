"""Run the policy packs over a ResourceGraph through the real Analyzer gRPC path, for tests.

Fixtures (in conftest.py): `policy_packs` (session-wide, one process per pack, killed at the end) and
`check_policies` (preview a program, then check it):

    def test_untagged_bucket_fails(check_policies):
        result = check_policies(PROGRAM, config={"aws:region": "us-east-1"},
                                policy_config={"required-cost-tags": {"requiredTags": ["Team"]}})
        assert result.names("required-cost-tags") == {"data"}
        assert "missing required tag 'Team'" in result.messages("required-cost-tags")[0]

`policy_config` is a `--policy-pack-config` document given to every pack (as when `aifinops preview` runs
all packs). Processes are shared per (project, stack): PULUMI_CONFIG is that of the first graph checked
for it; the packs read their settings from the policy config, not from stack config.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from aifinops import policies
from aifinops.core.policy_config import parse_config
from aifinops.graph import ResourceGraph
from aifinops.policy_runner import PackEnvironment, PolicyPackSet, PolicyRun, PolicyViolation


@dataclass
class PolicyCheck:
    graph: ResourceGraph
    run: PolicyRun

    @property
    def violations(self) -> list[PolicyViolation]:
        return self.run.violations

    @property
    def mandatory(self) -> list[PolicyViolation]:
        return self.run.mandatory

    @property
    def advisory(self) -> list[PolicyViolation]:
        return self.run.advisory

    def of(self, policy: str) -> list[PolicyViolation]:
        return [v for v in self.violations if v.policy == policy]

    def urns(self, policy: str) -> set[str]:
        return {v.urn for v in self.of(policy)}

    def names(self, policy: str) -> set[str]:
        """Names of the resources the policy flagged."""
        return {self.graph.resources[v.urn].name for v in self.of(policy) if v.urn in self.graph.resources}

    def messages(self, policy: str) -> list[str]:
        """The violation details (without the policy description), in order."""
        return [v.detail for v in self.of(policy)]


class PolicyHarness:
    """Pack processes started on first use and reused; `close()` kills them all."""

    def __init__(self, pack_dirs: Optional[Sequence[Path]] = None) -> None:
        self.pack_dirs = list(pack_dirs or policies.pack_dirs())
        self._sets: dict[tuple[str, str], PolicyPackSet] = {}

    def check(self, graph: ResourceGraph, policy_config: Optional[Mapping[str, Any]] = None) -> PolicyCheck:
        key = (graph.project, graph.stack)
        if key not in self._sets:
            self._sets[key] = PolicyPackSet(self.pack_dirs, PackEnvironment.for_graph(graph)).__enter__()
        packs = self._sets[key]
        configs = [parse_config(policy_config, "policy_config")] if policy_config else []
        try:
            run = packs.check(graph, {pack.name: configs for pack in packs.packs})
        except BaseException:
            if not packs.is_open:  # a pack failed and the set was closed: start afresh next time
                del self._sets[key]
            raise
        return PolicyCheck(graph, run)

    def close(self) -> None:
        for packs in self._sets.values():
            packs.close()
        self._sets.clear()
