"""Run the CUR views on Athena and read their results back as typed rows.

A query runs in a workgroup (whose enforced settings give the encrypted result location and the
bytes-scanned cutoff) against a Glue database. `run_query` submits, waits, pages through the results
and reports the bytes scanned, which is what Athena bills ($5 per TB in us-east-1).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from typing import Any, Callable, Optional, Sequence

FINISHED = ("SUCCEEDED", "FAILED", "CANCELLED")


class AthenaQueryError(RuntimeError):
    """A query failed, was cancelled (the workgroup's cutoff, say), timed out or returned other columns."""


@dataclass
class QueryRun:
    execution_id: str
    rows: list[dict[str, Any]]
    bytes_scanned: int


def convert(value: Optional[str], athena_type: str) -> Any:
    """One cell (Athena returns every value as text) as a Python value; a missing value is None."""
    if value is None:
        return None
    kind = athena_type.lower().split("(", 1)[0]
    if kind in ("double", "float", "real", "decimal"):
        return float(value)
    if kind in ("bigint", "integer", "int", "smallint", "tinyint"):
        return int(value)
    if kind == "date":
        return date.fromisoformat(value)
    if kind == "boolean":
        return value == "true"
    return value


def parse_results(pages: Sequence[dict[str, Any]], expected: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """GetQueryResults pages -> rows, checking the columns are the view's. Athena repeats the column names
    as the first row of a SELECT's first page; that row is skipped."""
    rows: list[dict[str, Any]] = []
    names = [name for name, _ in expected]
    for number, page in enumerate(pages):
        result = page.get("ResultSet", {})
        info = result.get("ResultSetMetadata", {}).get("ColumnInfo", [])
        got = [c.get("Name") for c in info]
        if got != names:
            raise AthenaQueryError(f"query results: expected columns {names}, got {got}")
        types = [c.get("Type", "varchar") for c in info]
        for index, row in enumerate(result.get("Rows", [])):
            cells = [cell.get("VarCharValue") for cell in row.get("Data", [])]
            if number == 0 and index == 0 and cells == names:
                continue
            if len(cells) != len(names):
                raise AthenaQueryError(f"query results: a row has {len(cells)} values, expected {len(names)}")
            rows.append({name: convert(cell, kind) for name, cell, kind in zip(names, cells, types)})
    return rows


def run_query(athena: Any, sql: str, expected: Sequence[tuple[str, str]], *, workgroup: str, database: str,
              timeout_seconds: float = 600.0, poll_seconds: float = 1.0,
              sleep: Callable[[float], None] = time.sleep) -> QueryRun:
    execution_id = athena.start_query_execution(
        QueryString=sql, WorkGroup=workgroup,
        QueryExecutionContext={"Database": database})["QueryExecutionId"]
    waited = 0.0
    while True:
        execution = athena.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]
        state = execution["Status"]["State"]
        if state in FINISHED:
            break
        if waited >= timeout_seconds:
            athena.stop_query_execution(QueryExecutionId=execution_id)
            raise AthenaQueryError(f"query {execution_id}: still {state} after {timeout_seconds:.0f} s; stopped it")
        sleep(poll_seconds)
        waited += poll_seconds
    if state != "SUCCEEDED":
        reason = execution["Status"].get("StateChangeReason", "no reason given")
        raise AthenaQueryError(f"query {execution_id} {state}: {reason}")
    pages = list(athena.get_paginator("get_query_results").paginate(QueryExecutionId=execution_id))
    scanned = int(execution.get("Statistics", {}).get("DataScannedInBytes", 0))
    return QueryRun(execution_id, parse_results(pages, expected), scanned)
