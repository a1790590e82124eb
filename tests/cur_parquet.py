"""Writes realistic CUR 2.0 Parquet as AWS Data Exports does: the real column names and types, the
`resource_tags` map, one `BILLING_PERIOD=YYYY-MM` folder per month.

`sample_lines()` is a small AI platform over several months: GPU training runs (on-demand and spot,
p5 and g5), SageMaker serving, S3, a Savings Plan (covered usage, negation, recurring fee), tax, a
credit, and untagged spend. Tag keys are written in the three spellings seen in the wild. Tests work out
expected totals from these rows in plain Python. `hourly_table()` is the bulk version the benchmark uses.
"""
from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Iterable, Optional

import pyarrow as pa
import pyarrow.parquet as pq

from aifinops.core.cur_views import COLUMNS

ARROW_TYPES = {"timestamp": pa.timestamp("ms"), "string": pa.string(), "double": pa.float64(),
               "map<string,string>": pa.map_(pa.string(), pa.string())}
SCHEMA = pa.schema([(name, ARROW_TYPES[kind]) for name, kind in COLUMNS])
PAYER = "111122223333"
SAVINGS_PLAN_ARN = "arn:aws:savingsplans::111122223333:savingsplan/sp-0a1b2c3d"
# user_Project is Data Exports' own spelling; the other two come from copies made by other tools.
SPELLINGS = ("user_{key}", "user_{lower}", "user:{key}")


def month_start(period: str) -> datetime:
    return datetime.strptime(period + "-01", "%Y-%m-%d")


def next_month(day: datetime) -> datetime:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def tags(spelling: int, **values: str) -> dict[str, str]:
    pattern = SPELLINGS[spelling % len(SPELLINGS)]
    return {pattern.format(key=k, lower=k.lower()): v for k, v in values.items()}


def line(period: str, start: datetime, hours: float, *, line_type: str = "Usage", product: str = "AmazonEC2",
         usage_type: str = "", resource: str = "", amount: float = 0.0, cost: float = 0.0,
         instance_type: Optional[str] = None, term: Optional[str] = "OnDemand", unit: str = "Hrs",
         resource_tags: Optional[dict[str, str]] = None, **extra: Any) -> dict[str, Any]:
    bill_start = month_start(period)
    row = {name: None for name, _ in COLUMNS}
    row.update({
        "bill_billing_period_start_date": bill_start, "bill_billing_period_end_date": next_month(bill_start),
        "bill_payer_account_id": PAYER, "line_item_usage_account_id": PAYER, "line_item_line_item_type": line_type,
        "line_item_usage_start_date": start, "line_item_usage_end_date": start + timedelta(hours=hours),
        "line_item_product_code": product, "line_item_usage_type": usage_type, "line_item_operation": "RunInstances",
        "line_item_resource_id": resource, "line_item_usage_amount": amount, "line_item_unblended_cost": cost,
        "line_item_currency_code": "USD", "line_item_line_item_description": f"{line_type} {usage_type}",
        "product_instance_type": instance_type, "product_region_code": "us-east-1", "pricing_term": term,
        "pricing_unit": unit, "resource_tags": resource_tags or {},
    })
    row.update(extra)
    return row


def sample_lines(periods: Iterable[str] = ("2026-09", "2026-10", "2026-11"), seed: int = 7) -> list[dict[str, Any]]:
    """Daily line items for every day of the given months."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    common = {"CostCenter": "ml-platform", "Environment": "prod"}
    runs = [("run-a", "v1", "p5.48xlarge", 55.04, False), ("run-b", "v1", "p5.48xlarge", 55.04, True),
            ("run-c", "v2", "g5.xlarge", 1.006, True), ("run-d", "v2", "p5.48xlarge", 55.04, False)]
    spelling = 0
    for period in periods:
        day = month_start(period)
        end = next_month(day)
        while day < end:
            for run, model, instance_type, price, spot in runs:
                hours = float(rng.choice((4, 8, 12, 24)))
                rate = price * (0.43 if spot else 1.0)
                spelling += 1
                rows.append(line(
                    period, day, 24, usage_type=f"USE1-{'SpotUsage' if spot else 'BoxUsage'}:{instance_type}",
                    resource=f"i-{run}", amount=hours, cost=round(hours * rate, 6), instance_type=instance_type,
                    term="Spot" if spot else "OnDemand",
                    resource_tags=tags(spelling, Project="LLM-FineTune", ModelVersion=model, TrainingRun=run, **common)))
            for model, invocations_cost in (("v1", 1.21), ("v2", 2.42)):  # SageMaker serving: 24 h of ml.g5.xlarge
                spelling += 1
                rows.append(line(period, day, 24, product="AmazonSageMaker", usage_type="USE1-Host:ml.g5.xlarge",
                                 resource=f"arn:aws:sagemaker:us-east-1:{PAYER}:endpoint/{model}", amount=24.0,
                                 cost=round(24 * invocations_cost, 6), instance_type="ml.g5.xlarge",
                                 resource_tags=tags(spelling, Project="LLM-Serving", ModelVersion=model, **common)))
            rows.append(line(period, day, 24, product="AmazonS3", usage_type="TimedStorage-ByteHrs",
                             resource="datasets", amount=300.0, cost=round(300 * 0.023 / 30, 6), unit="GB-Mo",
                             instance_type=None, resource_tags=tags(0, Project="LLM-FineTune", **common)))
            # Untagged: a forgotten dev box, and one with cost tags but no Project.
            rows.append(line(period, day, 24, usage_type="USE1-BoxUsage:g4dn.xlarge", resource="i-forgotten",
                             amount=24.0, cost=round(24 * 0.526, 6), instance_type="g4dn.xlarge"))
            rows.append(line(period, day, 24, usage_type="USE1-BoxUsage:m5.large", resource="i-noproject",
                             amount=24.0, cost=round(24 * 0.096, 6), instance_type="m5.large",
                             resource_tags=tags(1, **common)))
            # A Savings Plan covers an inference box: covered usage, its negation, the hourly commitment.
            rows.append(line(period, day, 24, line_type="SavingsPlanCoveredUsage", usage_type="USE1-BoxUsage:g6.xlarge",
                             resource="i-covered", amount=24.0, cost=round(24 * 0.8048, 6), instance_type="g6.xlarge",
                             savings_plan_savings_plan_a_r_n=SAVINGS_PLAN_ARN,
                             savings_plan_savings_plan_effective_cost=round(24 * 0.55, 6),
                             resource_tags=tags(2, Project="LLM-Serving", **common)))
            rows.append(line(period, day, 24, line_type="SavingsPlanNegation", usage_type="USE1-BoxUsage:g6.xlarge",
                             resource="i-covered", amount=24.0, cost=-round(24 * 0.8048, 6), instance_type="g6.xlarge",
                             savings_plan_savings_plan_a_r_n=SAVINGS_PLAN_ARN,
                             resource_tags=tags(2, Project="LLM-Serving", **common)))
            rows.append(line(period, day, 24, line_type="SavingsPlanRecurringFee", product="ComputeSavingsPlans",
                             usage_type="ComputeSP:1yrNoUpfront", amount=24.0, cost=24 * 0.6, term=None,
                             savings_plan_savings_plan_a_r_n=SAVINGS_PLAN_ARN,
                             savings_plan_total_commitment_to_date=24 * 0.6,
                             savings_plan_used_commitment=round(24 * 0.55, 6)))
            day += timedelta(days=1)
        first = month_start(period)
        rows.append(line(period, first, 0, line_type="Tax", product="AmazonEC2", usage_type="", amount=0.0,
                         cost=123.45, term=None, unit=""))
        rows.append(line(period, first, 0, line_type="Credit", product="AmazonEC2", usage_type="", amount=0.0,
                         cost=-50.0, term=None, unit=""))
    return rows


def write_export(root: Path, rows: list[dict[str, Any]], rows_per_file: int = 0) -> list[Path]:
    """One folder per billing period, as Data Exports lays them out; returns the files written."""
    by_period: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_period.setdefault(row["bill_billing_period_start_date"].strftime("%Y-%m"), []).append(row)
    files = []
    for period, period_rows in sorted(by_period.items()):
        folder = root / f"BILLING_PERIOD={period}"
        folder.mkdir(parents=True, exist_ok=True)
        size = rows_per_file or len(period_rows)
        for part, offset in enumerate(range(0, len(period_rows), size)):
            chunk = period_rows[offset:offset + size]
            table = pa.Table.from_pylist(
                [{**r, "resource_tags": list(r["resource_tags"].items())} for r in chunk], schema=SCHEMA)
            path = folder / f"cur-export-{part + 1:05d}.snappy.parquet"
            pq.write_table(table, path, compression="snappy")
            files.append(path)
    return files


def hourly_table(period: str, resources: int, seed: int = 1) -> pa.Table:
    """A month of hourly EC2 usage for `resources` tagged instances, built column-wise (for the benchmark)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    start = month_start(period)
    hours = int((next_month(start) - start).total_seconds() // 3600)
    count = hours * resources
    hour_index = np.repeat(np.arange(hours), resources)
    resource_index = np.tile(np.arange(resources), hours)
    starts = np.datetime64(start, "ms") + hour_index.astype("timedelta64[h]")
    types = np.array(["p5.48xlarge", "g5.xlarge", "g6e.xlarge", "p4d.24xlarge"])
    prices = np.array([55.04, 1.006, 1.861, 21.958])
    kind = resource_index % len(types)
    spot = (resource_index % 3) == 0
    cost = prices[kind] * np.where(spot, 0.43, 1.0) * rng.uniform(0.9, 1.0, count)
    models = np.array([f"v{i}" for i in range(8)])
    runs = np.array([f"run-{i:04d}" for i in range(resources // 4 + 1)])
    projects = np.array(["LLM-FineTune", "LLM-Serving", "Research"])
    tag_keys = pa.array(np.tile(np.array(["user_Project", "user_ModelVersion", "user_TrainingRun", "user_CostCenter"]),
                                count))
    tag_values = np.stack([projects[resource_index % 3], models[resource_index % 8], runs[resource_index // 4],
                           np.full(count, "ml-platform")], axis=1).reshape(-1)
    offsets = pa.array(np.arange(0, 4 * count + 1, 4, dtype=np.int32))
    columns: dict[str, pa.Array] = {
        "bill_billing_period_start_date": pa.array(np.full(count, np.datetime64(start, "ms"))),
        "bill_billing_period_end_date": pa.array(np.full(count, np.datetime64(next_month(start), "ms"))),
        "bill_payer_account_id": pa.array(np.full(count, PAYER)),
        "line_item_usage_account_id": pa.array(np.full(count, PAYER)),
        "line_item_line_item_type": pa.array(np.full(count, "Usage")),
        "line_item_usage_start_date": pa.array(starts),
        "line_item_usage_end_date": pa.array(starts + np.timedelta64(1, "h")),
        "line_item_product_code": pa.array(np.full(count, "AmazonEC2")),
        "line_item_usage_type": pa.array(np.char.add(np.where(spot, "USE1-SpotUsage:", "USE1-BoxUsage:"), types[kind])),
        "line_item_operation": pa.array(np.full(count, "RunInstances")),
        "line_item_resource_id": pa.array(np.char.add("i-", resource_index.astype(str))),
        "line_item_usage_amount": pa.array(np.ones(count)),
        "line_item_unblended_cost": pa.array(cost),
        "line_item_currency_code": pa.array(np.full(count, "USD")),
        "line_item_line_item_description": pa.array(np.full(count, "hourly usage")),
        "product_instance_type": pa.array(types[kind]),
        "product_region_code": pa.array(np.full(count, "us-east-1")),
        "pricing_term": pa.array(np.where(spot, "Spot", "OnDemand")),
        "pricing_unit": pa.array(np.full(count, "Hrs")),
        "resource_tags": pa.MapArray.from_arrays(offsets, _flat(tag_keys), _flat(pa.array(tag_values))),
    }
    for name, kind_name in COLUMNS:
        if name not in columns:
            columns[name] = pa.nulls(count, ARROW_TYPES[kind_name])
    return pa.Table.from_pydict({name: columns[name] for name, _ in COLUMNS}, schema=SCHEMA)


def _flat(values: "pa.Array | pa.ChunkedArray") -> pa.Array:
    """pyarrow builds large string arrays in chunks; a map needs one array."""
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def tag_of(row: dict[str, Any], key: str) -> str:
    """The tests' own reading of a tag: the first spelling present (independent of the SQL)."""
    found = row["resource_tags"]
    for candidate in (f"user_{key}", f"user_{key.lower()}", f"user:{key}"):
        if candidate in found:
            return found[candidate]
    return ""


def day_of(row: dict[str, Any]) -> date:
    return row["line_item_usage_start_date"].date()


if __name__ == "__main__":  # python -m tests.cur_parquet DIR: a sample export to try `aifinops report --cur` on
    import sys

    written = write_export(Path(sys.argv[1] if len(sys.argv) > 1 else "out/cur"), sample_lines())
    print(f"wrote {len(written)} Parquet files under {written[0].parent.parent}")
