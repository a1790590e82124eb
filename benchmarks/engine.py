"""Offline preview speed: `aifinops preview` against a plain `set_mocks` + runpy baseline, side by side.

Builds a synthetic project of N AWS resources (a bucket, its versioning, its lifecycle and a GPU
instance per group of four, plus the stack-wide cost-tag transform), then runs, each in a fresh process,
alternating them --repeat times (the figures are medians, so load from other processes hits all alike):
  - baseline: the stock SDK mocks (`pulumi.runtime.set_mocks`) running the same program with runpy;
  - engine: `aifinops preview --skip-policy-packs` (engine, recording, cost section, tree output);
  - whole: `aifinops preview` with both default packs, streamed while the program runs, through the
    Analyze relay once registrations queue up (the synthetic resources violate policies, so it exits 1:
    a normal outcome here);
  - no-op: the same preview with two packs whose policies (one per resource, one over the stack) do
    nothing: what the Analyzer protocol costs by itself (the SDK's pack processes, gRPC, the relay).
Prints wall time, time ratios against the baseline, peak RSS (the aifinops process; each pack is a
process of its own), and the packs' throughput measured apart: resources per second through both packs
over a finished graph (Analyze per resource, then AnalyzeStack), with the per-call CPU cost on both sides
of the gRPC connection. "whl CPU" is the whole preview's CPU seconds (its packs and relay included);
"floor" is that CPU spread over every core, as a ratio to the baseline's wall time: no scheduling can
bring the whole preview's ratio below it without doing less work. "no-op" is the no-op packs' preview,
with its ratio to the baseline: no saving inside the policies can bring the whole preview below it.
Then the default example stack end to end (median of 5): `aifinops preview --stack training-dev`, with
and without `--checkov`, and checkov's own scan of the same plan.

Usage: .venv/bin/python benchmarks/engine.py [N ...] [--repeat 3] [--example-runs 5]   (default N: 100 1000 10000)
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

PROGRAM = """
import pulumi, pulumi_aws as aws
from aifinops.components.tagging import register_cost_tags

register_cost_tags(pulumi.Config().require_object("costTags"))
for i in range({groups}):
    bucket = aws.s3.Bucket(f"data-{{i}}")
    aws.s3.BucketVersioning(f"data-{{i}}-versioning", bucket=bucket.id,
                            versioning_configuration={{"status": "Enabled"}})
    aws.s3.BucketLifecycleConfiguration(f"data-{{i}}-lifecycle", bucket=bucket.id, rules=[{{
        "id": "tiering", "status": "Enabled", "filter": {{}},
        "transitions": [{{"days": 30, "storage_class": "STANDARD_IA"}}, {{"days": 90, "storage_class": "GLACIER_IR"}}]}}])
    aws.ec2.Instance(f"gpu-{{i}}", instance_type="g5.xlarge", ami="ami-0123456789abcdef0",
                     metadata_options={{"http_tokens": "required"}})
"""

BASELINE = """
import resource, runpy, sys, time
import pulumi
from pulumi.runtime import settings
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

class Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args):
        return args.name + "-id", dict(args.inputs)
    def call(self, args):
        return {{}}

started = time.perf_counter()
pulumi.runtime.set_all_config({{"bench:costTags": '{{"CostCenter": "a", "Project": "b", "Environment": "c"}}'}})
pulumi.runtime.set_mocks(Mocks(), project="bench", stack="dev", preview=True)
settings.ROOT.set(None)
_sync_await(run_in_stack(lambda: runpy.run_path({program_dir!r}, run_name="__main__")))
print(time.perf_counter() - started)
"""

# Run in a fresh process by --throughput: the packs over a finished graph, and the CPU each call costs.
THROUGHPUT = """
import json, os, resource, sys, time
from aifinops import policies
from aifinops.analyzer_requests import analyze_requests
from aifinops.engine import run_program
from aifinops.policy_runner import PackEnvironment, PolicyPackSet
from aifinops.project import load_project

def process_cpu(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

def own_cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime

project = load_project(sys.argv[1])
graph = run_program(project, project.load_stack("dev"))
with PolicyPackSet(policies.pack_dirs(), PackEnvironment.for_graph(graph)) as packs:
    packs.check(graph)  # warm-up: the policy modules' first use
    pids = [p._process.pid for p in packs.processes]
    before = [process_cpu(pid) for pid in pids]
    run = packs.check(graph)
    after = [process_cpu(pid) for pid in pids]
    requests = analyze_requests(graph)
    calls = []
    for process, pid in zip(packs.processes, pids):
        server, client, started = process_cpu(pid), own_cpu(), time.perf_counter()
        process.analyze(requests)
        calls.append({"pack": process.info.name, "wall": time.perf_counter() - started,
                      "client": own_cpu() - client, "server": process_cpu(pid) - server})
print(json.dumps({"analyzed": run.resources_analyzed, "seconds": run.duration_seconds,
                  "packCpu": sum(after) - sum(before), "calls": calls, "n": len(requests)}))
"""


# A pack whose policies do nothing: the cost of serving the Analyzer protocol with the policy SDK alone.
NO_OP_PACK = """
from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy, StackValidationPolicy
PolicyPack(name="{name}", enforcement_level=EnforcementLevel.ADVISORY, policies=[
    ResourceValidationPolicy(name="{name}-resource", description="does nothing", validate=lambda args, report: None),
    StackValidationPolicy(name="{name}-stack", description="does nothing", validate=lambda args, report: None)])
"""


def make_no_op_packs(root: Path) -> list[Path]:
    packs = []
    for name in ("no-op-a", "no-op-b"):
        pack = root / name
        pack.mkdir()
        (pack / "PulumiPolicy.yaml").write_text(f"description: {name}, whose policies do nothing\nruntime: python\n")
        (pack / "__main__.py").write_text(NO_OP_PACK.format(name=name))
        packs.append(pack)
    return packs


def make_project(root: Path, resources: int) -> None:
    (root / "stacks").mkdir(parents=True)
    (root / "Pulumi.yaml").write_text("name: bench\nruntime: python\nmain: stacks/\nstackConfigDir: stacks\n")
    (root / "stacks" / "__main__.py").write_text(textwrap.dedent(PROGRAM.format(groups=resources // 4)))
    (root / "stacks" / "Pulumi.dev.yaml").write_text(json.dumps({"config": {
        "aws:region": "us-east-1",
        "bench:costTags": {"CostCenter": "a", "Project": "b", "Environment": "c"}}}))


def measure(command: list[str], cwd: Path, ok_codes: tuple[int, ...] = (0,)) -> tuple[float, float, float]:
    """Wall seconds, peak RSS (MiB) and CPU seconds of a fresh child process. The CPU includes the
    processes it started and waited for (the packs, the relay), as wait4 reports them to /usr/bin/time."""
    started = time.perf_counter()
    result = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", *command], cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode not in ok_codes:
        raise SystemExit(f"{command[:3]} failed:\n{result.stderr[-2000:]}")
    peak_kib, user, system = result.stderr.strip().splitlines()[-1].split()
    return elapsed, int(peak_kib) / 1024, float(user) + float(system)


def load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def side_by_side(size: int, repeat: int) -> None:
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_project(root, size)
        baseline_script = root / "baseline.py"
        baseline_script.write_text(BASELINE.format(program_dir=str(root / "stacks")))
        preview = [python, "-m", "aifinops", "preview", "--cwd", str(root)]
        no_op = [*preview, *[arg for pack in make_no_op_packs(root) for arg in ("--policy-pack", str(pack))]]
        runs: dict[str, list[tuple[float, float, float]]] = {"baseline": [], "engine": [], "whole": [], "no-op": []}
        for _ in range(repeat):  # alternating, so that load from elsewhere falls on all four alike
            runs["baseline"].append(measure([python, str(baseline_script)], root / "stacks"))
            runs["engine"].append(measure([*preview, "--skip-policy-packs"], root))
            runs["whole"].append(measure(preview, root, ok_codes=(0, 1)))
            runs["no-op"].append(measure(no_op, root))
        figures = {name: (statistics.median(w for w, _, _ in values), max(m for _, m, _ in values))
                   for name, values in runs.items()}
        whole_cpu = statistics.median(c for _, _, c in runs["whole"])
        completed = subprocess.run([python, "-c", THROUGHPUT, str(root)], capture_output=True, text=True)
        if completed.returncode != 0:
            raise SystemExit(f"throughput run failed:\n{completed.stderr[-2000:]}")
        packs = json.loads(completed.stdout)
    base_s, base_mib = figures["baseline"]
    engine_s, engine_mib = figures["engine"]
    whole_s, whole_mib = figures["whole"]
    no_op_s = figures["no-op"][0]
    cores = os.cpu_count() or 1
    per_call = " ".join(f"{c['pack']}: {c['client'] * 1e3 / packs['n']:.2f}/{c['server'] * 1e3 / packs['n']:.2f}"
                        for c in packs["calls"])
    print(f"{size:>9} {base_s:>9.2f} {engine_s:>9.2f} {engine_s / base_s:>6.2f} {whole_s:>8.2f} "
          f"{whole_s / base_s:>6.2f} {base_mib:>8.0f} {engine_mib:>8.0f} {whole_mib:>8.0f} {whole_mib / base_mib:>6.2f} "
          f"{packs['analyzed'] / packs['seconds']:>8,.0f} {whole_cpu:>8.2f} {whole_cpu / cores / base_s:>6.2f} "
          f"{no_op_s:>8.2f} {no_op_s / base_s:>6.2f}   "
          f"{per_call}   [load {load()}]", flush=True)


def example_stack(runs: int) -> None:
    """The default example stack as a user runs it, with the packs and the estimate; then with --checkov,
    which should add only checkov's own scan (the program runs once)."""
    command = [sys.executable, "-m", "aifinops", "preview", "--stack", "training-dev"]
    results: dict[str, list[float]] = {"preview": [], "preview --checkov": []}
    for _ in range(runs):
        for name, extra in (("preview", []), ("preview --checkov", ["--checkov"])):
            started = time.perf_counter()
            completed = subprocess.run([*command, *extra], cwd=REPO, capture_output=True, text=True)
            results[name].append(time.perf_counter() - started)
            if completed.returncode not in (0, 1):
                raise SystemExit(f"{name} failed:\n{completed.stderr[-2000:]}")
    scan = checkov_scan_seconds(runs)
    for name, times in results.items():
        print(f"`aifinops {name} --stack training-dev`: median {statistics.median(times):.2f}s, "
              f"min {min(times):.2f}s over {runs} runs")
    if scan is not None:
        extra = statistics.median(results["preview --checkov"]) - statistics.median(results["preview"])
        print(f"  --checkov adds {extra:.2f}s; checkov alone on the same plan: median {scan:.2f}s   [load {load()}]")


def checkov_scan_seconds(runs: int) -> float | None:
    """Checkov's own run (export, CLI, parse) on the example stack's graph, as `--checkov` runs it."""
    sys.path.insert(0, str(REPO))
    from aifinops.checkov.run import scan_graph  # noqa: E402
    from aifinops.engine import run_program  # noqa: E402
    from aifinops.project import load_project  # noqa: E402

    project = load_project(REPO)
    graph = run_program(project, project.load_stack("training-dev"))
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        scan_graph(graph)
        times.append(time.perf_counter() - started)
    return statistics.median(times) if times else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[100, 1000, 10000])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, alternating (medians are shown)")
    parser.add_argument("--example-runs", type=int, default=5, help="runs of the example stack (0: skip)")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, load {load()}; wall seconds are medians of {args.repeat} alternating runs")
    print(f"{'resources':>9} {'baseline':>9} {'engine':>9} {'ratio':>6} {'whole':>8} {'ratio':>6} "
          f"{'base MiB':>8} {'eng MiB':>8} {'whl MiB':>8} {'ratio':>6} {'res/s':>8} {'whl CPU':>8} {'floor':>6} "
          f"{'no-op':>8} {'ratio':>6}   "
          f"per-call CPU ms, client/server")
    for size in args.sizes:
        side_by_side(size, args.repeat)
    if args.example_runs:
        example_stack(args.example_runs)


if __name__ == "__main__":
    main()
