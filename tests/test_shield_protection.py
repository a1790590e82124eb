"""ShieldProtection: protections, group, health checks, the opt-in subscription, and every bad argument."""
from __future__ import annotations

import functools

import pytest

from aifinops.components.shield_protection import ProtectionGroupOptions, ShieldProtection, ShieldProtectionArgs
from aifinops.core.service_prices import service_price
from tests.conftest import tagged_config


@pytest.fixture
def preview(preview):
    """This module reads what components render from ids and ARNs (IAM and resource policies, references),
    so it previews with AWS-shaped values, as `aifinops preview --mock-outputs` does."""
    return functools.partial(preview, mock_outputs=True)


PROGRAM = """
import pulumi
import pulumi_aws as aws
from aifinops.components.shield_protection import *
from aifinops.components.tagging import register_cost_tags
register_cost_tags(pulumi.Config().require_object("costTags"))
lb = aws.lb.LoadBalancer("alb", load_balancer_type="application", subnets=["subnet-1", "subnet-2"])
shield = ShieldProtection("shield", ShieldProtectionArgs({args}))
pulumi.export("subscription", shield.subscription_monthly_usd)
"""
ALB = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/api/50dc6c495c0c9188"
EIP = "arn:aws:ec2:us-east-1:123456789012:eip-allocation/eipalloc-0123456789abcdef0"
CLOUDFRONT = "arn:aws:cloudfront::123456789012:distribution/E2EXAMPLE"
ACCELERATOR = "arn:aws:globalaccelerator::123456789012:accelerator/1234abcd-abcd-1234-abcd-1234abcdefgh"
HEALTH_CHECK = "arn:aws:route53:::healthcheck/abcdef11-2222-3333-4444-555555fedcba"


def build(preview, args: str):
    return preview(PROGRAM.format(args=args), tagged_config())


def test_one_protection_per_resource_and_no_subscription_by_default(preview):
    graph = build(preview, f"resources={{'alb': lb.arn, 'eip': '{EIP}', 'cdn': '{CLOUDFRONT}', 'ga': '{ACCELERATOR}'}}")
    protections = {p.name: p.inputs for p in graph.of_type("aws:shield/protection:Protection")}
    assert set(protections) == {"shield-alb", "shield-eip", "shield-cdn", "shield-ga"}
    assert protections["shield-alb"]["resourceArn"] == graph.of_type("aws:lb/loadBalancer:LoadBalancer")[0].outputs["arn"]
    assert protections["shield-eip"]["resourceArn"] == EIP
    assert protections["shield-cdn"]["tags"]["CostCenter"] == "ml"
    assert not graph.of_type("aws:shield/subscription:Subscription")  # $3,000/month: only when asked
    assert not graph.of_type("aws:shield/protectionGroup:ProtectionGroup")
    assert graph.stack_outputs["subscription"] == 0


def test_subscription_group_and_health_check_when_asked(preview):
    graph = build(preview, f"resources={{'alb': lb.arn, 'eip': '{EIP}'}}, create_subscription=True, "
                           f"protection_group=ProtectionGroupOptions(aggregation='SUM'), "
                           f"health_check_arns={{'alb': '{HEALTH_CHECK}'}}")
    (subscription,) = graph.of_type("aws:shield/subscription:Subscription")
    assert subscription.inputs["autoRenew"] == "ENABLED"
    protections = graph.of_type("aws:shield/protection:Protection")
    assert all(subscription.urn in p.dependencies for p in protections)  # protections need the subscription
    (group,) = graph.of_type("aws:shield/protectionGroup:ProtectionGroup")
    assert group.inputs["aggregation"] == "SUM" and group.inputs["pattern"] == "ARBITRARY"
    assert set(group.inputs["members"]) == {p.inputs["resourceArn"] for p in protections}
    (association,) = graph.of_type("aws:shield/protectionHealthCheckAssociation:ProtectionHealthCheckAssociation")
    alb_protection = next(p for p in protections if p.name == "shield-alb")
    assert association.inputs == {"healthCheckArn": HEALTH_CHECK, "shieldProtectionId": alb_protection.id}
    assert graph.stack_outputs["subscription"] == service_price("shield", "advancedSubscription").usd == 3000


@pytest.mark.parametrize("kwargs, message", [
    (dict(resources={}), "resources: expected a mapping of labels to values with at least 1 entry"),
    (dict(resources=[ALB]), "resources: expected a mapping"),
    (dict(resources={"my alb": ALB}), "resources: label 'my alb' must be lowercase"),
    (dict(resources={"alb": ""}), "resources.alb: expected a string or an Output"),
    (dict(resources={"nlb": "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/n/1"}),
     "resources.nlb: Shield Advanced does not protect a Network Load Balancer directly"),
    (dict(resources={"bucket": "arn:aws:s3:::data"}), "resources.bucket: expected the ARN of one of: Application Load Balancer, CloudFront"),
    (dict(resources={"alb": ALB}, protection_group="MAX"), "protection_group: expected ProtectionGroupOptions"),
    (dict(resources={"alb": ALB}, protection_group=ProtectionGroupOptions("MIN")),
     "protection_group.aggregation: expected one of 'MAX', 'SUM', 'MEAN', got 'MIN'"),
    (dict(resources={"alb": ALB}, health_check_arns={"eip": HEALTH_CHECK}), "health_check_arns.eip: no resource labelled"),
    (dict(resources={"alb": ALB}, health_check_arns={"alb": "hc-1"}), "health_check_arns.alb: expected a Route 53"),
    (dict(resources={"alb": ALB}, create_subscription="yes"), "create_subscription: expected true or false"),
    (dict(resources={"alb": ALB}, tags=["a"]), "tags: expected a mapping"),
])
def test_bad_arguments_fail_before_anything_is_registered(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ShieldProtection("shield", ShieldProtectionArgs(**kwargs))


def test_a_group_needs_a_name_that_is_a_valid_group_id():
    with pytest.raises(ValueError, match="name: expected 1 to 36 letters, digits and '-'"):
        ShieldProtection("inference_edge", ShieldProtectionArgs(resources={"alb": ALB},
                                                               protection_group=ProtectionGroupOptions()))


def test_args_must_be_shield_protection_args():
    with pytest.raises(ValueError, match="args: expected ShieldProtectionArgs, got dict"):
        ShieldProtection("shield", {"resources": {"alb": ALB}})  # type: ignore[arg-type]
