"""ShieldProtection: protections, group, health checks, the opt-in subscription, and every bad argument."""
from __future__ import annotations


import pytest

import json

from aifinops.components.shield_protection import (
    EmergencyContact,
    ProtectionGroupOptions,
    ShieldProtection,
    ShieldProtectionArgs,
)
from aifinops.core.service_prices import service_price
from tests.conftest import tagged_config


# This module reads what components render from ids and ARNs (IAM and resource policies, references),
# so the `preview` fixture gives AWS-shaped values here, as `aifinops preview --mock-outputs` does.
PREVIEW_MOCK_OUTPUTS = True


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


def test_every_resource_has_a_ddos_alarm_to_an_encrypted_topic(preview):
    graph = build(preview, f"resources={{'alb': lb.arn, 'eip': '{EIP}'}}, alert_emails=['oncall@example.com']")
    (topic,) = graph.of_type("aws:sns/topic:Topic")
    key = next(k for k in graph.of_type("aws:kms/key:Key") if k.name == "shield-alerts-key")
    assert topic.inputs["kmsMasterKeyId"] == key.outputs["arn"]
    assert json.loads(key.inputs["policy"])["Statement"][1]["Principal"] == {"Service": ["cloudwatch.amazonaws.com"]}
    alarms = {a.name: a.inputs for a in graph.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert set(alarms) == {"shield-alb-ddos-detected", "shield-eip-ddos-detected"}
    eip = alarms["shield-eip-ddos-detected"]
    assert (eip["namespace"], eip["metricName"], eip["dimensions"]) == ("AWS/DDoSProtection", "DDoSDetected",
                                                                         {"ResourceArn": EIP})
    assert (eip["statistic"], eip["period"], eip["threshold"], eip["comparisonOperator"]) == \
        ("Sum", 60, 1, "GreaterThanOrEqualToThreshold")
    assert eip["alarmActions"] == eip["okActions"] == [topic.outputs["arn"]]  # OK too: the response restores on it
    assert eip["treatMissingData"] == "notBreaching" and eip["actionsEnabled"] is True
    alb_arn = graph.of_type("aws:lb/loadBalancer:LoadBalancer")[0].outputs["arn"]
    assert alarms["shield-alb-ddos-detected"]["dimensions"] == {"ResourceArn": alb_arn}
    (subscription,) = graph.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert subscription.inputs["endpoint"] == "oncall@example.com"
    assert not graph.of_type("aws:shield/proactiveEngagement:ProactiveEngagement")
    assert not graph.of_type("aws:shield/drtAccessRoleArnAssociation:DrtAccessRoleArnAssociation")


def test_attack_volume_alarms_fit_the_resource_kind(preview):
    graph = build(preview, f"resources={{'cdn': '{CLOUDFRONT}', 'eip': '{EIP}'}}, attack_volume_alarms=True")
    names = {a.name for a in graph.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert names == {"shield-cdn-ddos-detected", "shield-cdn-bits-per-second", "shield-cdn-packets-per-second",
                     "shield-cdn-requests-per-second", "shield-eip-ddos-detected", "shield-eip-bits-per-second",
                     "shield-eip-packets-per-second"}  # no layer-7 requests on an Elastic IP


def test_no_alarms_when_turned_off(preview):
    graph = build(preview, f"resources={{'eip': '{EIP}'}}, ddos_alarms=False")
    assert not graph.of_type("aws:cloudwatch/metricAlarm:MetricAlarm") and not graph.of_type("aws:sns/topic:Topic")


def test_proactive_engagement_and_drt_access_when_asked(preview):
    graph = build(preview, f"resources={{'eip': '{EIP}'}}, drt_access=True, emergency_contacts=["
                           f"EmergencyContact('soc@example.com', '+15555550100', 'SOC, 24x7'), "
                           f"EmergencyContact('ml-oncall@example.com')]")
    (engagement,) = graph.of_type("aws:shield/proactiveEngagement:ProactiveEngagement")
    assert engagement.inputs["enabled"] is True
    assert [c["emailAddress"] for c in engagement.inputs["emergencyContacts"]] == ["soc@example.com",
                                                                                   "ml-oncall@example.com"]
    assert engagement.inputs["emergencyContacts"][0]["phoneNumber"] == "+15555550100"
    role = next(r for r in graph.of_type("aws:iam/role:Role") if r.name == "shield-drt-access")
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == \
        {"Service": "drt.shield.amazonaws.com"}
    (attachment,) = graph.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert attachment.inputs["policyArn"] == "arn:aws:iam::aws:policy/service-role/AWSShieldDRTAccessPolicy"
    (association,) = graph.of_type("aws:shield/drtAccessRoleArnAssociation:DrtAccessRoleArnAssociation")
    assert association.inputs["roleArn"] == role.outputs["arn"]


@pytest.mark.parametrize("kwargs, message", [
    (dict(resources={"alb": ALB}, emergency_contacts=[EmergencyContact("soc@example.com")]),
     "emergency_contacts: Shield proactive engagement needs at least one contact with a phone number"),
    (dict(resources={"alb": ALB}, emergency_contacts=[EmergencyContact("soc@example.com", "555-0100")]),
     r"emergency_contacts\[0\].phone_number: expected an E.164 number"),
    (dict(resources={"alb": ALB}, emergency_contacts=["soc@example.com"]), r"emergency_contacts\[0\]: expected EmergencyContact"),
    (dict(resources={"alb": ALB}, alert_emails=["not-an-email"]), r"alert_emails\[0\]: expected an email address"),
    (dict(resources={"alb": ALB}, ddos_alarms=False, attack_volume_alarms=True), "attack_volume_alarms: needs ddos_alarms"),
    (dict(resources={"alb": ALB}, drt_access="yes"), "drt_access: expected true or false"),
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
