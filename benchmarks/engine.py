"""Offline preview speed: `aifinops preview` against a plain `set_mocks` + runpy baseline.

Builds a synthetic project of N AWS resources (a bucket, its versioning, its lifecycle and a GPU
instance per group of four, plus the stack-wide cost-tag transform), then runs, each in a fresh process:
  - baseline: the stock SDK mocks (`pulumi.runtime.set_mocks`) running the same program with runpy;
  - preview: `aifinops preview --skip-policy-packs` (engine, recording, cost section, tree output);
  - + packs: the whole `aifinops preview`, with both policy packs over gRPC (the synthetic resources
    violate policies, so it exits 1: a normal outcome here).
Prints wall time, resources per second, peak RSS and the time ratios against the baseline.

Usage: .venv/bin/python benchmarks/engine.py [N ...]   (default: 100 1000 10000)
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

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


def make_project(root: Path, resources: int) -> None:
    (root / "stacks").mkdir(parents=True)
    (root / "Pulumi.yaml").write_text("name: bench\nruntime: python\nmain: stacks/\nstackConfigDir: stacks\n")
    (root / "stacks" / "__main__.py").write_text(textwrap.dedent(PROGRAM.format(groups=resources // 4)))
    (root / "stacks" / "Pulumi.dev.yaml").write_text(json.dumps({"config": {
        "aws:region": "us-east-1",
        "bench:costTags": {"CostCenter": "a", "Project": "b", "Environment": "c"}}}))


def measure(command: list[str], cwd: Path, ok_codes: tuple[int, ...] = (0,)) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of a fresh child process."""
    started = time.perf_counter()
    result = subprocess.run(["/usr/bin/time", "-f", "%M", *command], cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode not in ok_codes:
        raise SystemExit(f"{command[:3]} failed:\n{result.stderr[-2000:]}")
    peak_kib = int(result.stderr.strip().splitlines()[-1])
    return elapsed, peak_kib / 1024


def main(sizes: list[int]) -> None:
    python = sys.executable
    print(f"{'resources':>10} {'baseline s':>11} {'preview s':>10} {'ratio':>6} {'res/s':>6} "
          f"{'+packs s':>9} {'ratio':>6} {'baseline MiB':>13} {'preview MiB':>12} {'+packs MiB':>11}")
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            make_project(root, size)
            baseline_script = root / "baseline.py"
            baseline_script.write_text(BASELINE.format(program_dir=str(root / "stacks")))
            base_s, base_mib = measure([python, str(baseline_script)], root / "stacks")
            preview = [python, "-m", "aifinops", "preview", "--cwd", str(root)]
            ours_s, ours_mib = measure([*preview, "--skip-policy-packs"], root)
            packs_s, packs_mib = measure(preview, root, ok_codes=(0, 1))
            print(f"{size:>10} {base_s:>11.2f} {ours_s:>10.2f} {ours_s / base_s:>6.2f} {size / ours_s:>6.0f} "
                  f"{packs_s:>9.2f} {packs_s / base_s:>6.2f} {base_mib:>13.0f} {ours_mib:>12.0f} "
                  f"{packs_mib:>11.0f}", flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100, 1000, 10000])
