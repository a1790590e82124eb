"""Idle-GPU reaper and tag audit sweeps against moto: wall time and AWS calls per run.

For N running GPU instances (one in ten idle with metrics, the rest without), runs the reaper once (dry
run) and the tag audit once (EC2 sweep), in moto's in-process mock, and prints per run: wall seconds,
the calls made per operation, and what the reaper's schedule asks of CloudWatch in a month (GetMetricData
is billed per metric requested: $0.01 per 1,000 in us-east-1, aws.amazon.com/cloudwatch/pricing, 2026-11).
Wall time here is mostly moto rendering XML; the call counts are what a real account sees.

Usage: .venv/bin/python benchmarks/automation_sweep.py [N ...]   (default: 100 1500 5000)
"""
from __future__ import annotations

import os
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1",
                  MOTO_EC2_LOAD_DEFAULT_AMIS="false")

from moto import mock_aws  # noqa: E402
from moto.ec2.models import ec2_backends  # noqa: E402

from aifinops.automation.aws_clients import AwsClients  # noqa: E402
from aifinops.automation.idle_gpu_reaper_handler import reap  # noqa: E402
from aifinops.automation.tag_audit import audit  # noqa: E402
from aifinops.core.automation_settings import ReaperSettings  # noqa: E402

REGION, ACCOUNT = "us-east-1", "123456789012"
RUNS_PER_MONTH = 4 * 24 * 30  # every 15 minutes
USD_PER_1000_METRICS = 0.01


def counting(clients: AwsClients, services: tuple[str, ...]) -> Counter:
    calls: Counter = Counter()
    for service in services:
        clients.client(service).meta.events.register(f"after-call.{service}", lambda model, **_: calls.update([model.name]))
    return calls


def sweep(count: int) -> None:
    with mock_aws():
        backend = ec2_backends[ACCOUNT][REGION]
        ids = [i.id for start in range(0, count, 500) for i in backend.run_instances(
            "ami-12c6146b", min(500, count - start), None, [], instance_type="g5.xlarge",
            is_instance_type_default=False).instances]
        clients = AwsClients(region=REGION)
        now = datetime.now(timezone.utc)
        for instance_id in ids[::10]:
            clients.client("cloudwatch").put_metric_data(Namespace="CWAgent", MetricData=[{
                "MetricName": "nvidia_smi_utilization_gpu", "Value": 1.0,
                "Dimensions": [{"Name": "InstanceId", "Value": instance_id}],
                "Timestamp": now - timedelta(minutes=m)} for m in (5, 20, 35, 50)])
        calls = counting(clients, ("ec2", "cloudwatch", "resourcegroupstaggingapi", "sts"))
        started = time.perf_counter()
        report = reap(clients, ReaperSettings(grace_minutes=0, period_seconds=900, min_coverage=0.5), now=now)
        reaper_seconds = time.perf_counter() - started
        reaper_calls = dict(calls)
        calls.clear()
        started = time.perf_counter()
        result = audit(clients, ("CostCenter", "Project", "Environment"), sweeps=("ec2",))
        audit_seconds = time.perf_counter() - started
        metrics_month = count * RUNS_PER_MONTH
        print(f"{count:>6} instances | reaper {reaper_seconds:6.2f} s, {len(report.with_outcome('dry-run'))} idle, "
              f"calls {reaper_calls} | audit {audit_seconds:6.2f} s, {len(result.findings)} findings, calls {dict(calls)}")
        print(f"{'':>6}           | reaper schedule: {metrics_month:,} metrics requested a month = "
              f"${metrics_month / 1000 * USD_PER_1000_METRICS:,.2f}/month of GetMetricData")


if __name__ == "__main__":
    for n in [int(a) for a in sys.argv[1:]] or [100, 1500, 5000]:
        sweep(n)
