"""monthly-cost-within-budget and budget-required-for-gpu-spend, through the real Analyzer gRPC path."""
from __future__ import annotations

import pytest

from tests.conftest import tagged_config

GPU_UNDER_BUDGET = """
import pulumi
import pulumi_aws as aws
from aifinops.components.tagging import register_cost_tags
register_cost_tags(pulumi.Config().require_object("costTags"))
from aifinops.components.cost_budget import CostBudget, CostBudgetArgs
aws.ec2.Instance("box", instance_type="g5.xlarge", ami="ami-1",
                 root_block_device={{"volume_type": "gp3", "volume_size": 100}})
aws.ec2.Instance("trainer", instance_type="p4d.24xlarge", ami="ami-1",
                 instance_market_options={{"market_type": "spot"}})
CostBudget("team", CostBudgetArgs(amount_usd={amount}, tag_filters={{"Project": "test"}}, emails=["a@example.com"]))
"""
# Under the Project=test budget: box 730 h x $1.006 = $734.38 + 100 GB x $0.08 = $8.00, and the trainer at
# 100 h of spot: $21.958 x 0.4 x 100 = $878.32 + its 8 GB default root volume at gp2 $0.10 = $0.80; the KMS key
# of the budget's topic $1, and the topic at the ceiling CostBudget declares for it (1,000 publishes x $0.50 per
# million = $0.0005): $1,622.50 in all.
COVERED = 734.38 + 8.0 + 878.32 + 0.80 + 1.0
USAGE = {"resources": {"trainer": {"monthlyHours": 100}}}


def check(check_policies, amount: float, policy_config: dict):
    return check_policies(GPU_UNDER_BUDGET.format(amount=amount), tagged_config(),
                          policy_config={"monthly-cost-within-budget": {"usage": USAGE, **policy_config}})


def test_within_budget_passes(check_policies):
    result = check(check_policies, 1700, {})
    assert result.of("monthly-cost-within-budget") == []
    assert result.of("budget-required-for-gpu-spend") == []


def test_over_budget_fails_with_both_numbers_and_top_drivers(check_policies):
    result = check(check_policies, 1000, {})
    (violation,) = result.of("monthly-cost-within-budget")
    assert violation.enforcement_level == "mandatory"
    assert result.names("monthly-cost-within-budget") == {"team"}  # reported on the budget
    assert f"estimated monthly cost ${COVERED:,.2f} of Project = test exceeds budget 'team' $1,000.00" in violation.detail
    assert "top cost drivers: trainer (Instance) $879.12, box (Instance) $742.38, team-alerts-key (Key) $1.00" \
        in violation.detail
    assert "could not be priced" not in violation.detail  # the topic's usage is declared by CostBudget


def test_headroom_turns_a_near_miss_into_a_failure(check_policies):
    assert check(check_policies, 1700, {"headroomPercent": 10}).names("monthly-cost-within-budget") == {"team"}
    message = check(check_policies, 1700, {"headroomPercent": 10}).messages("monthly-cost-within-budget")[0]
    assert "less 10% headroom = $1,530.00" in message


def test_usage_from_stack_config_is_used_in_the_pack(check_policies):
    # No policy usage: the pack reads costUsage from the stack config (PULUMI_CONFIG). Without the 100 h
    # usage the trainer runs all month: 730 x 8.7832 = $6,411.74 -> over a $2,000 budget.
    program = GPU_UNDER_BUDGET.format(amount=2000)
    result = check_policies(program, tagged_config({"costUsage": {"resources": {"trainer": {"monthlyHours": 10}}}},
                                                   project="budgetusage"), project="budgetusage")
    assert result.of("monthly-cost-within-budget") == []
    result = check_policies(program, tagged_config(project="budgetnousage"), project="budgetnousage")
    assert result.names("monthly-cost-within-budget") == {"team"}


GPU_WITHOUT_BUDGET = """
import pulumi_aws as aws
template = aws.ec2.LaunchTemplate("tmpl", image_id="ami-1", instance_type="g6e.xlarge")
aws.autoscaling.Group("fleet", min_size=0, max_size=2, launch_template={"id": template.id},
                      tags=[{"key": "Project", "value": "test", "propagate_at_launch": True}])
aws.ec2.Instance("cpu", instance_type="m5.large", ami="ami-1")
aws.budgets.Budget("other-team", budget_type="COST", time_unit="MONTHLY", limit_amount="100", limit_unit="USD",
                   cost_filters=[{"name": "TagKeyValue", "values": ["user:Project$other"]}])
"""


def test_gpu_capacity_without_a_covering_budget_fails(check_policies):
    result = check_policies(GPU_WITHOUT_BUDGET, tagged_config())
    assert result.names("budget-required-for-gpu-spend") == {"fleet"}  # not the CPU box, not the template
    (message,) = result.messages("budget-required-for-gpu-spend")
    assert "creates accelerated capacity (g6e.xlarge)" in message
    assert "'other-team' covers Project = other" in message


def test_an_account_wide_or_matching_budget_covers_gpu_capacity(check_policies):
    covered = GPU_WITHOUT_BUDGET.replace('"user:Project$other"', '"user:Project$test"')
    assert check_policies(covered, tagged_config()).of("budget-required-for-gpu-spend") == []
    service_only = GPU_WITHOUT_BUDGET.replace(
        '[{"name": "TagKeyValue", "values": ["user:Project$other"]}]',
        '[{"name": "Service", "values": ["Amazon Simple Storage Service"]}]')
    # a budget on S3 spend does not watch GPU spend
    assert check_policies(service_only, tagged_config()).names("budget-required-for-gpu-spend") == {"fleet"}


# -- issue 13: the budget gate fails closed ------------------------------------------------------------
UNPRICED_UNDER_BUDGET = """
import pulumi_aws as aws
aws.ec2.Instance("b200", instance_type="p6-b200.48xlarge", ami="ami-1", tags={"Project": "test"})
aws.budgets.Budget("small", budget_type="COST", time_unit="MONTHLY", limit_amount="100", limit_unit="USD",
                   cost_filters=[{"name": "TagKeyValue", "values": ["user:Project$test"]}])
"""
APPROVE_B200 = {"approved-gpu-instance-types": {"approvedInstanceTypes": ["p6-b200.48xlarge"]}}


def test_an_unpriced_resource_under_a_budget_makes_it_unprovable(check_policies):
    """An approved p6-b200.48xlarge (no price in the table) under a $100 budget no longer passes."""
    from aifinops.core import catalog

    assert catalog.on_demand_price("p6-b200.48xlarge") is None
    result = check_policies(UNPRICED_UNDER_BUDGET, tagged_config(), APPROVE_B200)
    assert result.of("approved-gpu-instance-types") == []
    assert result.of("monthly-cost-within-budget") == []  # the priced sum ($0 of compute) is under $100
    (violation,) = result.of("monthly-cost-fully-priced")
    assert violation.is_mandatory and result.names("monthly-cost-fully-priced") == {"small"}
    assert "budget 'small' ($100.00, Project = test) cannot be proven" in violation.detail
    assert "b200 (aws:ec2/instance:Instance, unpriced: " in violation.detail and "p6-b200.48xlarge" in violation.detail


def test_the_unprovable_budget_can_be_made_advisory_in_the_pack_config(check_policies):
    result = check_policies(UNPRICED_UNDER_BUDGET, tagged_config(),
                            {**APPROVE_B200, "monthly-cost-fully-priced": "advisory"})
    (violation,) = result.of("monthly-cost-fully-priced")
    assert not violation.is_mandatory and violation in result.advisory


def test_resources_outside_the_budget_filters_do_not_make_it_unprovable(check_policies):
    other = UNPRICED_UNDER_BUDGET.replace('tags={"Project": "test"}', 'tags={"Project": "other"}')
    assert check_policies(other, tagged_config(), APPROVE_B200).of("monthly-cost-fully-priced") == []


REGIONAL_BUDGET = """
import pulumi_aws as aws
aws.ec2.Instance("box", instance_type="g5.xlarge", ami="ami-1")
aws.budgets.Budget("regional", budget_type="COST", time_unit="MONTHLY", limit_amount="100", limit_unit="USD",
                   cost_filters=[{{"name": "Region", "values": ["{region}"]}}{extra}])
"""


def test_a_region_filtered_budget_is_charged_only_with_its_region(check_policies):
    """g5.xlarge all month is $734.38 + its 8 GB gp2 root volume $0.80: over a $100 budget on us-east-1,
    outside one on eu-west-1 (issue 13: it used to be charged there), unless its provider deploys there."""
    elsewhere = check_policies(REGIONAL_BUDGET.format(region="eu-west-1", extra=""), tagged_config())
    assert elsewhere.of("monthly-cost-within-budget") == []
    here = check_policies(REGIONAL_BUDGET.format(region="us-east-1", extra=""), tagged_config())
    (violation,) = here.of("monthly-cost-within-budget")
    assert "$735.18 of region us-east-1 exceeds budget 'regional' $100.00" in violation.detail
    assert "not evaluated" not in violation.detail
    in_ireland = REGIONAL_BUDGET.format(region="eu-west-1", extra="").replace(
        'ami="ami-1")', 'ami="ami-1", opts=pulumi.ResourceOptions(provider=aws.Provider("eu", region="eu-west-1")))')
    result = check_policies("import pulumi\n" + in_ireland, tagged_config())
    assert "of region eu-west-1 exceeds budget 'regional'" in result.messages("monthly-cost-within-budget")[0]


def test_filters_that_cannot_be_evaluated_are_named(check_policies):
    extra = ', {"name": "UsageType", "values": ["USE1-BoxUsage:g5.xlarge"]}, {"name": "LinkedAccount", ' \
            '"values": ["123456789012"]}'
    result = check_policies(REGIONAL_BUDGET.format(region="us-east-1", extra=extra), tagged_config())
    (violation,) = result.of("monthly-cost-within-budget")
    assert ("filters not evaluated, every resource counted as matching them: UsageType, LinkedAccount"
            in violation.detail)


def test_a_linked_account_filter_is_evaluated_from_the_provider():
    """A provider that pins its account (allowedAccountIds, or an assumed role) answers LinkedAccount."""
    from aifinops.core.estimate import CostResource, estimate
    from aifinops.core.estimate.budgets import covered_resources, read_budgets, unevaluated_filters

    def instance(name: str, provider: dict) -> CostResource:
        return CostResource(urn=f"urn:{name}", type="aws:ec2/instance:Instance", name=name, custom=True,
                            props={"instanceType": "g5.xlarge", "ami": "ami-1"}, provider_props=provider)

    budget = CostResource(urn="urn:b", type="aws:budgets/budget:Budget", name="b", custom=True, props={
        "budgetType": "COST", "timeUnit": "MONTHLY", "limitAmount": "100", "limitUnit": "USD",
        "costFilters": [{"name": "LinkedAccount", "values": ["111111111111"]}]})
    views = [instance("ours", {"allowedAccountIds": '["111111111111"]'}),
             instance("theirs", {"assumeRoles": [{"roleArn": "arn:aws:iam::222222222222:role/deploy"}]}),
             instance("unpinned", {}), budget]
    result = estimate(views)
    assert {r.name: r.account for r in result.resources if r.type.endswith("Instance")} == {
        "ours": "111111111111", "theirs": "222222222222", "unpinned": ""}
    (scope,) = read_budgets(views)
    covered = [r.name for r, _ in covered_resources(scope, result)]
    assert sorted(covered) == ["ours", "unpinned"]  # "theirs" is billed to another account
    assert unevaluated_filters(scope, [r for r in result.resources if r.name == "unpinned"]) == ["LinkedAccount"]
    assert unevaluated_filters(scope, [r for r in result.resources if r.name == "ours"]) == []


def test_gpu_capacity_judged_by_family_or_watched_by_an_unevaluable_budget_needs_a_budget(check_policies):
    """A p7 the catalog does not list is accelerated capacity too; a budget whose LinkedAccount filter cannot be
    evaluated (the provider pins no account) does not prove it is watched."""
    program = """
import pulumi_aws as aws
aws.ec2.Instance("next-gen", instance_type="p7.48xlarge", ami="ami-1", tags={"Project": "test"})
aws.budgets.Budget("by-account", budget_type="COST", time_unit="MONTHLY", limit_amount="100", limit_unit="USD",
                   cost_filters=[{"name": "LinkedAccount", "values": ["123456789012"]}])
"""
    result = check_policies(program, tagged_config(), {"approved-gpu-instance-types": {
        "approvedInstanceTypes": ["p7.48xlarge"]}})
    (message,) = result.messages("budget-required-for-gpu-spend")
    assert "creates accelerated capacity (p7.48xlarge)" in message
    assert "'by-account' covers account 123456789012 (filters not evaluated offline: LinkedAccount)" in message
    pinned = program.replace('tags={"Project": "test"})', 'tags={"Project": "test"}, opts=pulumi.ResourceOptions('
                             'provider=aws.Provider("prod", allowed_account_ids=["123456789012"])))')
    result = check_policies("import pulumi\n" + pinned, tagged_config(), {"approved-gpu-instance-types": {
        "approvedInstanceTypes": ["p7.48xlarge"]}})
    assert result.of("budget-required-for-gpu-spend") == []


# A g5.xlarge group at 1 desired of 4: $734.38 at desired, 4 x 730 h x $1.006 = $2,937.52 at maximum.
SCALING_GROUP = """
import pulumi
import pulumi_aws as aws
from aifinops.components.tagging import register_cost_tags
register_cost_tags(pulumi.Config().require_object("costTags"))
template = aws.ec2.LaunchTemplate("lt", instance_type="g5.xlarge", image_id="ami-1")
aws.autoscaling.Group("asg", min_size=1, max_size=4, desired_capacity=1, availability_zones=["us-east-1a"],
                      launch_template={"id": template.id, "version": "$Latest"})
aws.budgets.Budget("team", budget_type="COST", limit_amount="2000", limit_unit="USD", time_unit="MONTHLY")
"""


def test_the_budget_gate_prices_scaling_groups_at_their_maximum_when_configured(check_policies):
    at_desired = check_policies(SCALING_GROUP, tagged_config(), mock_outputs=True)
    assert at_desired.of("monthly-cost-within-budget") == []
    at_maximum = check_policies(SCALING_GROUP, tagged_config(), mock_outputs=True,
                                policy_config={"monthly-cost-within-budget": {"size": "maximum"}})
    (message,) = at_maximum.messages("monthly-cost-within-budget")
    assert "estimated monthly cost at maximum size $2,937.52" in message and "budget 'team' $2,000.00" in message


UNBOUNDED_POOL = """
import pulumi_aws as aws
import pulumi_kubernetes as k8s
k8s.apiextensions.CustomResource("pool", api_version="karpenter.sh/v1", kind="NodePool", metadata={"name": "pool"},
    spec={"template": {"spec": {"requirements": [
        {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["g5.xlarge"]}]}}})
aws.budgets.Budget("team", budget_type="COST", limit_amount="2000", limit_unit="USD", time_unit="MONTHLY")
"""


def test_a_node_pool_without_a_maximum_cannot_be_proven_within_budget_at_maximum(check_policies):
    result = check_policies(UNBOUNDED_POOL, tagged_config(), mock_outputs=True,
                            policy_config={"monthly-cost-within-budget": {"size": "maximum"}})
    (message,) = result.messages("monthly-cost-within-budget")
    assert "cannot be proven at maximum size: pool has no maximum size" in message


def test_a_priced_node_pool_falls_under_an_account_wide_budget():
    from aifinops.core.estimate.budgets import BudgetScope
    from aifinops.core.estimate.model import PRICED, PriceLine, ResourceCost
    line = PriceLine("g5.xlarge spot", 730, "instance-hours", 0.4, "Amazon Elastic Compute Cloud", "test", "2026-11")
    pool = ResourceCost("urn:pool", "kubernetes:karpenter.sh/v1:NodePool", "pool", PRICED, [line], None, "",
                        "llm", "", {})
    scope = BudgetScope("urn:b", "b", 1000.0, {}, None, [])
    assert scope.covers(pool) and scope.covered_usd(pool) == pytest.approx(line.monthly_usd)
    unpriced_config_map = ResourceCost("urn:cm", "kubernetes:core/v1:ConfigMap", "cm", "unpriced", [], None, "",
                                       "llm", "", {})
    assert not scope.covers(unpriced_config_map)


ALERT_TOPICS = """
import pulumi
import pulumi_aws as aws
from aifinops.components.tagging import register_cost_tags
register_cost_tags(pulumi.Config().require_object("costTags"))
from aifinops.components.alert_topic import AlertTopic, AlertTopicArgs
from aifinops.components.cost_budget import CostBudget, CostBudgetArgs
CostBudget("team", CostBudgetArgs(amount_usd=100, emails=["a@example.com"]))
AlertTopic("oncall", AlertTopicArgs(emails=["a@example.com", "b@example.com"]))
{extra}
"""


def test_our_alert_topics_declare_their_usage_so_a_budget_over_them_can_be_proven(check_policies, preview):
    from aifinops.core.estimate import estimate
    from aifinops.cost_estimate import cost_views

    result = check_policies(ALERT_TOPICS.format(extra=""), tagged_config())
    assert result.of("monthly-cost-fully-priced") == [] and result.of("monthly-cost-within-budget") == []
    graph = preview(ALERT_TOPICS.format(extra=""), tagged_config())
    topics = {r.name: r for r in estimate(cost_views(graph)).resources if r.type == "aws:sns/topic:Topic"}
    assert {name: r.status for name, r in topics.items()} == {"team-alerts": "priced", "oncall-alerts": "priced"}
    (publishes, emails) = topics["oncall-alerts"].lines
    # 1,000 publishes, each to 2 emails: 2,000 deliveries = 0.02 x 100k at $2.00 per 100k
    assert (publishes.quantity, emails.quantity) == (1000 / 1e6, 2000 / 1e5)
    assert "declared by its component" in publishes.assumption
    (budget_publishes,) = topics["team-alerts"].lines  # the budget's topic has no email subscription
    assert budget_publishes.quantity == 1000 / 1e6


def test_a_topic_no_component_declares_still_needs_usage_under_a_budget(check_policies):
    result = check_policies(ALERT_TOPICS.format(extra='aws.sns.Topic("mine")'), tagged_config())
    (violation,) = result.of("monthly-cost-fully-priced")
    assert "mine (aws:sns/topic:Topic, needs-usage" in violation.detail
    assert "team-alerts" not in violation.detail and "oncall-alerts" not in violation.detail


def test_the_usage_file_wins_over_what_a_component_declares(preview):
    from aifinops.core.estimate import estimate, parse_usage
    from aifinops.cost_estimate import cost_views

    graph = preview(ALERT_TOPICS.format(extra=""), tagged_config())
    usage = parse_usage({"resources": {"oncall-alerts": {"monthlyPublishes": 5_000_000}}}, "test")
    (topic,) = [r for r in estimate(cost_views(graph), usage).resources
                if r.name == "oncall-alerts" and r.type == "aws:sns/topic:Topic"]
    (publishes,) = topic.lines
    assert publishes.quantity == 5.0 and "usage file" in publishes.assumption


def test_a_declaration_that_is_not_valid_usage_is_ignored_and_the_topic_still_needs_usage(preview):
    from aifinops.core.estimate import estimate
    from aifinops.cost_estimate import cost_views

    program = """
import pulumi, pulumi_aws as aws
class Alerts(pulumi.ComponentResource):
    def __init__(self, name, publishes):
        super().__init__("test:index:Alerts", name)
        aws.sns.Topic(f"{name}-alerts", opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({"declaredUsage": {f"{name}-alerts": {"monthlyPublishes": publishes}}})
Alerts("bad", "lots")
Alerts("negative", -5)
Alerts("good", 10)
"""
    graph = preview(program, tagged_config())
    status = {r.name: r.status for r in estimate(cost_views(graph)).resources if r.type == "aws:sns/topic:Topic"}
    assert status == {"bad-alerts": "needs-usage", "negative-alerts": "needs-usage", "good-alerts": "priced"}
