"""Estimator defects found against a peer's golden tests, each with its figure worked by hand from the tables.

Prices used (aifinops/core/data/*.json): g5.xlarge $1.006/h (spot 65% off), g6.xlarge $0.8048/h (65% off),
gp3 $0.08/GB-month, detailed monitoring 7 metrics x $0.30, io2 $0.125/GB-month and IOPS $0.065 (to 32,000)
/ $0.0455 (to 64,000), magnetic $0.05/GB-month and $0.05 per million I/O, NAT $0.045/h and $0.045/GB,
EKS $0.10/h standard and $0.60/h extended, alarms $0.10 (standard) / $0.30 (high resolution) per metric,
Lambda $0.20 per million requests, x86 $0.0000166667 then $0.000015 per GB-s, arm64 $0.0000133334,
SQS $0.40 / FIFO $0.50 per million, SNS $0.50 / FIFO $0.30 per million and FIFO payload $0.017/GB.
"""
from __future__ import annotations

import pytest

from aifinops.core.estimate import FREE, NEEDS_USAGE, PRICED, UNPRICED
from tests.test_cost_estimate import by_name, run

G5, G6, GP3, METRICS = 1.006, 0.8048, 0.08, 7 * 0.30


def test_weighted_capacity_counts_units_not_instances(preview):
    program = """
import pulumi_aws as aws
template = aws.ec2.LaunchTemplate("tmpl", image_id="ami-1", instance_type="g5.xlarge")
aws.autoscaling.Group("gpus", min_size=0, max_size=12, desired_capacity=6,
    mixed_instances_policy={
        "launch_template": {"launch_template_specification": {"launch_template_id": template.id},
                            "overrides": [{"instance_type": "g5.xlarge", "weighted_capacity": "2"}]},
        "instances_distribution": {"on_demand_percentage_above_base_capacity": 100}})
aws.autoscaling.Group("mixed", min_size=0, max_size=12, desired_capacity=8,
    mixed_instances_policy={
        "launch_template": {"launch_template_specification": {"launch_template_id": template.id},
                            "overrides": [{"instance_type": "g5.xlarge", "weighted_capacity": "2"},
                                          {"instance_type": "g6.xlarge", "weighted_capacity": "1"}]},
        "instances_distribution": {"on_demand_base_capacity": 0, "on_demand_percentage_above_base_capacity": 50}})
"""
    result = run(preview, program)
    # 6 units at weight 2 are 3 instances: 3 x 730 h x $1.006 = $2,203.14 (not 6 x ... = $4,406.28)
    (line,) = by_name(result, "gpus").lines
    assert line.quantity == pytest.approx(3 * 730)
    assert by_name(result, "gpus").monthly_usd == pytest.approx(2203.14)
    # 8 units, half on demand: 4 units of g5.xlarge = 2 instances -> 2 x 730 x $1.006 = $1,468.76;
    # 4 spot units at the mean price per unit: (1.006 x 0.35 / 2 + 0.8048 x 0.35 / 1) / 2 = $0.228885
    on_demand, spot = by_name(result, "mixed").lines
    assert on_demand.monthly_usd == pytest.approx(1468.76)
    assert spot.unit == "capacity-unit-hours" and spot.quantity == pytest.approx(4 * 730)
    assert spot.unit_usd == pytest.approx((1.006 * 0.35 / 2 + 0.8048 * 0.35) / 2, abs=1e-6)


def test_instance_from_launch_template_is_priced_from_the_template(preview):
    program = """
import pulumi_aws as aws
template = aws.ec2.LaunchTemplate("tmpl", image_id="ami-1", instance_type="g5.xlarge", monitoring={"enabled": True},
    block_device_mappings=[{"device_name": "/dev/xvda", "ebs": {"volume_size": 100, "volume_type": "gp3"}}])
aws.ec2.Instance("box", launch_template={"id": template.id})
aws.ec2.Instance("override", launch_template={"id": template.id}, instance_type="g6.xlarge", monitoring=False)
"""
    result = run(preview, program)
    box = by_name(result, "box")
    # 730 h x $1.006 = $734.38; the template's 100 GB gp3 = $8.00; its detailed monitoring 7 x $0.30 = $2.10
    assert box.status == PRICED
    assert [round(line.monthly_usd, 2) for line in box.lines] == [734.38, 8.0, 2.1]
    assert "launched from template tmpl" in box.lines[0].assumption
    # the instance's own arguments win: g6.xlarge, no monitoring -> 730 x $0.8048 + $8.00
    assert by_name(result, "override").monthly_usd == pytest.approx(730 * G6 + 8.0)


def test_dedicated_and_host_tenancy_are_never_priced_at_the_shared_rate(preview):
    program = """
import pulumi_aws as aws
aws.ec2.Instance("dedicated", instance_type="g5.xlarge", ami="ami-1", tenancy="dedicated")
aws.ec2.Instance("on-host", instance_type="g5.xlarge", ami="ami-1", tenancy="host")
template = aws.ec2.LaunchTemplate("tmpl", image_id="ami-1", instance_type="g5.xlarge",
                                  placement={"tenancy": "dedicated"})
aws.autoscaling.Group("group", min_size=2, max_size=2, launch_template={"id": template.id})
"""
    result = run(preview, program)
    dedicated, host, group = (by_name(result, n) for n in ("dedicated", "on-host", "group"))
    # the vendored table has no Dedicated Instance prices: listed with the reason, not $734.38 at the shared rate
    assert dedicated.status == UNPRICED and "dedicated tenancy" in dedicated.note and "--tenancy dedicated" in dedicated.note
    assert group.status == UNPRICED and "dedicated tenancy" in group.note
    assert host.status == UNPRICED and "Dedicated Host" in host.note
    assert result.monthly_usd == 0


def test_dedicated_price_and_region_fee_from_a_refreshed_table(preview, price_tables):
    price_tables("us-east-1", dedicatedOnDemandUsdPerHour={"g5.xlarge": 1.107})
    program = """
import pulumi_aws as aws
aws.ec2.Instance("a", instance_type="g5.xlarge", ami="ami-1", tenancy="dedicated",
                 root_block_device={"volume_size": 10, "volume_type": "gp3"})
aws.ec2.Instance("b", instance_type="g5.xlarge", ami="ami-1", tenancy="dedicated",
                 root_block_device={"volume_size": 10, "volume_type": "gp3"})
"""
    result = run(preview, program)
    a, b = by_name(result, "a"), by_name(result, "b")
    # each: 730 h x $1.107 = $808.11 + 10 GB x $0.08; the $2/h per-region fee once: 730 x $2 = $1,460
    assert a.lines[0].unit_usd == 1.107 and "dedicated tenancy" in a.lines[0].description
    assert a.monthly_usd == pytest.approx(808.11 + 0.8 + 1460.0)
    assert b.monthly_usd == pytest.approx(808.11 + 0.8)
    assert "dedicated-instances" in a.lines[-1].source


def test_nat_gateway_says_data_processing_needs_usage(preview):
    program = "import pulumi_aws as aws\naws.ec2.NatGateway('nat', subnet_id='subnet-1')\n" \
              "aws.ec2.NatGateway('busy', subnet_id='subnet-2')\n"
    result = run(preview, program, {"resources": {"busy": {"monthlyProcessedGb": 1000}}})
    nat, busy = by_name(result, "nat"), by_name(result, "busy")
    # the gateway-hours are known: 730 x $0.045 = $32.85; the GB processed are not
    assert nat.monthly_usd == pytest.approx(32.85)
    assert "needs usage" in nat.note and "monthlyProcessedGb" in nat.note and "$0.045 per GB" in nat.note
    # with usage: + 1,000 GB x $0.045 = $45.00
    assert busy.monthly_usd == pytest.approx(32.85 + 45.0) and not busy.note


def test_eks_version_in_extended_support_costs_six_times_more(preview):
    program = """
import pulumi_aws as aws
role = "arn:aws:iam::1:role/eks"
vpc = {"subnet_ids": ["s1", "s2"]}
aws.eks.Cluster("old", role_arn=role, vpc_config=vpc, version="1.29")
aws.eks.Cluster("pinned", role_arn=role, vpc_config=vpc, version="1.29", upgrade_policy={"support_type": "STANDARD"})
aws.eks.Cluster("current", role_arn=role, vpc_config=vpc, version="1.34")
aws.eks.Cluster("latest", role_arn=role, vpc_config=vpc)
"""
    result = run(preview, program)
    # 1.29 left standard support on 2025-03-23, before the table's 2026-11: 730 h x $0.60 = $438.00
    old = by_name(result, "old")
    assert old.monthly_usd == pytest.approx(438.0) and "extended support" in old.lines[0].description
    assert "2025-03-23" in old.lines[0].assumption
    # an upgrade policy of STANDARD upgrades instead; 1.34 and an unset version are in standard support: $73.00
    for name in ("pinned", "current", "latest"):
        assert by_name(result, name).monthly_usd == pytest.approx(73.0), name


def test_alarm_kinds(preview):
    program = """
import pulumi_aws as aws
def metric(name, period=300):
    return {"metric_name": name, "namespace": "AWS/EC2", "period": period, "stat": "Average"}
aws.cloudwatch.MetricAlarm("math", comparison_operator="GreaterThanThreshold", evaluation_periods=1, threshold=1,
    metric_queries=[{"id": "m1", "metric": metric("CPUUtilization")}, {"id": "m2", "metric": metric("NetworkIn")},
                    {"id": "e1", "expression": "m1 + m2", "return_data": True}])
aws.cloudwatch.MetricAlarm("fast", comparison_operator="GreaterThanThreshold", evaluation_periods=1, threshold=1,
    metric_name="CPUUtilization", namespace="AWS/EC2", period=10, statistic="Average")
aws.cloudwatch.MetricAlarm("band", comparison_operator="GreaterThanUpperThreshold", evaluation_periods=1,
    threshold_metric_id="ad1",
    metric_queries=[{"id": "m1", "metric": metric("CPUUtilization"), "return_data": True},
                    {"id": "ad1", "expression": "ANOMALY_DETECTION_BAND(m1, 2)", "return_data": True}])
aws.cloudwatch.CompositeAlarm("both", alarm_name="both", alarm_rule="ALARM(math) OR ALARM(fast)")
"""
    result = run(preview, program)
    # metric math: 2 metrics x $0.10 = $0.20 (the expression is not a metric; it used to count: $0.30)
    assert by_name(result, "math").monthly_usd == pytest.approx(0.20)
    # a 10-second period is high resolution: 1 x $0.30
    assert by_name(result, "fast").monthly_usd == pytest.approx(0.30)
    # anomaly detection: the metric and the band's two bounds, 3 x $0.10 = $0.30
    assert by_name(result, "band").monthly_usd == pytest.approx(0.30)
    assert by_name(result, "both").monthly_usd == pytest.approx(0.50)


def test_lambda_arm64_rate_and_volume_tiers(preview):
    program = """
import pulumi_aws as aws
for name, arch, memory in (("arm", "arm64", 1024), ("x86", "x86_64", 1024), ("big", "x86_64", 10240)):
    aws.lambda_.Function(name, role="arn:aws:iam::1:role/l", runtime="python3.12", handler="h.main",
                         code="code.zip", architectures=[arch], memory_size=memory)
"""
    usage = {"resources": {"arm": {"monthlyInvocations": 10_000_000, "averageDurationMs": 1000},
                           "x86": {"monthlyInvocations": 10_000_000, "averageDurationMs": 1000},
                           "big": {"monthlyInvocations": 1_000_000_000, "averageDurationMs": 1000}}}
    result = run(preview, program, usage)
    # 10 M x 1 s x 1 GB = 10 M GB-s: arm64 x $0.0000133334 = $133.334, x86 x $0.0000166667 = $166.667; + $2.00
    assert by_name(result, "arm").monthly_usd == pytest.approx(133.334 + 2.0)
    assert by_name(result, "x86").monthly_usd == pytest.approx(166.667 + 2.0)
    # 1 G x 1 s x 10 GB = 10 G GB-s: 6 G at $0.0000166667 = $100,000.20, then 4 G at $0.000015 = $60,000; + $200
    big = by_name(result, "big")
    assert [round(line.monthly_usd, 2) for line in big.lines] == [200.0, 100000.2, 60000.0]


def test_lambda_without_usage_names_its_rate(preview):
    program = """
import pulumi_aws as aws
aws.lambda_.Function("f", role="arn:aws:iam::1:role/l", runtime="python3.12", handler="h.main", code="c.zip",
                     architectures=["arm64"])
"""
    f = by_name(run(preview, program), "f")
    assert f.status == NEEDS_USAGE and "arm64" in f.note and "1.33334e-05" in f.note


def test_fifo_queues_and_topics_and_64_kb_chunks(preview):
    program = """
import pulumi_aws as aws
aws.sqs.Queue("jobs", name="jobs.fifo", fifo_queue=True)
aws.sns.Topic("events", name="events.fifo", fifo_topic=True)
aws.sns.Topic("alerts")
"""
    usage = {"resources": {"jobs": {"monthlyRequestsMillions": 10, "averageMessageKb": 100},
                           "events": {"monthlyPublishes": 1_000_000, "averageMessageKb": 200},
                           "alerts": {"monthlyPublishes": 2_000_000, "averageMessageKb": 65}}}
    result = run(preview, program, usage)
    # 100 KB = 2 chunks: 20 M FIFO requests x $0.50 = $10.00 (was 10 M x $0.40 = $4.00)
    assert by_name(result, "jobs").monthly_usd == pytest.approx(10.0)
    # 200 KB = 4 chunks: 4 M FIFO publishes x $0.30 = $1.20; payload 1 M x 200 KB = 190.73 GB x $0.017 = $3.24
    publishes, payload = by_name(result, "events").lines
    assert publishes.monthly_usd == pytest.approx(1.20)
    assert payload.quantity == pytest.approx(1_000_000 * 200 / 1024 ** 2)
    assert payload.monthly_usd == pytest.approx(190.7349 * 0.017, abs=1e-4)
    # 65 KB = 2 chunks on a standard topic: 4 M x $0.50 = $2.00
    assert by_name(result, "alerts").monthly_usd == pytest.approx(2.0)


def test_fifo_queue_without_usage_names_the_fifo_rate(preview):
    program = "import pulumi_aws as aws\naws.sqs.Queue('jobs', name='jobs.fifo', fifo_queue=True)\n"
    jobs = by_name(run(preview, program), "jobs")
    assert jobs.status == NEEDS_USAGE and "FIFO" in jobs.note and "$0.5 per million" in jobs.note


def test_launch_configuration_is_free_and_priced_through_its_group(preview):
    program = """
import pulumi_aws as aws
config = aws.ec2.LaunchConfiguration("lc", image_id="ami-1", instance_type="g5.xlarge",
                                     root_block_device={"volume_size": 50, "volume_type": "gp3"})
aws.autoscaling.Group("workers", min_size=2, max_size=4, desired_capacity=2, launch_configuration=config.name)
aws.wafv2.IpSet("ips", scope="REGIONAL", ip_address_version="IPV4", addresses=["10.0.0.0/8"])
aws.wafv2.RegexPatternSet("patterns", scope="REGIONAL", regular_expressions=[{"regex_string": "^bot"}])
aws.wafv2.RuleGroup("group", scope="REGIONAL", capacity=10, visibility_config={
    "cloudwatch_metrics_enabled": False, "metric_name": "g", "sampled_requests_enabled": False})
"""
    result = run(preview, program)
    for name in ("lc", "ips", "patterns", "group"):
        assert by_name(result, name).status == FREE, name
    workers = by_name(result, "workers")
    # 2 x 730 x $1.006 = $1,468.76; 2 x 50 GB x $0.08 = $8.00; monitoring is on by default: 2 x 7 x $0.30 = $4.20
    assert [round(line.monthly_usd, 2) for line in workers.lines] == [1468.76, 8.0, 4.2]
    assert "launch configuration lc" in workers.lines[0].assumption


def test_ebs_io2_tiers_and_magnetic_io(preview):
    program = """
import pulumi_aws as aws
aws.ebs.Volume("fast", availability_zone="us-east-1a", size=500, type="io2", iops=40000)
aws.ebs.Volume("old", availability_zone="us-east-1a", size=100, type="standard")
aws.ebs.Volume("old-busy", availability_zone="us-east-1a", size=100, type="standard")
"""
    result = run(preview, program, {"resources": {"old-busy": {"monthlyIoRequestsMillions": 20}}})
    # 500 GB x $0.125 = $62.50; IOPS 32,000 x $0.065 = $2,080 + 8,000 x $0.0455 = $364
    assert [round(line.monthly_usd, 2) for line in by_name(result, "fast").lines] == [62.5, 2080.0, 364.0]
    old = by_name(result, "old")
    # magnetic: 100 GB x $0.05 = $5.00; the I/O requests need usage ($0.05 per million)
    assert old.monthly_usd == pytest.approx(5.0)
    assert "monthlyIoRequestsMillions" in old.note and "$0.05 per million" in old.note
    # with 20 M requests: + $1.00
    assert by_name(result, "old-busy").monthly_usd == pytest.approx(6.0)
