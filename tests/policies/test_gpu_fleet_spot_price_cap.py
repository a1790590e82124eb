"""gpu-fleet-spot-price-cap through the real Analyzer gRPC path."""
from __future__ import annotations

import pytest

from aifinops.core import catalog
from aifinops.engine import UNKNOWN

POLICY = "gpu-fleet-spot-price-cap"
CONFIG = {"aws:region": "us-east-1"}
G5, G6 = catalog.on_demand_price("g5.xlarge"), catalog.on_demand_price("g6.xlarge")

ASG = """
import pulumi_aws as aws
lt = aws.ec2.LaunchTemplate("lt", image_id="ami-0123456789abcdef0")
aws.autoscaling.Group("asg", min_size=0, max_size=2, vpc_zone_identifiers=["subnet-1"],
    mixed_instances_policy={{
        "instances_distribution": {{"spot_max_price": "{price}", "spot_allocation_strategy": "price-capacity-optimized"}},
        "launch_template": {{"launch_template_specification": {{"launch_template_id": lt.id}},
                            "overrides": [{{"instance_type": "g5.xlarge"}}, {{"instance_type": "g6.xlarge"}}]}}}})
"""


def test_a_group_price_above_the_cheapest_types_on_demand_price_fails(check_policies):
    # Above g6.xlarge's on-demand price, below g5.xlarge's: one price covers both types, so it fails.
    price = round((G5 + G6) / 2, 4)
    result = check_policies(ASG.format(price=price), CONFIG)
    assert result.names(POLICY) == {"asg"}
    (message,) = result.messages(POLICY)
    assert f"spot max price {price} USD/h at mixedInstancesPolicy.instancesDistribution.spotMaxPrice" in message
    assert f"on-demand price of g6.xlarge ({G6} USD/h)" in message
    assert all(v.enforcement_level == "mandatory" for v in result.of(POLICY))


def test_a_group_price_at_or_below_on_demand_passes(check_policies):
    assert check_policies(ASG.format(price=G6), CONFIG).of(POLICY) == []


def test_gpu_fleet_and_spot_gpu_instance_pass(check_policies):
    program = """
import pulumi
from aifinops.components.gpu_fleet import GpuFleet, GpuFleetArgs
from aifinops.components.gpu_instance import GpuInstance, GpuInstanceArgs, SpotOptions
GpuFleet("fleet", GpuFleetArgs(instance_types=["g5.xlarge", "g6.xlarge"], spot_max_price_usd=0.8))
GpuInstance("box", GpuInstanceArgs(instance_type="g5.xlarge", spot=SpotOptions(max_price_fraction=1.0)))
"""
    result = check_policies(program, CONFIG)
    assert result.of(POLICY) == []
    assert result.graph.of_type("aws:autoscaling/group:Group")[0].inputs["mixedInstancesPolicy"][
        "instancesDistribution"]["spotMaxPrice"] == "0.8000"


@pytest.mark.parametrize("resource, path", [
    ('aws.ec2.Instance("res", ami="ami-1", instance_type="g5.xlarge", '
     'instance_market_options={"market_type": "spot", "spot_options": {"max_price": "9.99"}})',
     "instanceMarketOptions.spotOptions.maxPrice"),
    ('aws.ec2.LaunchTemplate("res", instance_type="g5.xlarge", '
     'instance_market_options={"market_type": "spot", "spot_options": {"max_price": "9.99"}})',
     "instanceMarketOptions.spotOptions.maxPrice"),
    ('aws.ec2.SpotInstanceRequest("res", ami="ami-1", instance_type="g5.xlarge", spot_price="9.99")', "spotPrice"),
    ('aws.ec2.SpotFleetRequest("res", iam_fleet_role="arn:aws:iam::123456789012:role/fleet", target_capacity=1, '
     'launch_specifications=[{"ami": "ami-1", "instance_type": "g5.xlarge", "spot_price": "9.99"}])',
     "launchSpecifications[0].spotPrice"),
    ('aws.ec2.Fleet("res", target_capacity_specification={"default_target_capacity_type": "spot", '
     '"total_target_capacity": 1}, launch_template_configs=[{"launch_template_specification": '
     '{"launch_template_id": "lt-1", "version": "1"}, "overrides": [{"instance_type": "g5.xlarge", "max_price": "9.99"}]}])',
     "launchTemplateConfigs[0].overrides[0].maxPrice"),
])
def test_every_place_a_spot_price_is_set_is_checked(check_policies, resource, path):
    result = check_policies(f"import pulumi_aws as aws\n{resource}\n", CONFIG)
    assert result.names(POLICY) == {"res"}
    assert f"at {path} is above the on-demand price of g5.xlarge" in result.messages(POLICY)[0]


def test_max_fraction_of_on_demand_lowers_the_cap(check_policies):
    program = ('import pulumi_aws as aws\naws.ec2.SpotInstanceRequest("req", ami="ami-1", instance_type="g5.xlarge", '
               f'spot_price="{round(G5 * 0.6, 4)}")\n')
    assert check_policies(program, CONFIG).of(POLICY) == []
    result = check_policies(program, CONFIG, policy_config={POLICY: {"maxFractionOfOnDemand": 0.5}})
    assert result.names(POLICY) == {"req"}
    assert f"x 0.5 = {round(G5 * 0.5, 4)}" in result.messages(POLICY)[0]


def test_types_without_a_catalog_price_and_unknown_prices_pass(check_policies):
    assert catalog.on_demand_price("g5g.xlarge") is None
    program = """
import pulumi_aws as aws
aws.ec2.SpotInstanceRequest("unpriced", ami="ami-1", instance_type="g5g.xlarge", spot_price="50")
lt = aws.ec2.LaunchTemplate("lt", image_id="ami-1")
# latest_version is computed by AWS, so this price is unknown during preview
aws.ec2.SpotInstanceRequest("later", ami="ami-1", instance_type="g5.xlarge", spot_price=lt.latest_version.apply(str))
"""
    result = check_policies(program, CONFIG)
    assert result.of(POLICY) == []
    assert result.graph.of_type("aws:ec2/spotInstanceRequest:SpotInstanceRequest")[1].inputs["spotPrice"] == UNKNOWN


def test_any_priced_type_is_capped_not_only_accelerated_ones(check_policies):
    program = 'import pulumi_aws as aws\naws.ec2.SpotInstanceRequest("cpu", ami="ami-1", instance_type="m5.large", spot_price="50")\n'
    assert check_policies(program, CONFIG).names(POLICY) == {"cpu"}
