"""DuckDB over a month of hourly CUR 2.0: how long the AI cost views take on a laptop-sized copy.

    .venv/bin/python benchmarks/cur_duckdb.py [--resources 1000] [--period 2026-10] [--repeat 3]

Writes one billing period of hourly EC2 lines for N tagged GPU instances (N x the month's hours: 744,000
lines for 1,000 instances in a 31-day month) as Data Exports lays it out, then times, median of --repeat:
opening the folder (schema check and view), each dashboard view, and all of them together. Also prints
the Parquet size, which is what Athena would scan for the same month without partition pruning of the
other months (Parquet is columnar: a view reads only the columns it names, so Athena scans less).
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import pyarrow.parquet as pq  # noqa: E402

from aifinops.core import cur_views  # noqa: E402
from aifinops.cur_duckdb import open_local_cur  # noqa: E402
from tests.cur_parquet import hourly_table, month_start, next_month  # noqa: E402

VIEWS = (*cur_views.DASHBOARD_VIEWS, "cost_by_tag")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=1000)
    parser.add_argument("--period", default="2026-10")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    start = month_start(args.period)
    with tempfile.TemporaryDirectory() as root:
        folder = Path(root) / f"BILLING_PERIOD={args.period}"
        folder.mkdir()
        began = time.perf_counter()
        table = hourly_table(args.period, args.resources)
        pq.write_table(table, folder / "cur-00001.snappy.parquet", compression="snappy", row_group_size=122_880)
        size = sum(p.stat().st_size for p in folder.iterdir())
        print(f"lines: {table.num_rows:,} ({args.resources:,} resources x "
              f"{table.num_rows // args.resources} hours), Parquet {size / 2**20:.1f} MiB, "
              f"written in {time.perf_counter() - began:.1f} s")
        params = cur_views.ViewParameters(
            table=cur_views.TABLE_NAME,
            window=cur_views.Window.days(start.date(), next_month(start).date()),
            tag_filter=("Project", "LLM-FineTune"), gpus_per_instance=cur_views.catalog_gpus_per_instance())
        opened, per_view, together = [], {v: [] for v in VIEWS}, []
        for _ in range(args.repeat):
            began = time.perf_counter()
            local = open_local_cur(Path(root))
            opened.append(time.perf_counter() - began)
            all_began = time.perf_counter()
            for view in VIEWS:
                began = time.perf_counter()
                rows = local.query(cur_views.render(view, params, cur_views.DUCKDB))
                per_view[view].append(time.perf_counter() - began)
                assert rows or view == "inference_cost_by_model", view
            together.append(time.perf_counter() - all_began)
            local.close()
        print(f"open (schema check, view): {statistics.median(opened) * 1000:.0f} ms")
        for view, times in per_view.items():
            print(f"  {view}: {statistics.median(times) * 1000:.0f} ms")
        print(f"all {len(VIEWS)} views: {statistics.median(together):.2f} s (median of {args.repeat}; "
              f"target: well under 2 s)")
        print(f"date: {date.today().isoformat()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
        print_athena_scan(folder / "cur-00001.snappy.parquet", params)


def column_bytes(path: Path) -> dict[str, int]:
    """Compressed bytes per column in the file (what a columnar engine reads for that column)."""
    metadata = pq.ParquetFile(path).metadata
    sizes: dict[str, int] = {}
    for group in range(metadata.num_row_groups):
        for index in range(metadata.num_columns):
            chunk = metadata.row_group(group).column(index)
            name = chunk.path_in_schema.split(".", 1)[0]
            sizes[name] = sizes.get(name, 0) + chunk.total_compressed_size
    return sizes


def print_athena_scan(path: Path, params: cur_views.ViewParameters) -> None:
    """Athena bills the compressed bytes of the columns a query reads in the partitions it reads (10 MB
    minimum per query). Partition projection on billing_period keeps a month's query to that month."""
    sizes = column_bytes(path)
    total = sum(sizes.values())
    print(f"Athena, estimated from this file's column sizes (one month: {total / 2**20:.1f} MiB in all columns):")
    for view in VIEWS:
        sql = cur_views.render(view, params, cur_views.ATHENA)
        read = sum(size for name, size in sizes.items() if re.search(rf"\b{name}\b", sql))
        print(f"  {view}: {read / 2**20:.1f} MiB for the month; over 12 months without pruning "
              f"{12 * read / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
