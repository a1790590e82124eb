"""The weekly FinOps report: Cost Explorer results injected into moto (in-process and over HTTP),
invocations and GPU hours from CloudWatch and EC2, rendered as Markdown and JSON."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.stub import Stubber

from aifinops.automation.aws_clients import AwsClients
from aifinops.automation.idle_gpu_reaper_handler import reap
from aifinops.automation.spend_summary import Window, cost_by, invocations_by_model, weekly_summary
from aifinops.cli import main
from aifinops.core import catalog
from aifinops.core.automation_settings import STOPPED_AT_TAG, ReaperSettings
from tests.automation.moto_helpers import (ACCOUNT_ID, REGION, instance_tags, launch, put_gpu_utilisation,
                                          serving_endpoint)

MOTO_API = "http://motoapi.amazonaws.com"
# Two days ahead, so that the reaper's stop (30 hours before the week's end) comes after moto's launch.
# The reaper stops an instance moto launches at the real time, so the stop must come after that: an
# hour from now, and the report's week ends at the midnight after it. This holds at any hour of any day.
STOPPED_AT = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(hours=1)
WEEK_END = (STOPPED_AT + timedelta(days=1)).date()
WEEK_TITLE = f"# FinOps weekly summary: {WEEK_END - timedelta(days=7)} to {WEEK_END - timedelta(days=1)}"
REQUIRED = ("CostCenter", "Project", "Environment")
THIS_WEEK = {"Amazon Elastic Compute Cloud - Compute": 812.40, "Amazon SageMaker": 402.10,
             "Amazon Simple Storage Service": 55.25, "AWS Lambda": 0.42}
WEEK_BEFORE = {"Amazon Elastic Compute Cloud - Compute": 640.00, "Amazon SageMaker": 455.80,
               "Amazon Simple Storage Service": 55.25, "Amazon CloudWatch": 3.10}
UNTAGGED = {"CostCenter": 120.50, "Project": 80.25, "Environment": 15.00}
MODEL_RUNS = {("llama-8b-v3", "run-41"): 300.00, ("llama-8b-v3", "run-42"): 120.00, ("llama-8b-v3", ""): 210.00,
              ("mistral-7b-v1", ""): 95.00, ("", ""): 450.00}
INVOCATIONS = {"llama-8b-v3": [120_000, 95_000, 110_500], "mistral-7b-v1": [40_000, 22_000]}


def ce_result(window: Window, groups: dict[tuple[str, ...], float], kinds: tuple[str, ...]) -> dict[str, Any]:
    """A get_cost_and_usage answer: each group's cost split over the window's first two days."""
    days = [window.start, window.start + timedelta(days=1), window.start + timedelta(days=2)]
    by_time = []
    for day, share in zip(days, (0.25, 0.75)):
        by_time.append({"TimePeriod": {"Start": day.isoformat(), "End": (day + timedelta(days=1)).isoformat()},
                        "Total": {}, "Estimated": False, "Groups": [
                            {"Keys": [f"{kind}${value}" if kind != "SERVICE" else value
                                      for kind, value in zip(kinds, keys)],
                             "Metrics": {"UnblendedCost": {"Amount": f"{cost * share:.10f}", "Unit": "USD"}}}
                            for keys, cost in groups.items()]})
    return {"ResultsByTime": by_time, "DimensionValueAttributes": []}


def weekly_results() -> list[dict[str, Any]]:
    """In the order weekly_summary asks: week by service, week before by service, each required tag, models."""
    week = Window.week_ending(WEEK_END)
    results = [ce_result(week, {(k,): v for k, v in THIS_WEEK.items()}, ("SERVICE",)),
               ce_result(week.previous(), {(k,): v for k, v in WEEK_BEFORE.items()}, ("SERVICE",))]
    for tag in REQUIRED:
        results.append(ce_result(week, {("",): UNTAGGED[tag], ("tagged",): 1000.0}, (tag,)))
    results.append(ce_result(week, MODEL_RUNS, ("ModelVersion", "TrainingRun")))
    return results


def inject(results: list[dict[str, Any]], api: str = MOTO_API) -> None:
    response = requests.post(f"{api}/moto-api/static/ce/cost-and-usage-results", json={"results": results})
    assert response.status_code == 201


def serving_endpoints(clients: AwsClients) -> None:
    """One SageMaker endpoint per model version, tagged with it, and its daily invocations in CloudWatch."""
    for model, daily in INVOCATIONS.items():
        serving_endpoint(clients, model, [
            (datetime.combine(WEEK_END - timedelta(days=day + 1), datetime.min.time(), timezone.utc)
             + timedelta(hours=12), count) for day, count in enumerate(daily)])


def test_weekly_summary_from_injected_cost_explorer_results(moto: AwsClients) -> None:
    inject(weekly_results())
    serving_endpoints(moto)
    (idle,) = launch(moto, "p5.48xlarge")
    stopped_at = STOPPED_AT
    put_gpu_utilisation(moto, idle, [1.0] * 12, stopped_at)
    reap(moto, ReaperSettings(grace_minutes=0, dry_run=False), now=stopped_at)
    marked = datetime.strptime(instance_tags(moto, idle)[STOPPED_AT_TAG], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)

    summary = weekly_summary(moto, WEEK_END, REQUIRED, now=datetime.combine(WEEK_END, datetime.min.time(), timezone.utc))

    data = summary.to_dict()
    assert data["total"] == round(sum(THIS_WEEK.values()), 2) and data["previousTotal"] == round(sum(WEEK_BEFORE.values()), 2)
    movers = [(m["service"], m["change"]) for m in data["topMovers"]]
    expected = sorted(((s, round(THIS_WEEK.get(s, 0) - WEEK_BEFORE.get(s, 0), 2)) for s in set(THIS_WEEK) | set(WEEK_BEFORE)
                       if THIS_WEEK.get(s, 0) != WEEK_BEFORE.get(s, 0)), key=lambda r: -abs(r[1]))
    assert movers == expected
    assert data["untaggedSpend"] == UNTAGGED
    assert data["costPerModelVersion"] == {"llama-8b-v3": 630.0, "mistral-7b-v1": 95.0}
    assert {(r["modelVersion"], r["trainingRun"]): r["cost"] for r in data["costPerTrainingRun"]} == \
        {k: v for k, v in MODEL_RUNS.items() if k[0] and k[1]}
    for model, daily in INVOCATIONS.items():
        assert data["invocations"][model] == sum(daily)
        assert data["costPerThousandInferences"][model] == round(MODEL_RUNS[(model, "")] / sum(daily) * 1000, 4)
    hours = (datetime.combine(WEEK_END, datetime.min.time(), timezone.utc) - marked).total_seconds() / 3600
    saved = data["idleGpuHoursSaved"]
    assert saved["instanceHours"] == round(hours, 1)
    assert saved["gpuHours"] == round(hours * catalog.lookup("p5.48xlarge").count, 1)
    assert saved["usd"] == round(hours * catalog.on_demand_price("p5.48xlarge"), 2)

    markdown = summary.to_markdown()
    assert WEEK_TITLE in markdown
    ec2_change = THIS_WEEK["Amazon Elastic Compute Cloud - Compute"] - WEEK_BEFORE["Amazon Elastic Compute Cloud - Compute"]
    assert f"| Amazon Elastic Compute Cloud - Compute | $812.40 | $640.00 | +${ec2_change:,.2f} |" in markdown
    share = UNTAGGED["CostCenter"] / sum(THIS_WEEK.values())
    assert f"| CostCenter | $120.50 | {share:.1%} |" in markdown
    assert "| llama-8b-v3 | run-41 | $300.00 |" in markdown and "## Idle-GPU hours saved" in markdown


def test_cost_explorer_pages_are_followed(moto: AwsClients) -> None:
    week = Window.week_ending(WEEK_END)
    first = ce_result(week, {("llama-8b-v3",): 10.0}, ("ModelVersion",))
    first["NextPageToken"] = "page-2"
    inject([first, ce_result(week, {("llama-8b-v3",): 5.0, ("mistral-7b-v1",): 2.0}, ("ModelVersion",))])

    totals = cost_by(moto.client("ce"), week, [("TAG", "ModelVersion")])

    assert totals == {("llama-8b-v3",): pytest.approx(15.0), ("mistral-7b-v1",): pytest.approx(2.0)}


def test_window_rejects_an_empty_range() -> None:
    with pytest.raises(ValueError, match="expected a start date before the end date"):
        Window(WEEK_END, WEEK_END)


def test_report_command_against_a_moto_server(server_clients: AwsClients, moto_server: str, tmp_path: Path,
                                              capsys: pytest.CaptureFixture) -> None:
    inject(weekly_results(), api=moto_server)
    base = ["report", "--region", REGION, "--endpoint-url", moto_server, "--week-ending", WEEK_END.isoformat()]

    assert main([*base, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total"] == round(sum(THIS_WEEK.values()), 2) and data["untaggedSpend"] == UNTAGGED
    assert data["costPerThousandInferences"] == {"llama-8b-v3": None, "mistral-7b-v1": None}  # no endpoints here

    output = tmp_path / "weekly.md"
    assert main([*base, "--output", str(output)]) == 0
    assert output.read_text().startswith(WEEK_TITLE)

    with pytest.raises(SystemExit):
        main(["report", "--region", REGION, "--week-ending", "last friday"])
    assert "expected a date as YYYY-MM-DD, got 'last friday'" in capsys.readouterr().err


def test_an_endpoint_that_cannot_be_read_is_named_and_the_rest_are_counted(moto: AwsClients) -> None:
    """botocore's Stubber plays SageMaker so that one endpoint's tags are denied; CloudWatch is moto."""
    serving_endpoints(moto)  # puts the invocation metrics in moto's CloudWatch
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    moto.use("sagemaker", sagemaker)
    created = datetime(2026, 11, 1, tzinfo=timezone.utc)
    endpoints = [{"EndpointName": f"{m}-live", "EndpointArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:endpoint/{m}-live",
                  "CreationTime": created, "LastModifiedTime": created, "EndpointStatus": "InService"} for m in INVOCATIONS]
    errors: list[str] = []
    with Stubber(sagemaker) as stub:
        stub.add_response("list_endpoints", {"Endpoints": endpoints})
        stub.add_client_error("list_tags", "AccessDeniedException", "not allowed", 400)
        stub.add_response("list_tags", {"Tags": [{"Key": "ModelVersion", "Value": "mistral-7b-v1"}]})
        stub.add_response("describe_endpoint", {
            "EndpointName": "mistral-7b-v1-live", "EndpointArn": endpoints[1]["EndpointArn"], "EndpointConfigName": "c",
            "EndpointStatus": "InService", "CreationTime": created, "LastModifiedTime": created,
            "ProductionVariants": [{"VariantName": "AllTraffic"}]})

        counts = invocations_by_model(moto, Window.week_ending(WEEK_END), "ModelVersion", errors)

    assert counts == {"mistral-7b-v1": sum(INVOCATIONS["mistral-7b-v1"])}
    assert errors == [f"{endpoints[0]['EndpointArn']}: AccessDeniedException: not allowed"]
