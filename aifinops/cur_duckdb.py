"""CUR 2.0 Parquet on a laptop: DuckDB, embedded, runs the same views Athena runs.

`--cur PATH` is a folder as Data Exports writes it (`BILLING_PERIOD=YYYY-MM/*.parquet`, at any depth:
the export's root, its `data/` folder, or one period) or one Parquet file. What cannot be read is an
error naming the path and what was expected, before any view runs.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from .core.cur_views import COLUMN_NAMES, PARTITION_COLUMN, TABLE_NAME
from .core.errors import AifinopsError

PERIOD_FOLDER = re.compile(r"^BILLING_PERIOD=(\d{4}-(0[1-9]|1[0-2]))$")


class CurDataError(AifinopsError):
    """The local CUR copy is missing, malformed or lacks the columns the views read."""


@dataclass
class LocalCur:
    """A DuckDB connection with the CUR as the view `cost_and_usage_report`."""

    connection: duckdb.DuckDBPyConnection
    files: list[Path]
    periods: list[str]

    def query(self, sql: str) -> list[dict[str, Any]]:
        try:
            cursor = self.connection.execute(sql)
        except duckdb.Error as error:
            raise CurDataError(f"--cur: DuckDB could not run a view: {error}") from error
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

    def close(self) -> None:
        self.connection.close()


def parquet_files(path: Path) -> tuple[list[Path], list[str], bool]:
    """(files, billing periods, partitioned) for a folder or a single file."""
    if not path.exists():
        raise CurDataError(f"--cur: {str(path)!r} does not exist; expected a folder of BILLING_PERIOD=YYYY-MM/"
                           f"*.parquet or one Parquet file")
    if path.is_file():
        return [path], [], False
    files = sorted(p for p in path.rglob("*.parquet") if p.is_file())
    if not files:
        raise CurDataError(f"--cur: no .parquet files under {str(path)!r}; expected BILLING_PERIOD=YYYY-MM/*.parquet "
                           f"as Data Exports writes them")
    periods = set()
    for file in files:
        folder = file.parent.name
        match = PERIOD_FOLDER.match(folder)
        if match is None:
            raise CurDataError(f"--cur: {str(file)!r} is not in a BILLING_PERIOD=YYYY-MM folder (found {folder!r})")
        periods.add(match.group(1))
    return files, sorted(periods), True


def open_local_cur(path: Path) -> LocalCur:
    files, periods, partitioned = parquet_files(path)
    connection = duckdb.connect(":memory:")
    listing = "[" + ", ".join("'" + str(f).replace("'", "''") + "'" for f in files) + "]"
    # One file has no partition folder: the billing period is its bill's start month.
    source = (f"read_parquet({listing}, hive_partitioning = true, union_by_name = true)" if partitioned else
              f"(SELECT *, strftime(bill_billing_period_start_date, '%Y-%m') AS {PARTITION_COLUMN} "
              f"FROM read_parquet({listing}))")
    try:
        described = connection.execute(f"DESCRIBE SELECT * FROM read_parquet({listing}, union_by_name = true)").fetchall()
    except duckdb.Error as error:
        connection.close()
        raise CurDataError(f"--cur: cannot read {str(path)!r} as Parquet: {str(error).splitlines()[0]}") from error
    types = {row[0].lower(): row[1] for row in described}
    missing = [name for name in COLUMN_NAMES if name not in types]
    if missing:
        connection.close()
        raise CurDataError(f"--cur: {str(path)!r} lacks CUR 2.0 column(s) {', '.join(missing)}; expected an export "
                           f"with the columns CostDataExport selects (aifinops.core.cur_views.COLUMNS)")
    if not types["resource_tags"].upper().startswith("MAP("):
        connection.close()
        raise CurDataError(f"--cur: column resource_tags in {str(path)!r} is {types['resource_tags']}; expected "
                           f"CUR 2.0's map of tag key to value")
    connection.execute(f"CREATE VIEW {TABLE_NAME} AS SELECT * FROM {source}")
    return LocalCur(connection, files, periods)
