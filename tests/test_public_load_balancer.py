"""PublicLoadBalancer: HTTPS-only, VPC-only egress, deletion protection, and every bad argument."""
from __future__ import annotations


import pytest

from aifinops.components.public_load_balancer import PublicLoadBalancer, PublicLoadBalancerArgs
from tests.conftest import tagged_config


# This module reads what components render from ids and ARNs (IAM and resource policies, references),
# so the `preview` fixture gives AWS-shaped values here, as `aifinops preview --mock-outputs` does.
PREVIEW_MOCK_OUTPUTS = True


PROGRAM = """
import pulumi
from aifinops.components.public_load_balancer import *
from aifinops.components.tagging import register_cost_tags
register_cost_tags(pulumi.Config().require_object("costTags"))
lb = PublicLoadBalancer("edge", PublicLoadBalancerArgs({args}))
pulumi.export("arn", lb.arn)
"""


def build(preview, args: str = ""):
    graph = preview(PROGRAM.format(args=args), tagged_config())
    (alb,) = graph.of_type("aws:lb/loadBalancer:LoadBalancer")
    (group,) = graph.of_type("aws:ec2/securityGroup:SecurityGroup")
    return graph, alb.inputs, group


def test_defaults_https_in_from_anyone_out_to_the_vpc_only(preview):
    graph, alb, group = build(preview)
    assert alb["loadBalancerType"] == "application" and alb["internal"] is False
    assert alb["dropInvalidHeaderFields"] is True and alb["enableDeletionProtection"] is True
    assert alb["idleTimeout"] == 120 and "accessLogs" not in alb
    assert alb["securityGroups"] == [group.id]
    assert len(alb["subnets"]) == 3  # the default VPC's
    (ingress,) = group.inputs["ingress"]
    assert (ingress["fromPort"], ingress["toPort"], ingress["cidrBlocks"]) == (443, 443, ["0.0.0.0/0"])
    (egress,) = group.inputs["egress"]
    assert egress["cidrBlocks"] == ["172.31.0.0/16"]  # the VPC, not the internet
    assert alb["tags"]["CostCenter"] == "ml"
    assert graph.stack_outputs["arn"].startswith("arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/")


def test_own_vpc_cidrs_and_access_logs(preview):
    _, alb, group = build(preview, "subnet_ids=['subnet-a', 'subnet-b'], vpc_id='vpc-0123456789abcdef0', "
                                   "allowed_cidrs=['203.0.113.0/24'], access_logs_bucket='alb-logs'")
    assert alb["subnets"] == ["subnet-a", "subnet-b"] and group.inputs["vpcId"] == "vpc-0123456789abcdef0"
    assert group.inputs["ingress"][0]["cidrBlocks"] == ["203.0.113.0/24"]
    assert alb["accessLogs"] == {"bucket": "alb-logs", "prefix": "edge", "enabled": True}


@pytest.mark.parametrize("kwargs, message", [
    (dict(subnet_ids=["subnet-a", "subnet-b"]), "subnet_ids / vpc_id: give both or neither"),
    (dict(vpc_id="vpc-1"), "subnet_ids / vpc_id: give both or neither"),
    (dict(subnet_ids=["subnet-a"], vpc_id="vpc-1"), "subnet_ids: an Application Load Balancer needs subnets in at least two"),
    (dict(allowed_cidrs=[]), "allowed_cidrs: expected a list of non-empty strings with at least 1"),
    (dict(allowed_cidrs=["10.0.0.300/8"]), r"allowed_cidrs\[0\]: expected a CIDR block"),
    (dict(idle_timeout_seconds=0), "idle_timeout_seconds: expected a whole number from 1 to 4000"),
    (dict(deletion_protection="on"), "deletion_protection: expected true or false"),
    (dict(access_logs_bucket="Logs Bucket"), "access_logs_bucket: expected an S3 bucket name"),
    (dict(tags={"a": 1}), "tags: expected a mapping of string tag keys"),
])
def test_bad_arguments_fail_before_anything_is_registered(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PublicLoadBalancer("edge", PublicLoadBalancerArgs(**kwargs))


def test_args_must_be_public_load_balancer_args():
    with pytest.raises(ValueError, match="args: expected PublicLoadBalancerArgs, got dict"):
        PublicLoadBalancer("edge", {})  # type: ignore[arg-type]
