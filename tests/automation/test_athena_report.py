"""The CUR views on Athena: moto records the submitted SQL and serves injected results; botocore's
Stubber plays what moto does not (a running query, a failure, bytes scanned). Also the CloudWatch
invocation counts behind the cost per 1,000 inferences."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
import requests
from botocore.stub import Stubber
from moto.athena.models import athena_backends

from aifinops.automation.athena_queries import AthenaQueryError, parse_results, run_query
from aifinops.automation.aws_clients import AwsClients
from aifinops.cli import main
from aifinops.core import cur_views
from tests.automation.moto_helpers import ACCOUNT_ID, REGION, serving_endpoint
from tests.cur_parquet import day_of, sample_lines, tag_of, write_export

MOTO_API = "http://motoapi.amazonaws.com"
START, END = date(2026, 11, 1), date(2026, 11, 21)


def athena_result(view: str, rows: list[list[Any]]) -> dict[str, Any]:
    """A result as Athena returns it: the column names as the first row, then text values (None: no value)."""
    columns = cur_views.VIEW_COLUMNS[view]
    header = {"Data": [{"VarCharValue": name} for name, _ in columns]}
    data = [{"Data": [{} if v is None else {"VarCharValue": str(v)} for v in row]} for row in rows]
    return {"rows": [header, *data], "column_info": [
        {"CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": name, "Label": name, "Type": kind,
         "Precision": 0, "Scale": 0, "Nullable": "UNKNOWN", "CaseSensitive": True} for name, kind in columns]}


def daily_rows() -> list[list[Any]]:
    """20 days of EC2 spend with a weekly rhythm, and S3."""
    rows = []
    for offset in range(20):
        day = START + timedelta(days=offset)
        rows.append([day.isoformat(), "AmazonEC2", 1000.0 + (300.0 if day.weekday() < 5 else 0.0)])
        rows.append([day.isoformat(), "AmazonS3", 2.5])
    return rows


RESULTS = {
    "daily_cost_by_product": daily_rows(),
    "cost_by_model_version": [["v1", 5000.5, 2], ["v2", 1200.25, 1]],
    "cost_by_training_run": [["run-a", "v1", 4000.0, 640.0, 1720.0], ["run-c", "v2", 1000.0, 96.0, 0.0]],
    "untagged_spend": [["CostCenter", 10.0, 20000.0, 20100.0], ["Environment", 0.0, 20000.0, 20100.0],
                       ["Project", 200.0, 20000.0, 20100.0]],
    "inference_cost_by_model": [["v1", 500.5], ["v2", 200.25]],
}


@pytest.fixture
def athena(moto: AwsClients) -> AwsClients:
    moto.client("athena").create_work_group(Name="cost-lake-cur", Configuration={
        "ResultConfiguration": {"OutputLocation": "s3://lake/athena-results/"}, "EnforceWorkGroupConfiguration": True})
    return moto


def inject(results: list[dict[str, Any]]) -> None:
    response = requests.post(f"{MOTO_API}/moto-api/static/athena/query-results",
                             json={"account_id": ACCOUNT_ID, "region": REGION, "results": results})
    assert response.status_code == 201


def submitted(moto: AwsClients) -> list[str]:
    backend = athena_backends[ACCOUNT_ID][REGION]
    return [execution.query for execution in backend.executions.values()]


def test_report_runs_the_views_on_athena_and_parses_their_results(athena: AwsClients, capsys) -> None:
    inject([athena_result(view, RESULTS[view]) for view in cur_views.DASHBOARD_VIEWS])
    code = main(["report", "--athena", "--workgroup", "cost-lake-cur", "--database", "cost_lake_cur", "--region", REGION,
                 "--from", START.isoformat(), "--to", END.isoformat(), "--budget", "platform=30000", "--json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    params = cur_views.ViewParameters(table='"cost_lake_cur"."cost_and_usage_report"',
                                      window=cur_views.Window.days(START, END),
                                      gpus_per_instance=cur_views.catalog_gpus_per_instance())
    # The SQL submitted is the views' Athena text, the text CostDataExport stores as named queries.
    assert submitted(athena) == [cur_views.render(view, params, cur_views.ATHENA) for view in cur_views.DASHBOARD_VIEWS]
    assert all("billing_period BETWEEN '2026-11' AND '2026-11'" in sql for sql in submitted(athena))
    expected_total = sum(row[2] for row in RESULTS["daily_cost_by_product"])
    assert data["total"] == pytest.approx(expected_total)
    assert data["costPerModelVersion"] == [{"modelVersion": "v1", "cost": 5000.5, "trainingRuns": 2},
                                           {"modelVersion": "v2", "cost": 1200.25, "trainingRuns": 1}]
    runs = {r["trainingRun"]: r for r in data["costPerTrainingRun"]}
    assert runs["run-a"]["spotShare"] == pytest.approx(0.43) and runs["run-a"]["gpuHours"] == 640.0
    assert {u["tagKey"]: u["share"] for u in data["untaggedSpend"]}["Project"] == pytest.approx(0.01)
    assert data["athenaBytesScanned"] == 0  # moto reports no bytes; the Stubber test below counts them
    assert data["forecast"]["available"] and data["forecast"]["budgets"][0]["budget"] == "platform"


def test_a_missing_value_parses_as_none_and_numbers_by_their_athena_type() -> None:
    result = athena_result("cost_by_training_run", [["run-a", "v1", "4000.5", "640", None]])
    page = {"ResultSet": {"Rows": result["rows"], "ResultSetMetadata": {"ColumnInfo": result["column_info"]}}}
    (row,) = parse_results([page], cur_views.VIEW_COLUMNS["cost_by_training_run"])
    assert row == {"training_run": "run-a", "model_version": "v1", "cost": 4000.5, "gpu_hours": 640.0,
                   "spot_cost": None}


def test_results_with_other_columns_are_rejected() -> None:
    page = {"ResultSet": {"Rows": [], "ResultSetMetadata": {"ColumnInfo": [{"Name": "cost", "Type": "double"}]}}}
    with pytest.raises(AthenaQueryError, match=r"expected columns \['model_version', 'cost'\], got \['cost'\]"):
        parse_results([page], cur_views.VIEW_COLUMNS["inference_cost_by_model"])


def stubbed_athena() -> tuple[Any, Stubber]:
    client = boto3.client("athena", region_name=REGION)
    return client, Stubber(client)


def test_run_query_waits_and_reports_bytes_scanned() -> None:
    client, stub = stubbed_athena()
    expected = cur_views.VIEW_COLUMNS["inference_cost_by_model"]
    stub.add_response("start_query_execution", {"QueryExecutionId": "q-1"},
                      {"QueryString": "SELECT 1", "WorkGroup": "wg", "QueryExecutionContext": {"Database": "db"}})
    stub.add_response("get_query_execution", {"QueryExecution": {"QueryExecutionId": "q-1",
                                                                 "Status": {"State": "RUNNING"}}})
    stub.add_response("get_query_execution", {"QueryExecution": {
        "QueryExecutionId": "q-1", "Status": {"State": "SUCCEEDED"},
        "Statistics": {"DataScannedInBytes": 73_400_320}}})
    result = athena_result("inference_cost_by_model", RESULTS["inference_cost_by_model"])
    stub.add_response("get_query_results", {"ResultSet": {"Rows": result["rows"],
                                                          "ResultSetMetadata": {"ColumnInfo": result["column_info"]}}})
    slept: list[float] = []
    with stub:
        run = run_query(client, "SELECT 1", expected, workgroup="wg", database="db", sleep=slept.append)
    assert slept == [1.0] and run.bytes_scanned == 73_400_320
    assert run.rows == [{"model_version": "v1", "cost": 500.5}, {"model_version": "v2", "cost": 200.25}]


def test_a_cancelled_query_names_the_reason() -> None:
    client, stub = stubbed_athena()
    stub.add_response("start_query_execution", {"QueryExecutionId": "q-2"})
    stub.add_response("get_query_execution", {"QueryExecution": {"QueryExecutionId": "q-2", "Status": {
        "State": "CANCELLED", "StateChangeReason": "Query exhausted the workgroup's bytes scanned cutoff"}}})
    with stub, pytest.raises(AthenaQueryError, match="q-2 CANCELLED: Query exhausted the workgroup's bytes scanned"):
        run_query(client, "SELECT 1", (), workgroup="wg", database="db", sleep=lambda _: None)


def test_athena_needs_its_workgroup_and_database(capsys) -> None:
    assert main(["report", "--athena", "--workgroup", "wg", "--region", REGION]) == 2
    assert "--athena: expected --workgroup W and --database D" in capsys.readouterr().err


def test_cost_per_thousand_inferences_from_cloudwatch_invocations(moto: AwsClients, tmp_path, capsys) -> None:
    rows = sample_lines(periods=("2026-11",))
    write_export(tmp_path, rows)
    invocations = {"v1": 250_000.0, "v2": 40_000.0}
    for model, count in invocations.items():
        serving_endpoint(moto, model, [(datetime(2026, 11, day, 12, tzinfo=timezone.utc), count / 2) for day in (3, 4)])
    assert main(["report", "--cur", str(tmp_path), "--invocations", "--region", REGION, "--from", "2026-11-01",
                 "--to", "2026-11-08", "--json"]) == 0
    got = {r["modelVersion"]: r for r in json.loads(capsys.readouterr().out)["costPerThousandInferences"]}
    serving = {m: sum(r["line_item_unblended_cost"] for r in rows if tag_of(r, "ModelVersion") == m
                      and not tag_of(r, "TrainingRun") and day_of(r) < date(2026, 11, 8)) for m in invocations}
    for model, count in invocations.items():
        assert got[model]["invocations"] == int(count)
        assert got[model]["costPerThousand"] == pytest.approx(serving[model] / count * 1000, abs=1e-4)


def test_cost_per_thousand_inferences_from_a_metric_the_user_names(moto: AwsClients, tmp_path, capsys) -> None:
    rows = sample_lines(periods=("2026-11",))
    write_export(tmp_path, rows)
    moto.client("cloudwatch").put_metric_data(Namespace="LLM/Serving", MetricData=[{
        "MetricName": "Requests", "Value": 1000.0, "Unit": "Count", "Timestamp": datetime(2026, 11, 2, 8, tzinfo=timezone.utc),
        "Dimensions": [{"Name": "ModelVersion", "Value": "v2"}]}])
    assert main(["report", "--cur", str(tmp_path), "--invocations-metric", "LLM/Serving", "Requests", "--region", REGION,
                 "--from", "2026-11-01", "--to", "2026-11-08", "--json"]) == 0
    got = {r["modelVersion"]: r for r in json.loads(capsys.readouterr().out)["costPerThousandInferences"]}
    serving_v2 = sum(r["line_item_unblended_cost"] for r in rows if tag_of(r, "ModelVersion") == "v2"
                     and not tag_of(r, "TrainingRun") and day_of(r) < date(2026, 11, 8))
    assert got["v2"]["invocations"] == 1000 and got["v2"]["costPerThousand"] == pytest.approx(serving_v2, abs=1e-4)
    assert got["v1"]["invocations"] == 0 and got["v1"]["costPerThousand"] is None
