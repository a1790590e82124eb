"""Policy-pack figures: throughput over the Analyzer gRPC path and the end-to-end check of the default stack.

    .venv/bin/python benchmarks/policies.py [--resources 1000] [--repeat 3]

Prints, for a generated stack of N AWS resources (buckets with their encryption and public access
blocks, GPU instances): pack start-up, the first check (policy modules warming up in the packs) and warm
checks, as resources per second through every pack in policies/ (Analyze per resource plus AnalyzeStack).
Then the wall time of `aifinops preview --stack training-dev` as a user runs it (a new process: program,
packs, report), median of --repeat runs.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from aifinops import policies  # noqa: E402
from aifinops.analyzer_requests import analyze_requests  # noqa: E402
from aifinops.engine import run_program  # noqa: E402
from aifinops.policy_runner import PackEnvironment, PolicyPackSet  # noqa: E402
from aifinops.project import load_project  # noqa: E402

# Four AWS resources per group; tagged through provider defaultTags so the cost policies do real work.
PROGRAM = """
import pulumi_aws as aws
for i in range({groups}):
    bucket = aws.s3.Bucket(f"data-{{i}}")
    aws.s3.BucketServerSideEncryptionConfiguration(f"data-{{i}}-sse", bucket=bucket.id, rules=[
        {{"apply_server_side_encryption_by_default": {{"sse_algorithm": "aws:kms"}}}}])
    aws.s3.BucketPublicAccessBlock(f"data-{{i}}-pab", bucket=bucket.id, block_public_acls=True,
        block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True)
    aws.ec2.Instance(f"gpu-{{i}}", instance_type="g5.xlarge" if i % 10 else "p3.2xlarge", ami="ami-1",
        metadata_options={{"http_tokens": "required"}}, root_block_device={{"encrypted": True}})
"""
STACK_CONFIG = """config:
  aws:region: us-east-1
  aws:defaultTags:
    tags: {CostCenter: ml, Project: bench, Environment: dev}
"""


def generated_graph(resources: int):
    root = Path(tempfile.mkdtemp(prefix="aifinops-bench-"))
    (root / "stacks").mkdir()
    (root / "Pulumi.yaml").write_text("name: bench\nruntime: python\nmain: stacks/\nstackConfigDir: stacks\n")
    (root / "stacks" / "__main__.py").write_text(PROGRAM.format(groups=max(1, resources // 4)))
    (root / "stacks" / "Pulumi.dev.yaml").write_text(STACK_CONFIG)
    project = load_project(root)
    started = time.perf_counter()
    graph = run_program(project, project.load_stack("dev"))
    return graph, time.perf_counter() - started


def throughput(resources: int, repeat: int) -> None:
    graph, program_seconds = generated_graph(resources)
    cloud = len(graph.custom_resources())
    print(f"generated stack: {len(graph)} registrations ({cloud} AWS resources), program ran in {program_seconds:.2f}s")
    started = time.perf_counter()
    with PolicyPackSet(policies.pack_dirs(), PackEnvironment.for_graph(graph)) as packs:
        print(f"packs started: {', '.join(p.name + ' (' + str(len(p.policies)) + ' policies)' for p in packs.packs)} "
              f"in {time.perf_counter() - started:.2f}s")
        runs = [packs.check(graph) for _ in range(repeat + 1)]
        requests = analyze_requests(graph)
        alone = []
        for process in packs.processes:  # the per-resource path alone, one pack at a time
            started = time.perf_counter()
            process.analyze(requests)
            alone.append((process.info, time.perf_counter() - started))
    first, warm = runs[0], runs[1:]
    print(f"first check: {first.duration_seconds:.2f}s = {first.resources_analyzed / first.duration_seconds:,.0f} "
          f"resources/s ({len(first.violations)} violations)")
    best = min(r.duration_seconds for r in warm)
    median = statistics.median(r.duration_seconds for r in warm)
    print(f"warm checks ({len(warm)}): median {median:.2f}s, best {best:.2f}s = "
          f"{first.resources_analyzed / median:,.0f} resources/s (median) over gRPC, "
          f"{len(packs.packs)} packs in parallel, Analyze x{first.resources_analyzed} + AnalyzeStack per pack")
    for pack, seconds in alone:
        print(f"  {pack.name}: Analyze alone {len(requests) / seconds:,.0f} calls/s "
              f"({seconds * 1000 / len(requests):.2f} ms per resource, {len(pack.policies)} policies)")


def end_to_end(repeat: int) -> None:
    command = [str(REPO / ".venv" / "bin" / "aifinops"), "preview", "--stack", "training-dev"]
    times, code = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        completed = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
        times.append(time.perf_counter() - started)
        code = completed.returncode
    print(f"end to end `aifinops preview --stack training-dev` (program + every pack + report): "
          f"median {statistics.median(times):.2f}s, min {min(times):.2f}s over {repeat} runs (exit code {code})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    throughput(args.resources, args.repeat)
    end_to_end(args.repeat)


if __name__ == "__main__":
    main()
