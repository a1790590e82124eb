"""`aifinops rightsize` against moto: GPU metrics put as the CloudWatch agent publishes its aggregated
series (InstanceId alone; AutoScalingGroupName for fleets), 14 days of hourly points before a pinned end.

The test account, each expectation worked by hand from the vendored us-east-1 prices (730 h a month):
- busy    g5.xlarge  on demand, util 90%, peak 20,000 MiB (19.53 GiB; +20% = 23.4 GiB > the 22.35 GiB of
          any 1-GPU A10G/L4 type; the L40S types that hold it cost more): keep, saving 0 (now 1.006 x 730 = 734.38).
- idle    g6e.xlarge util 1-2% (p95 < 5%): stop, saving 1.861 x 730 = 1,358.53.
- oversized g6e.xlarge (1x L40S, 44.7 GiB) util 20/30% (p95 30), peak 16,384 MiB = 16 GiB (35.8%); +20% =
          19.2 GiB: fits 22.35 GiB GPUs (not the T4's 16); the L4 has half the memory, so its utilisation is
          taken as 2 x 30 = 60% <= 80: 1 GPU. Cheapest: g6.xlarge 0.8048 x 730 = 587.50; saving
          1,358.53 - 587.50 = 771.03.
- trainer g5.xlarge tagged aifinops:interruptible=true, util 90%, peak 20,000 MiB: no smaller type (as busy),
          so spot: 1.006 x (1 - 0.65) x 730 = 257.03; saving 734.38 - 257.03 = 477.35.
- nodata  g5.xlarge with no metrics: insufficient-data, no recommendation, saving 0.
- serving fleet of 2 g5.2xlarge (1x A10G 22.35 GiB each), util 30/40% (p95 40), peak 10,240 MiB = 10 GiB; +20%
          = 12 GiB fits the T4's 16 GiB; its utilisation 40 x 22.35/16 = 55.9% <= 80: 1 GPU. g4dn.xlarge
          0.526 x 730 = 383.98 each; now 1.212 x 730 = 884.76 each; saving 2 x (884.76 - 383.98) = 1,001.56.
Total saving: 1,358.53 + 771.03 + 477.35 + 1,001.56 = 3,608.47.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from aifinops import cli, rightsize_command
from aifinops.automation.aws_clients import AwsClients
from aifinops.automation.gpu_usage import collect_usage
from aifinops.core import gpu_agent_config as agent
from aifinops.core.rightsizing import RightsizeSettings, recommend
from tests.automation.moto_helpers import AMI, launch

END = datetime(2026, 11, 30, tzinfo=timezone.utc)  # pinned: the window never depends on the wall clock
HOURS = 14 * 24


def put_series(clients: AwsClients, dimension: str, value: str, utilisation: list[float], memory_mib: float) -> None:
    """One point per hour for 14 days, as the agent's aggregated series (`dimension` alone)."""
    points = []
    for hour in range(HOURS):
        timestamp = END - timedelta(hours=hour, minutes=30)
        dimensions = [{"Name": dimension, "Value": value}]
        points.append({"MetricName": agent.UTILIZATION_METRIC, "Dimensions": dimensions, "Timestamp": timestamp,
                       "Value": utilisation[hour % len(utilisation)], "Unit": "Percent"})
        points.append({"MetricName": agent.MEMORY_USED_METRIC, "Dimensions": dimensions, "Timestamp": timestamp,
                       "Value": memory_mib, "Unit": "Megabytes"})
    for start in range(0, len(points), 1000):
        clients.client("cloudwatch").put_metric_data(Namespace=agent.NAMESPACE, MetricData=points[start:start + 1000])


@pytest.fixture
def account(moto: AwsClients) -> dict[str, str]:
    """The test account; name -> instance id (or the fleet's group name)."""
    ids = {name: launch(moto, instance_type, tags={"Name": name, "Team": "ml", **extra})[0]
           for name, instance_type, extra in (
               ("busy", "g5.xlarge", {}), ("idle", "g6e.xlarge", {}), ("oversized", "g6e.xlarge", {}),
               ("trainer", "g5.xlarge", {"aifinops:interruptible": "true"}), ("nodata", "g5.xlarge", {}))}
    launch(moto, "m5.large", tags={"Name": "web", "Team": "ml"})  # not accelerated: never listed
    moto.client("ec2").create_launch_template(LaunchTemplateName="serving-template", LaunchTemplateData={
        "ImageId": AMI, "InstanceType": "g5.2xlarge"})
    moto.client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName="serving", LaunchTemplate={"LaunchTemplateName": "serving-template"}, MinSize=2,
        MaxSize=2, DesiredCapacity=2, AvailabilityZones=["us-east-1a"],
        Tags=[{"Key": "Team", "Value": "ml", "PropagateAtLaunch": True}])
    put_series(moto, "InstanceId", ids["busy"], [90.0], 20000)
    put_series(moto, "InstanceId", ids["idle"], [1.0, 2.0], 900)
    put_series(moto, "InstanceId", ids["oversized"], [20.0, 30.0], 16384)
    put_series(moto, "InstanceId", ids["trainer"], [90.0], 20000)
    put_series(moto, "AutoScalingGroupName", "serving", [30.0, 40.0], 10240)
    return {**ids, "serving": "serving"}


def recommendations(moto: AwsClients, **tags: list[str]) -> dict[str, object]:
    usages = collect_usage(moto, tags, END, 14)
    return {r.name: r for r in (recommend(u, RightsizeSettings()) for u in usages)}


def test_each_box_gets_the_hand_worked_recommendation_and_saving(moto, account):
    found = recommendations(moto)
    assert set(found) == {"busy", "idle", "oversized", "trainer", "nodata", "serving"}
    expected = {  # name: (action, recommended type, spot, monthly saving)
        "busy": ("keep", "g5.xlarge", False, 0.0),
        "idle": ("stop", None, False, 1358.53),
        "oversized": ("resize", "g6.xlarge", False, 771.03),
        "trainer": ("spot", "g5.xlarge", True, 477.35),
        "nodata": ("insufficient-data", None, False, 0.0),
        "serving": ("resize", "g4dn.xlarge", False, 1001.56),
    }
    for name, (action, recommended_type, spot, saving) in expected.items():
        r = found[name]
        assert (r.action, r.recommended_type, r.use_spot, r.monthly_saving_usd) == \
            (action, recommended_type, spot, saving), name
    assert found["oversized"].p95_utilisation == 30.0 and found["oversized"].peak_memory_gib == 16.0
    assert found["oversized"].peak_memory_percent == 35.8 and "L40S -> L4" in found["oversized"].reason
    assert found["serving"].kind == "fleet" and found["serving"].instances == 2
    assert found["serving"].current_monthly_usd == 1769.52 and found["serving"].recommended_monthly_usd == 767.96
    assert found["nodata"].coverage == 0.0 and "0 of 336" in found["nodata"].reason


def test_a_box_with_part_of_the_window_is_too_little_data(moto, account):
    partial = launch(moto, "g6e.xlarge", tags={"Name": "new"})[0]
    points = [{"MetricName": metric, "Dimensions": [{"Name": "InstanceId", "Value": partial}],
               "Timestamp": END - timedelta(hours=h, minutes=30), "Value": 1.0}
              for h in range(100) for metric in (agent.UTILIZATION_METRIC, agent.MEMORY_USED_METRIC)]
    moto.client("cloudwatch").put_metric_data(Namespace=agent.NAMESPACE, MetricData=points)
    new = recommendations(moto)["new"]
    # 100 of 336 hours (29.8%) < 80%: listed, never told to stop although what data there is looks idle.
    assert new.action == "insufficient-data" and new.recommended_type is None and new.monthly_saving_usd == 0.0


def test_tags_select_what_is_read(moto, account):
    assert set(recommendations(moto, Name=["idle", "busy"])) == {"idle", "busy"}
    assert set(recommendations(moto, Team=["ml"])) == {"busy", "idle", "oversized", "trainer", "nodata", "serving"}


def test_the_series_it_reads_are_those_the_agent_config_publishes(moto, account):
    """What collect_usage asks CloudWatch for, checked against the generated agent configs: a rename of a
    metric or dimension on either side breaks this test."""
    asked: set[tuple[str, str, tuple[str, ...]]] = set()

    def record(params, **_):
        for query in params["MetricDataQueries"]:
            metric = query["MetricStat"]["Metric"]
            asked.add((metric["Namespace"], metric["MetricName"], tuple(d["Name"] for d in metric["Dimensions"])))

    moto.client("cloudwatch").meta.events.register("provide-client-params.cloudwatch.GetMetricData", record)
    collect_usage(moto, {}, END, 14)
    published = agent.emitted_series(agent.agent_config(fleet=False)) | agent.emitted_series(
        agent.agent_config(fleet=True))
    assert asked == {("CWAgent", "nvidia_smi_utilization_gpu", ("InstanceId",)),
                     ("CWAgent", "nvidia_smi_memory_used", ("InstanceId",)),
                     ("CWAgent", "nvidia_smi_utilization_gpu", ("AutoScalingGroupName",)),
                     ("CWAgent", "nvidia_smi_memory_used", ("AutoScalingGroupName",))}
    assert asked <= published


def run_command(moto, *flags: str, capsys) -> str:
    args = cli.build_parser("rightsize").parse_args(["rightsize", "--region", "us-east-1", *flags])
    assert rightsize_command.run(args, end=END) == 0
    return capsys.readouterr().out


def test_command_json_markdown_and_table(moto, account, capsys):
    body = json.loads(run_command(moto, "--json", capsys=capsys))
    assert body["monthlySavingUsd"] == 3608.47 and body["days"] == 14
    by_name = {r["name"]: r for r in body["recommendations"]}
    assert by_name["oversized"]["recommendedType"] == "g6.xlarge"
    assert by_name["serving"]["monthlySavingUsd"] == 1001.56

    markdown = run_command(moto, "--markdown", capsys=capsys)
    assert "| instance | " in markdown and "**Monthly saving: 3,608.47 USD**" in markdown
    assert f"Too little data (not recommended): {account['nodata']}" in markdown

    table = run_command(moto, capsys=capsys)
    oversized_row = next(line for line in table.splitlines() if line.startswith("instance") and "oversized" in line)
    assert "resize" in oversized_row and "g6.xlarge" in oversized_row and "771.03" in oversized_row
    assert "Monthly saving: 3,608.47 USD" in table


@pytest.mark.parametrize("flags, message", [
    (["--tag", "novalue"], "--tag: expected KEY=VALUE, got 'novalue'"),
    (["--days", "0"], "--days: expected 1 to 455, got 0"),
    (["--headroom", "-5"], "--headroom: expected a percentage from 0 to 1000, got -5"),
    (["--target-utilisation", "0"], "--target-utilisation: expected a percentage from 1 to 100, got 0"),
    (["--approved-type", "m5.large"], "--approved-type: m5.large is not an accelerated type in the catalog"),
])
def test_bad_flags_are_usage_errors_naming_the_flag(moto, capsys, flags, message):
    assert cli.main(["rightsize", "--region", "us-east-1", *flags]) == 2
    assert message in capsys.readouterr().err
