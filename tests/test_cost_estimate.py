"""The cost estimator against hand-worked cases: the working is in each test, from the vendored prices."""
from __future__ import annotations

import pytest

from aifinops.core.estimate import FREE, NEEDS_USAGE, PRICED, UNPRICED, UsageError, estimate, parse_usage
from aifinops.core.estimate.infracost_json import estimate_document
from aifinops.cost_estimate import cost_views
from tests.conftest import tagged_config

# Prices used below (aifinops/core/data/*.json): g5.xlarge $1.006/h, p4d.24xlarge $21.958/h (spot 60% off),
# g6e.xlarge $1.861/h (60% off), gp3 $0.08/GB-month, detailed monitoring 7 metrics x $0.30,
# S3 STANDARD 0.023, STANDARD_IA 0.0125, GLACIER_IR 0.004 per GB-month, 30-day months in the S3 model,
# transitions to IA $0.01 and to GLACIER_IR $0.02 per 1,000 objects; WAF $5/ACL, $1/rule, $0.60/M requests.


def run(preview, program: str, usage: dict | None = None, extra: dict | None = None):
    graph = preview(program, tagged_config(extra))
    return estimate(cost_views(graph), parse_usage(usage, "test") if usage else None, stack=graph.stack)


def by_name(result, name: str):
    return next(r for r in result.resources if r.name == name)


ON_DEMAND_INSTANCE = """
import pulumi_aws as aws
aws.ec2.Instance("box", instance_type="g5.xlarge", ami="ami-1", monitoring=True,
                 root_block_device={"volume_type": "gp3", "volume_size": 200})
"""


def test_on_demand_instance_all_month(preview):
    box = by_name(run(preview, ON_DEMAND_INSTANCE), "box")
    # 730 h x $1.006 = $734.38; 200 GB x $0.08 = $16.00; 7 metrics x $0.30 = $2.10
    assert [round(line.monthly_usd, 2) for line in box.lines] == [734.38, 16.0, 2.1]
    assert round(box.monthly_usd, 2) == 752.48
    assert box.naive_monthly_usd == box.monthly_usd  # already on demand
    assert all(line.source and line.as_of for line in box.lines)


SPOT_INSTANCE = """
import pulumi_aws as aws
aws.ec2.Instance("trainer", instance_type="p4d.24xlarge", ami="ami-1",
                 root_block_device={"volume_type": "gp3", "volume_size": 100},
                 instance_market_options={"market_type": "spot", "spot_options": {"max_price": "21.958"}})
"""


def test_spot_instance_with_usage_hours(preview):
    trainer = by_name(run(preview, SPOT_INSTANCE, {"resources": {"trainer": {"monthlyHours": 200}}}), "trainer")
    spot, volume = trainer.lines
    # spot: 21.958 x (1 - 0.6) = $8.7832/h x 200 h = $1,756.64; the volume is kept all month: 100 x 0.08 = $8
    assert spot.unit_usd == pytest.approx(8.7832)
    assert spot.monthly_usd == pytest.approx(1756.64)
    assert volume.monthly_usd == pytest.approx(8.0)
    # naive: on demand for the same 200 h: 21.958 x 200 = $4,391.60, plus the same volume
    assert trainer.naive_monthly_usd == pytest.approx(4391.60 + 8.0)


def test_spot_discount_override_from_usage(preview):
    usage = {"spotDiscounts": {"p4d": 0.7}, "resources": {"trainer": {"monthlyHours": 100}}}
    spot = by_name(run(preview, SPOT_INSTANCE, usage), "trainer").lines[0]
    assert spot.monthly_usd == pytest.approx(21.958 * 0.3 * 100)  # 70% off instead of the catalog's 60%


MIXED_GROUP = """
import pulumi_aws as aws
template = aws.ec2.LaunchTemplate("tmpl", image_id="ami-1", instance_type="g6e.xlarge")
aws.autoscaling.Group("fleet", min_size=0, max_size=8, desired_capacity=4,
    mixed_instances_policy={
        "launch_template": {"launch_template_specification": {"launch_template_id": template.id},
                            "overrides": [{"instance_type": "g6e.xlarge"}]},
        "instances_distribution": {"on_demand_base_capacity": 1,
                                   "on_demand_percentage_above_base_capacity": 50}})
"""


def test_auto_scaling_group_mix(preview):
    fleet = by_name(run(preview, MIXED_GROUP), "fleet")
    on_demand, spot = fleet.lines
    # 4 instances: base 1 on demand, then 50% of the other 3 -> 2.5 on demand, 1.5 spot, 730 h each
    assert on_demand.quantity == pytest.approx(2.5 * 730)
    assert on_demand.monthly_usd == pytest.approx(2.5 * 730 * 1.861)
    assert spot.monthly_usd == pytest.approx(1.5 * 730 * 1.861 * 0.4)
    assert "desiredCapacity" in on_demand.assumption
    assert fleet.naive_monthly_usd == pytest.approx(4 * 730 * 1.861)


RESERVED = """
import pulumi_aws as aws
reservation = aws.ec2.CapacityReservation("baseline", instance_type="g5.xlarge", instance_count=2,
                                          instance_platform="Linux/UNIX", availability_zone="us-east-1a")
template = aws.ec2.LaunchTemplate("tmpl", image_id="ami-1", instance_type="g5.xlarge",
    capacity_reservation_specification={"capacity_reservation_target": {"capacity_reservation_id": reservation.id}})
aws.autoscaling.Group("serve", min_size=3, max_size=3, launch_template={"id": template.id})
"""


def test_capacity_reservation_pays_for_the_instances_in_it(preview):
    result = run(preview, RESERVED)
    # The reservation: 2 x 730 h x $1.006 = $1,468.76, billed whether used or not.
    assert by_name(result, "baseline").monthly_usd == pytest.approx(2 * 730 * 1.006)
    serve = by_name(result, "serve")
    # The group runs 3 on demand (minSize): 2 inside the reservation (priced there), 1 outside.
    assert serve.monthly_usd == pytest.approx(1 * 730 * 1.006)
    assert any("capacity reservation baseline" in line.description and line.unit_usd == 0 for line in serve.lines)


TIERED_BUCKET = """
import pulumi_aws as aws
bucket = aws.s3.Bucket("data")
aws.s3.BucketLifecycleConfiguration("data-lifecycle", bucket=bucket.id, rules=[{
    "id": "tiers", "status": "Enabled", "filter": {"prefix": ""},
    "transitions": [{"days": 30, "storage_class": "STANDARD_IA"}, {"days": 90, "storage_class": "GLACIER_IR"},
                    {"days": 365, "storage_class": "DEEP_ARCHIVE"}]}])
aws.s3.Bucket("expiring", bucket="expiring-bucket")
aws.s3.BucketLifecycleConfiguration("expiring-lifecycle", bucket="expiring-bucket", rules=[{
    "id": "expire", "status": "Enabled", "expiration": {"days": 30}}])
"""


def test_lifecycle_steady_state(preview):
    usage = {"resources": {"data": {"storageGb": 3650, "monthlyGrowthGb": 300}}}
    data = by_name(run(preview, TIERED_BUCKET, usage), "data")
    # 3,650 GB at 300 GB/month: data written steadily over 12.17 months (365 days).
    # GB in a class = 300 x days spent there / 30: STANDARD 0-30 -> 300, STANDARD_IA 30-90 -> 600,
    # GLACIER_IR 90-365 -> 2,750; nothing has reached DEEP_ARCHIVE yet.
    storage = {line.description: line.quantity for line in data.lines if line.unit == "GB-months"}
    assert storage == pytest.approx({"bucket: STANDARD": 300, "bucket: STANDARD_IA": 600, "bucket: GLACIER_IR": 2750})
    # $6.90 + $7.50 + $11.00 = $25.40, plus transitions: 64 MB objects -> 16 per GB; each GB pays
    # 16 x $0.01/1000 (to IA) + 16 x $0.02/1000 (to GLACIER_IR) = $0.00048 x 300 GB = $0.144
    assert data.monthly_usd == pytest.approx(25.40 + 0.144)
    # naive: all 3,650 GB in STANDARD = $83.95
    assert data.naive_monthly_usd == pytest.approx(3650 * 0.023)


def test_expiration_bounds_the_stock(preview):
    usage = {"resources": {"expiring": {"storageGb": 1000, "monthlyGrowthGb": 100}}}
    expiring = by_name(run(preview, TIERED_BUCKET, usage), "expiring")
    # expiring after 30 days keeps one month of writes: 100 GB in STANDARD = $2.30; naive keeps all 1,000 GB
    assert expiring.monthly_usd == pytest.approx(100 * 0.023)
    assert expiring.naive_monthly_usd == pytest.approx(1000 * 0.023)


def test_prefix_usage_follows_the_prefix_rule(preview):
    program = """
import pulumi_aws as aws
bucket = aws.s3.Bucket("ckpt")
aws.s3.BucketLifecycleConfiguration("ckpt-lifecycle", bucket=bucket.id, rules=[{
    "id": "old-checkpoints", "status": "Enabled", "filter": {"prefix": "checkpoints/"}, "expiration": {"days": 15}}])
"""
    usage = {"resources": {"ckpt": {"storageGb": 600, "monthlyGrowthGb": 100,
                                    "prefixes": {"checkpoints/": {"storageGb": 500, "monthlyGrowthGb": 1000}}}}}
    ckpt = by_name(run(preview, program, usage), "ckpt")
    gb = {line.description: line.quantity for line in ckpt.lines}
    # checkpoints/: 1,000 GB/month kept 15 days -> 500 GB; the rest of the bucket has no rule -> 600 GB
    assert gb == pytest.approx({"'checkpoints/': STANDARD": 500, "rest of bucket: STANDARD": 600})


def test_bucket_without_usage_needs_usage_and_is_not_counted(preview):
    result = run(preview, TIERED_BUCKET)
    data = by_name(result, "data")
    assert data.status == NEEDS_USAGE and "storageGb" in data.note
    assert data not in result.priced
    assert estimate_document(result)["needsUsage"][0]["name"] in {"data", "expiring"}


def test_unpriced_resources_are_listed_never_zero(preview):
    program = """
import pulumi_aws as aws
aws.redshift.Cluster("db", cluster_identifier="db", node_type="ra3.xlplus", master_username="u",
                     manage_master_password=True)
aws.ec2.Instance("odd", instance_type="x2gd.large", ami="ami-1")
aws.iam.Role("role", assume_role_policy="{}")
"""
    result = run(preview, program)
    db, odd, role = by_name(result, "db"), by_name(result, "odd"), by_name(result, "role")
    assert db.status == UNPRICED and "no price model for aws:redshift/cluster:Cluster" in db.note
    assert odd.status == UNPRICED and "x2gd.large" in odd.note and "catalog refresh" in odd.note
    assert role.status == FREE
    assert result.monthly_usd == 0 and not result.priced
    assert {u["name"] for u in estimate_document(result)["unpriced"]} == {"db", "odd"}


def test_waf_shield_and_action_enabled_budgets(preview):
    program = """
import pulumi_aws as aws
aws.wafv2.WebAcl("acl", scope="REGIONAL", default_action={"allow": {}},
    visibility_config={"cloudwatch_metrics_enabled": True, "metric_name": "acl", "sampled_requests_enabled": True},
    rules=[{"name": f"r{i}", "priority": i, "action": {"block": {}},
            "statement": {"rate_based_statement": {"limit": 1000, "aggregate_key_type": "IP"}},
            "visibility_config": {"cloudwatch_metrics_enabled": True, "metric_name": f"r{i}",
                                  "sampled_requests_enabled": True}} for i in range(3)])
aws.shield.Subscription("shield", auto_renew="ENABLED")
for i in range(3):
    budget = aws.budgets.Budget(f"b{i}", name=f"b{i}", budget_type="COST", time_unit="MONTHLY",
                                limit_amount="100", limit_unit="USD")
    aws.budgets.BudgetAction(f"b{i}-action", budget_name=budget.name, action_type="APPLY_IAM_POLICY",
        approval_model="AUTOMATIC", notification_type="ACTUAL", execution_role_arn="arn:aws:iam::1:role/r",
        action_threshold={"action_threshold_type": "PERCENTAGE", "action_threshold_value": 100},
        definition={"iam_action_definition": {"policy_arn": "arn:aws:iam::1:policy/p", "roles": ["r"]}},
        subscribers=[{"address": "a@example.com", "subscription_type": "EMAIL"}])
"""
    result = run(preview, program, {"resources": {"acl": {"monthlyRequestsMillions": 10}}})
    # WAF: $5 + 3 rules x $1 + 10 M requests x $0.60 = $14
    assert by_name(result, "acl").monthly_usd == pytest.approx(14.0)
    assert by_name(result, "shield").monthly_usd == pytest.approx(3000.0)
    # 3 action-enabled budgets x 30.42 days = 91.25 budget-days; 62 free -> 29.25 x $0.10 = $2.925
    budgets = sum(by_name(result, f"b{i}").monthly_usd for i in range(3))
    assert budgets == pytest.approx((3 * 730 / 24 - 62) * 0.10)


def test_backup_plan_warm_and_cold(preview):
    program = """
import pulumi_aws as aws
aws.backup.Plan("plan", rules=[
    {"rule_name": "daily", "target_vault_name": "v", "schedule": "cron(0 5 ? * * *)",
     "lifecycle": {"delete_after": 30}},
    {"rule_name": "weekly", "target_vault_name": "v", "schedule": "cron(0 5 ? * SUN *)",
     "lifecycle": {"cold_storage_after": 30, "delete_after": 120}}])
"""
    plan = by_name(run(preview, program, {"resources": {"plan": {"protectedGb": 1000, "dailyChangePercent": 1}}}), "plan")
    warm, cold = plan.lines
    # one full copy 1,000 GB; daily: 30 points x 1% x 1,000 = 300 GB; weekly: 30/7 warm points x 7% x 1,000
    # = 300 GB warm, and (120 - 30)/7 = 12.86 cold points, each a full 1,000 GB copy
    assert warm.quantity == pytest.approx(1000 + 300 + 300)
    assert cold.quantity == pytest.approx(90 / 7 * 1000)
    assert plan.monthly_usd == pytest.approx(1600 * 0.05 + 90 / 7 * 1000 * 0.01)


def test_tag_and_component_rollups(preview):
    program = """
import pulumi
import pulumi_aws as aws
class Box(pulumi.ComponentResource):
    def __init__(self, name, team):
        super().__init__("test:index:Box", name)
        aws.ec2.Instance(name, instance_type="g5.xlarge", ami="ami-1", tags={"Team": team},
                         root_block_device={"volume_size": 10, "volume_type": "gp3"},
                         opts=pulumi.ResourceOptions(parent=self))
Box("a", "red"); Box("b", "red"); Box("c", "blue")
"""
    graph = preview(program, tagged_config())
    result = estimate(cost_views(graph), cost_tag_keys=["Team"])
    each = 730 * 1.006 + 10 * 0.08
    assert result.by_tag("Team") == pytest.approx({"red": 2 * each, "blue": each})
    assert {c.name: c.monthly_usd for c in result.by_component()} == pytest.approx({"a": each, "b": each, "c": each})


@pytest.mark.parametrize("raw, expected", [
    ({"resources": {"x": {"storageGB": 1}}}, "storageGB"),
    ({"resources": {"x": {"monthlyHours": 800}}}, "800"),
    ({"spotDiscounts": {"p4d": 1.5}}, "1.5"),
    ({"resource": {}}, "resource"),
])
def test_usage_errors_name_the_problem(raw, expected):
    with pytest.raises(UsageError, match=expected):
        parse_usage(raw, "usage.yaml")


def test_usage_for_unknown_resource_is_a_warning(preview):
    result = run(preview, ON_DEMAND_INSTANCE, {"resources": {"bxo": {"monthlyHours": 1}}})
    assert any("'bxo' matches no resource" in w for w in result.warnings)
    assert by_name(result, "box").status == PRICED


def test_ec2_fleet_and_eks_node_group(preview):
    program = """
import pulumi_aws as aws
template = aws.ec2.LaunchTemplate("tmpl", image_id="ami-1", instance_type="g5.xlarge")
aws.ec2.Fleet("burst", type="maintain",
    launch_template_configs=[{"launch_template_specification": {"launch_template_id": template.id, "version": "1"},
                              "overrides": [{"instance_type": "g5.xlarge"}, {"instance_type": "g6.xlarge"}]}],
    target_capacity_specification={"total_target_capacity": 4, "on_demand_target_capacity": 1,
                                   "default_target_capacity_type": "spot"})
aws.eks.NodeGroup("nodes", cluster_name="c", node_role_arn="arn:aws:iam::1:role/n", subnet_ids=["s"],
                  instance_types=["g6.xlarge"], capacity_type="SPOT",
                  scaling_config={"desired_size": 2, "min_size": 0, "max_size": 3})
"""
    result = run(preview, program)
    on_demand, spot = by_name(result, "burst").lines
    # 1 on demand at the first type: 730 x $1.006; 3 spot at the mean of g5 (65% off) and g6 (65% off)
    assert on_demand.monthly_usd == pytest.approx(730 * 1.006)
    assert spot.unit_usd == pytest.approx((1.006 * 0.35 + 0.8048 * 0.35) / 2, abs=1e-6)
    assert spot.quantity == 3 * 730
    nodes = by_name(result, "nodes")
    # 2 spot nodes x 730 h x 0.8048 x 0.35, plus each node's 20 GB gp3 disk: 2 x 20 x $0.08
    assert nodes.monthly_usd == pytest.approx(2 * 730 * 0.8048 * 0.35 + 2 * 20 * 0.08)


def test_queue_requests_are_priced_from_usage_or_listed_as_needing_it(preview):
    program = "import pulumi_aws as aws\naws.sqs.Queue('jobs')\naws.sqs.Queue('dlq')\n"
    result = run(preview, program, {"version": 1, "resources": {"jobs": {"monthlyRequestsMillions": 30}}})
    jobs, dlq = by_name(result, "jobs"), by_name(result, "dlq")
    # 30 million requests x $0.40 per million = $12.00.
    assert jobs.status == PRICED and jobs.monthly_usd == pytest.approx(12.00)
    assert "sqs/pricing" in jobs.lines[0].source
    assert dlq.status == NEEDS_USAGE and "monthlyRequestsMillions" in dlq.note
