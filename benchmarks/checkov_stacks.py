"""checkov over every example stack: passed/failed/suppressed counts, and the time `--checkov` adds.

Usage: .venv/bin/python benchmarks/checkov_stacks.py [--runs N] [--details]

For each stacks/Pulumi.<stack>.yaml it runs `aifinops preview` as a user would, with and without
`--checkov` (N runs each, median wall time), and prints checkov's counts from the JSON report. With
--details it lists every failed and suppressed check, and the resource types that were not scanned.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
AIFINOPS = [sys.executable, "-m", "aifinops"]


def stacks() -> list[str]:
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in (REPO_ROOT / "stacks").glob("Pulumi.*.yaml"))


def preview_seconds(stack: str, extra: list[str], runs: int) -> tuple[float, int]:
    times, code = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        completed = subprocess.run([*AIFINOPS, "preview", "--stack", stack, *extra], cwd=REPO_ROOT,
                                   capture_output=True, text=True)
        times.append(time.perf_counter() - started)
        code = completed.returncode
    return statistics.median(times), code


def checkov_report(stack: str) -> dict:
    with tempfile.TemporaryDirectory() as directory:
        sarif = Path(directory) / "report.sarif"
        completed = subprocess.run([*AIFINOPS, "preview", "--stack", stack, "--checkov", "--skip-policy-packs",
                                    "--sarif", str(sarif)], cwd=REPO_ROOT, capture_output=True, text=True)
        if not sarif.exists():
            raise SystemExit(f"{stack}: preview failed ({completed.returncode}):\n{completed.stderr}")
        document = json.loads(sarif.read_text())
        return {"text": completed.stdout, "sarif": document, "exit": completed.returncode}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--details", action="store_true")
    args = parser.parse_args()
    print(f"{'stack':<16}{'scanned':>8}{'passed':>8}{'failed':>8}{'suppr.':>8}{'not sc.':>8}"
          f"{'preview s':>11}{'+checkov s':>12}{'added s':>9}")
    for stack in stacks():
        result = checkov_report(stack)
        summary = next(line for line in result["text"].splitlines() if line.startswith("checkov"))
        numbers = [int(word) for word in summary.replace(",", " ").split() if word.isdigit()]
        passed, failed, suppressed, scanned = numbers[:4]
        run = next(r for r in result["sarif"]["runs"] if r["tool"]["driver"]["name"] == "checkov")
        not_scanned = sum(1 for r in run["results"] if r["ruleId"] == "not-scanned")
        plain, _ = preview_seconds(stack, [], args.runs)
        with_checkov, _ = preview_seconds(stack, ["--checkov"], args.runs)
        print(f"{stack:<16}{scanned:>8}{passed:>8}{failed:>8}{suppressed:>8}{not_scanned:>8}"
              f"{plain:>11.2f}{with_checkov:>12.2f}{with_checkov - plain:>9.2f}")
        if args.details:
            for r in run["results"]:
                status = "suppressed" if r.get("suppressions") else r.get("properties", {}).get("label", "")
                print(f"    {status:<11} {r['ruleId']:<14} {r['message']['text']}")


if __name__ == "__main__":
    main()
