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
    return metric_values(cloudwatch, metric.namespace, metric.name, metric.instance_dimension, instance_ids,
                         "Maximum", start, end, period_seconds)


def metric_values(cloudwatch: Any, namespace: str, metric_name: str, dimension: str, values: Sequence[str],
                  stat: str, start: datetime, end: datetime, period_seconds: int) -> dict[str, list[float]]:
    """dimension value -> `stat` of each period that has data, oldest first, for the series whose only
    dimension is `dimension` (the agent's aggregated series); no data: an empty list."""
    found: dict[str, list[tuple[datetime, float]]] = {v: [] for v in values}
    for offset in range(0, len(values), MAX_QUERIES_PER_CALL):
        batch = list(values[offset:offset + MAX_QUERIES_PER_CALL])
        queries = [{
            "Id": f"m{index}",
            "MetricStat": {"Metric": {"Namespace": namespace, "MetricName": metric_name,
                                      "Dimensions": [{"Name": dimension, "Value": value}]},
                           "Period": period_seconds, "Stat": stat},
            "ReturnData": True,
        } for index, value in enumerate(batch)]
        pages = cloudwatch.get_paginator("get_metric_data").paginate(
            MetricDataQueries=queries, StartTime=start, EndTime=end)
        for page in pages:
            for result in page.get("MetricDataResults", []):
                found[batch[int(result["Id"][1:])]].extend(
                    zip(result.get("Timestamps", []), (float(v) for v in result.get("Values", []))))
    return {value: [v for _, v in sorted(points, key=lambda p: p[0])] for value, points in found.items()}
