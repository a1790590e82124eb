"""GpuInstance: secure defaults, spot, the AMI lookup, prices, and every bad argument."""
from __future__ import annotations

import json

import pytest

from aifinops.components.gpu_instance import GpuInstance, GpuInstanceArgs, SpotOptions
from aifinops.core import catalog
from aifinops.core.errors import ProgramError
from tests.conftest import tagged_config


# This module reads what components render from ids and ARNs (IAM and resource policies, references),
# so the `preview` fixture gives AWS-shaped values here, as `aifinops preview --mock-outputs` does.
PREVIEW_MOCK_OUTPUTS = True


PROGRAM = """
import pulumi
from aifinops.components.gpu_instance import GpuInstance, GpuInstanceArgs, SpotOptions
from aifinops.components.tagging import register_cost_tags
register_cost_tags(pulumi.Config().require_object("costTags"))
box = GpuInstance("box", GpuInstanceArgs({args}))
pulumi.export("hourly", box.hourly_price_usd)
pulumi.export("arn", box.arn)
"""


def build(preview, args: str):
    graph = preview(PROGRAM.format(args=args), tagged_config())
    instance = graph.of_type("aws:ec2/instance:Instance")[0]
    return graph, instance.inputs


def test_defaults_are_secure_and_tagged(preview):
    graph, inputs = build(preview, "instance_type='g5.xlarge'")
    assert inputs["instanceType"] == "g5.xlarge"
    assert inputs["metadataOptions"]["httpTokens"] == "required"
    assert inputs["rootBlockDevice"] == {"volumeType": "gp3", "volumeSize": 200, "encrypted": True,
                                         "deleteOnTermination": True}
    assert inputs["monitoring"] is True and inputs["associatePublicIpAddress"] is False
    assert "instanceMarketOptions" not in inputs
    assert inputs["tags"]["CostCenter"] == "ml" and inputs["tags"]["Name"] == "box"
    assert inputs["ami"].startswith("ami-")
    component = graph.of_type("aifinops:compute:GpuInstance")[0]
    assert component.outputs["hourlyPriceUsd"] == catalog.on_demand_price("g5.xlarge")
    assert graph.stack_outputs["arn"].startswith("arn:aws:ec2:us-east-1:123456789012:instance/i-")


def test_instance_profile_grants_ssm_and_the_agent_only_without_a_checkpoint_bucket(preview):
    graph, inputs = build(preview, "instance_type='g5.xlarge'")
    attachments = graph.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert sorted(a.inputs["policyArn"] for a in attachments) == [
        "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore", "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"]
    assert not graph.of_type("aws:iam/rolePolicy:RolePolicy")
    profile = graph.of_type("aws:iam/instanceProfile:InstanceProfile")[0]
    assert inputs["iamInstanceProfile"] == profile.outputs["name"]
    trust = json.loads(graph.of_type("aws:iam/role:Role")[0].inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}


def test_checkpoint_bucket_access_is_limited_to_the_prefix(preview):
    graph, _ = build(preview, "instance_type='g5.xlarge', checkpoint_bucket_arn='arn:aws:s3:::ckpt'")
    policy = json.loads(graph.of_type("aws:iam/rolePolicy:RolePolicy")[0].inputs["policy"])
    resources = {s["Resource"] for s in policy["Statement"]}
    assert resources == {"arn:aws:s3:::ckpt", "arn:aws:s3:::ckpt/checkpoints/*"}
    assert not any("*" == a or a == "s3:*" for s in policy["Statement"] for a in [s["Action"]] if isinstance(a, str))


def test_spot_sets_persistent_request_max_price_and_interruption_behaviour(preview):
    graph, inputs = build(preview, "instance_type='p4d.24xlarge', spot=SpotOptions(max_price_fraction=0.5)")
    market = inputs["instanceMarketOptions"]
    on_demand = catalog.on_demand_price("p4d.24xlarge")
    assert market["marketType"] == "spot"
    assert market["spotOptions"] == {"spotInstanceType": "persistent", "instanceInterruptionBehavior": "stop",
                                     "maxPrice": f"{on_demand * 0.5:.4f}"}
    expected = round(min(on_demand * (1 - catalog.spot_discount("p4d.24xlarge")), on_demand * 0.5), 4)
    assert graph.of_type("aifinops:compute:GpuInstance")[0].outputs["hourlyPriceUsd"] == expected


def test_hibernate_sets_hibernation(preview):
    _, inputs = build(preview, "instance_type='g5.xlarge', "
                               "spot=SpotOptions(interruption_behavior='hibernate'), root_volume_gb=64")
    assert inputs["hibernation"] is True
    assert inputs["instanceMarketOptions"]["spotOptions"]["instanceInterruptionBehavior"] == "hibernate"


def test_neuron_types_get_the_neuron_deep_learning_ami(preview):
    graph, inputs = build(preview, "instance_type='trn1.2xlarge'")
    assert inputs["instanceType"] == "trn1.2xlarge"
    # The AMI is looked up, not hard-coded: an override wins.
    _, overridden = build(preview, "instance_type='trn1.2xlarge', ami_id='ami-0123456789abcdef0'")
    assert overridden["ami"] == "ami-0123456789abcdef0" != inputs["ami"]


@pytest.mark.parametrize("kwargs, message", [
    (dict(instance_type="m5.large"), "instance_type: 'm5.large' is not an accelerated"),
    (dict(instance_type=""), "instance_type: expected an accelerated EC2 instance type"),
    (dict(instance_type="g5.xlarge", root_volume_gb=4), "root_volume_gb: expected a whole number from 8 to 16384 GB, got 4"),
    (dict(instance_type="g5.xlarge", root_volume_gb=float("nan")),
     "root_volume_gb: expected a whole number from 8 to 16384 GB, got nan"),
    (dict(instance_type="g5.xlarge", root_volume_gb=float("inf")),
     "root_volume_gb: expected a whole number from 8 to 16384 GB, got inf"),
    (dict(instance_type="g5.xlarge", root_volume_gb=20.5), "root_volume_gb: expected a whole number"),
    (dict(instance_type="g5.xlarge", spot=SpotOptions(max_price_fraction=1.5)),
     r"spot.max_price_fraction: expected a fraction of the on-demand price in \(0, 1\], got 1.5"),
    (dict(instance_type="g5.xlarge", spot=SpotOptions(max_price_fraction=0)), "spot.max_price_fraction"),
    (dict(instance_type="g5.xlarge", spot=SpotOptions(interruption_behavior="terminate")),
     "spot.interruption_behavior: expected 'stop' or 'hibernate', got 'terminate'"),
    (dict(instance_type="g5.xlarge", spot={"max_price_fraction": 0.5}), "spot: expected SpotOptions"),
    (dict(instance_type="p4d.24xlarge", spot=SpotOptions(interruption_behavior="hibernate")),
     "root_volume_gb: hibernation writes RAM"),
    (dict(instance_type="g5.xlarge", tags={"Team": 3}), "tags: expected a mapping of string tag keys"),
    (dict(instance_type="g5.xlarge", checkpoint_prefix="ckpt"), "checkpoint_prefix: expected a key prefix ending in '/'"),
])
def test_bad_arguments_fail_before_anything_is_registered(kwargs, message):
    # Raised in the constructor, before ComponentResource.__init__: no runtime is needed to see it.
    with pytest.raises(ValueError, match=message):
        GpuInstance("bad", GpuInstanceArgs(**kwargs))


def test_a_bad_argument_in_a_program_registers_nothing_and_names_the_line(preview):
    with pytest.raises(ProgramError, match=r"stacks/__main__.py:6: ValueError: instance_type: 'c5.large'"):
        preview(PROGRAM.format(args="instance_type='c5.large'"), tagged_config())
