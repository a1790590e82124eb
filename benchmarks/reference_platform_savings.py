"""Prints the savings the cost estimate shows for the reference AI platform: pack defaults against the
naive equivalent (all on-demand, S3 Standard, no lifecycle).

The platform (benchmarks/reference_platform): 8 x p4d.24xlarge training 200 h/month, 4 x g5.xlarge
inference around the clock, 50 TB of data of mixed age, with usage in benchmarks/reference_platform/usage.yaml.

    .venv/bin/python benchmarks/reference_platform_savings.py
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aifinops.cost_estimate import estimate_graph  # noqa: E402
from aifinops.engine import run_program  # noqa: E402
from aifinops.project import load_project  # noqa: E402

PLATFORM = ROOT / "benchmarks" / "reference_platform"


def main() -> None:
    started = time.perf_counter()
    project = load_project(PLATFORM)
    graph = run_program(project, project.load_stack("reference"))
    estimate = estimate_graph(graph, PLATFORM / "usage.yaml")
    elapsed = time.perf_counter() - started
    print(f"{'component':<12}{'naive $/month':>16}{'pack $/month':>16}{'saved':>14}")
    for component in sorted(estimate.by_component(), key=lambda c: -c.naive_monthly_usd):
        saved = component.naive_monthly_usd - component.monthly_usd
        print(f"{component.name:<12}{component.naive_monthly_usd:>16,.2f}{component.monthly_usd:>16,.2f}{saved:>14,.2f}")
    print(f"{'total':<12}{estimate.naive_monthly_usd:>16,.2f}{estimate.monthly_usd:>16,.2f}{estimate.savings_usd:>14,.2f}")
    print(f"savings: ${estimate.savings_usd:,.2f} a month ({estimate.savings_percent:.1f}%); "
          f"{len(estimate.with_status('needs-usage'))} alert topics need usage (free tier), "
          f"{len(estimate.with_status('unpriced'))} unpriced; preview + estimate {elapsed:.1f} s")


if __name__ == "__main__":
    main()
