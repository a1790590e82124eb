"""GPU utilisation per instance from CloudWatch, for many instances in few calls.

The default metric is the CloudWatch agent's `nvidia_smi_utilization_gpu` (namespace CWAgent) with the
agent aggregating on InstanceId (`"aggregation_dimensions": [["InstanceId"]]`), so one series per instance
covers all its GPUs: its Maximum is the busiest GPU. DCGM's `DCGM_FI_DEV_GPU_UTIL`, scraped by the agent
with the same aggregation, works the same way.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

from aifinops.core.automation_settings import GpuMetric

MAX_QUERIES_PER_CALL = 500  # GetMetricData's limit


def peak_utilisation(cloudwatch: Any, metric: GpuMetric, instance_ids: Sequence[str], start: datetime,
                     end: datetime, period_seconds: int) -> dict[str, list[float]]:
    """instance id -> the Maximum utilisation of each period that has data (no data: an empty list)."""
    peaks: dict[str, list[float]] = {i: [] for i in instance_ids}
    for offset in range(0, len(instance_ids), MAX_QUERIES_PER_CALL):
        batch = list(instance_ids[offset:offset + MAX_QUERIES_PER_CALL])
        queries = [{
            "Id": f"gpu{index}",
            "MetricStat": {"Metric": {"Namespace": metric.namespace, "MetricName": metric.name,
                                      "Dimensions": [{"Name": metric.instance_dimension, "Value": instance_id}]},
                           "Period": period_seconds, "Stat": "Maximum"},
            "ReturnData": True,
        } for index, instance_id in enumerate(batch)]
        pages = cloudwatch.get_paginator("get_metric_data").paginate(
            MetricDataQueries=queries, StartTime=start, EndTime=end)
        for page in pages:
            for result in page.get("MetricDataResults", []):
                peaks[batch[int(result["Id"][3:])]].extend(float(v) for v in result.get("Values", []))
    return peaks
