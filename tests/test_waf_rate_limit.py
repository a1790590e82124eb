"""WafRateLimit: rules, logging, associations, cost, and every bad argument."""
from __future__ import annotations

import json

import pytest

from aifinops.components.waf_rate_limit import (
    DEFAULT_RATE_LIMIT,
    PathRateLimit,
    WafRateLimit,
    WafRateLimitArgs,
    allowed_rate_limits,
)
from aifinops.core.service_prices import service_price
from tests.conftest import only, tagged_config

PROGRAM = """
import pulumi
import pulumi_aws as aws
from aifinops.components.waf_rate_limit import *
from aifinops.components.tagging import register_cost_tags
register_cost_tags(pulumi.Config().require_object("costTags"))
lb = aws.lb.LoadBalancer("alb", load_balancer_type="application", subnets=["subnet-1", "subnet-2"])
waf = WafRateLimit("edge", WafRateLimitArgs({args}))
pulumi.export("monthly", waf.monthly_fixed_usd)
"""
ALB_ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/api/50dc6c495c0c9188"
STAGE_ARN = "arn:aws:apigateway:us-east-1::/restapis/a1b2c3/stages/prod"


def build(preview, args: str = ""):
    graph = preview(PROGRAM.format(args=args), tagged_config())
    return graph, graph.of_type("aws:wafv2/webAcl:WebAcl")[0]


def test_defaults_rate_limit_each_ip_and_enforce_the_managed_rule_groups(preview):
    graph, acl = build(preview)
    assert acl.inputs["scope"] == "REGIONAL" and acl.inputs["defaultAction"] == {"allow": {}}
    rate, common, bad_inputs = acl.inputs["rules"]
    statement = rate["statement"]["rateBasedStatement"]
    assert statement == {"limit": DEFAULT_RATE_LIMIT, "aggregateKeyType": "IP", "evaluationWindowSec": 300}
    assert rate["action"] == {"block": {"customResponse": {"responseCode": 429, "responseHeaders": [
        {"name": "retry-after", "value": "300"}]}}}
    assert [r["priority"] for r in acl.inputs["rules"]] == [0, 1, 2]
    assert common["statement"]["managedRuleGroupStatement"]["name"] == "AWSManagedRulesCommonRuleSet"
    # Prompts and images exceed the Common set's 8 KB body limit: that rule only counts.
    assert common["statement"]["managedRuleGroupStatement"]["ruleActionOverrides"] == [
        {"name": "SizeRestrictions_BODY", "actionToUse": {"count": {}}}]
    assert bad_inputs["statement"]["managedRuleGroupStatement"]["name"] == "AWSManagedRulesKnownBadInputsRuleSet"
    assert not bad_inputs["statement"]["managedRuleGroupStatement"].get("ruleActionOverrides")
    assert {r["overrideAction"]["none"] == {} for r in (common, bad_inputs)} == {True}
    assert acl.inputs["tags"]["CostCenter"] == "ml"
    assert not graph.of_type("aws:wafv2/webAclAssociation:WebAclAssociation")
    expected = service_price("waf", "webAcl").usd + 3 * service_price("waf", "rule").usd
    assert graph.stack_outputs["monthly"] == expected


def test_logs_go_to_a_waf_log_group_with_authorization_redacted(preview):
    graph, acl = build(preview)
    log_group = graph.of_type("aws:cloudwatch/logGroup:LogGroup")[0]
    assert log_group.inputs["name"] == "aws-waf-logs-edge" and log_group.inputs["retentionInDays"] == 30
    key = next(k for k in graph.of_type("aws:kms/key:Key") if k.name == "edge-logs-key")
    assert log_group.inputs["kmsKeyId"] == key.outputs["arn"] and key.inputs["enableKeyRotation"] is True
    logs_statement = json.loads(key.inputs["policy"])["Statement"][1]
    assert logs_statement["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    assert logs_statement["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"] == \
        "arn:aws:logs:us-east-1:123456789012:log-group:aws-waf-logs-edge"
    logging = graph.of_type("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration")[0].inputs
    assert logging["resourceArn"] == acl.outputs["arn"]
    assert logging["logDestinationConfigs"] == [log_group.outputs["arn"]]
    assert logging["redactedFields"] == [{"singleHeader": {"name": "authorization"}},
                                         {"singleHeader": {"name": "x-api-key"}}]


def test_path_limits_are_tighter_and_match_decoded_lowercased_paths(preview):
    _, acl = build(preview, "path_rate_limits=[PathRateLimit('/V1/Infer', 200)], evaluation_window_seconds=60, "
                            "aggregate_by='FORWARDED_IP'")
    path_rule, global_rule = acl.inputs["rules"][:2]
    statement = path_rule["statement"]["rateBasedStatement"]
    assert statement["limit"] == 200 and statement["evaluationWindowSec"] == 60
    match = statement["scopeDownStatement"]["byteMatchStatement"]
    assert match["searchString"] == "/v1/infer" and match["positionalConstraint"] == "STARTS_WITH"
    assert match["fieldToMatch"] == {"uriPath": {}}
    assert [t["type"] for t in match["textTransformations"]] == ["URL_DECODE", "LOWERCASE"]
    assert statement["forwardedIpConfig"] == {"headerName": "X-Forwarded-For", "fallbackBehavior": "MATCH"}
    assert global_rule["statement"]["rateBasedStatement"]["limit"] == DEFAULT_RATE_LIMIT
    assert path_rule["priority"] < global_rule["priority"]


def test_associations_attach_the_acl_to_albs_and_api_stages(preview):
    graph, acl = build(preview, f"associations={{'alb': lb.arn, 'api': '{STAGE_ARN}'}}")
    associations = {a.name: a.inputs for a in graph.of_type("aws:wafv2/webAclAssociation:WebAclAssociation")}
    assert associations["edge-alb"]["resourceArn"] == graph.of_type("aws:lb/loadBalancer:LoadBalancer")[0].outputs["arn"]
    assert associations["edge-api"]["resourceArn"] == STAGE_ARN
    assert {a["webAclArn"] for a in associations.values()} == {acl.outputs["arn"]}


def test_a_given_log_key_is_used_instead_of_a_new_one(preview):
    key_arn = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    graph, _ = build(preview, f"log_kms_key_arn={key_arn!r}")
    assert [k.name for k in graph.of_type("aws:kms/key:Key")] == ["edge-alerts-key"]  # the alarm topic's only
    assert graph.of_type("aws:cloudwatch/logGroup:LogGroup")[0].inputs["kmsKeyId"] == key_arn


def test_every_rule_has_a_blocked_requests_alarm_to_an_encrypted_topic(preview):
    graph, acl = build(preview, "path_rate_limits=[PathRateLimit('/v1/infer', 200)], alert_emails=['oncall@example.com']")
    alarms = {a.name: a.inputs for a in graph.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    rule_names = [r["name"] for r in acl.inputs["rules"]]
    assert set(alarms) == {f"{rule}-blocked" for rule in rule_names} == {
        "edge-path-0-blocked", "edge-per-ip-blocked", "edge-common-blocked", "edge-known-bad-inputs-blocked"}
    per_ip = alarms["edge-per-ip-blocked"]
    assert (per_ip["namespace"], per_ip["metricName"]) == ("AWS/WAFV2", "BlockedRequests")
    # The dimensions are the metric names WAF reports under: the web ACL's and the rule's visibility configs.
    assert per_ip["dimensions"] == {"WebACL": acl.inputs["visibilityConfig"]["metricName"],
                                    "Rule": acl.inputs["rules"][1]["visibilityConfig"]["metricName"],
                                    "Region": "us-east-1"}
    assert (per_ip["statistic"], per_ip["period"], per_ip["threshold"]) == ("Sum", 300, 1000)
    topic = only(graph, "aws:sns/topic:Topic")
    assert per_ip["alarmActions"] == [topic.outputs["arn"]] and topic.inputs["kmsMasterKeyId"]
    assert only(graph, "aws:sns/topicSubscription:TopicSubscription").inputs["endpoint"] == "oncall@example.com"


def test_cloudfront_alarms_have_no_region_and_alarms_can_go_elsewhere_or_be_off(preview):
    topic = "arn:aws:sns:us-east-1:123456789012:edge-oncall"
    graph, _ = build(preview, f"scope='CLOUDFRONT', alarm_topic_arn={topic!r}, blocked_requests_alarm_threshold=50")
    alarms = graph.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert {tuple(sorted(a.inputs["dimensions"])) for a in alarms} == {("Rule", "WebACL")}
    assert {a.inputs["threshold"] for a in alarms} == {50} and not graph.of_type("aws:sns/topic:Topic")
    assert {tuple(a.inputs["alarmActions"]) for a in alarms} == {(topic,)}
    graph, _ = build(preview, "blocked_requests_alarm_threshold=None")
    assert not graph.of_type("aws:cloudwatch/metricAlarm:MetricAlarm") and not graph.of_type("aws:sns/topic:Topic")


def test_count_mode_observes_without_blocking(preview):
    _, acl = build(preview, "rate_limit_action='COUNT'")
    assert acl.inputs["rules"][0]["action"] == {"count": {}}


def test_the_allowed_range_is_read_from_aws_api_model():
    assert allowed_rate_limits() == (10, 2_000_000_000)  # botocore's wafv2 RateLimit shape


@pytest.mark.parametrize("kwargs, message", [
    (dict(scope="GLOBAL"), "scope: expected one of 'REGIONAL', 'CLOUDFRONT', got 'GLOBAL'"),
    (dict(rate_limit=9), "rate_limit: expected a whole number from 10 to 2000000000 requests per evaluation window, got 9"),
    (dict(rate_limit=2_000_000_001), "rate_limit: expected a whole number from 10 to 2000000000"),
    (dict(rate_limit=100.5), "rate_limit: expected a whole number"),
    (dict(evaluation_window_seconds=30), "evaluation_window_seconds: expected one of 60, 120, 300, 600, got 30"),
    (dict(path_rate_limits="/v1/infer"), "path_rate_limits: expected a list of PathRateLimit"),
    (dict(path_rate_limits=[{"path": "/v1"}]), r"path_rate_limits\[0\]: expected PathRateLimit"),
    (dict(path_rate_limits=[PathRateLimit("v1/infer", 100)]), r"path_rate_limits\[0\].path: expected a URL path"),
    (dict(path_rate_limits=[PathRateLimit("/v1", 100, "CONTAINS")]), r"path_rate_limits\[0\].match: expected one of"),
    (dict(path_rate_limits=[PathRateLimit("/v1", 5)]), r"path_rate_limits\[0\].limit: expected a whole number from 10"),
    (dict(path_rate_limits=[PathRateLimit("/v1", 1000)]), r"path_rate_limits\[0\].limit: 1000 is not below rate_limit"),
    (dict(path_rate_limits=[PathRateLimit("/v1", 100), PathRateLimit("/V1", 50)]),
     r"path_rate_limits\[1\].path: '/V1' is limited twice"),
    (dict(aggregate_by="HEADER"), "aggregate_by: expected one of 'IP', 'FORWARDED_IP'"),
    (dict(rate_limit_action="ALLOW"), "rate_limit_action: expected one of 'BLOCK', 'COUNT'"),
    (dict(common_rules_count_only="SizeRestrictions_BODY"), "common_rules_count_only: expected a list"),
    (dict(associations={"API": ALB_ARN}), "associations: label 'API' must be lowercase"),
    (dict(associations={"alb": "arn:aws:ec2:us-east-1:123456789012:instance/i-1"}),
     "associations.alb: expected an Application Load Balancer ARN"),
    (dict(associations={"alb": "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/n/1"}),
     "associations.alb: expected an Application Load Balancer ARN"),
    (dict(scope="CLOUDFRONT", associations={"alb": ALB_ARN}), "associations: a CLOUDFRONT web ACL is attached by"),
    (dict(log_retention_days=10), "log_retention_days: expected one of CloudWatch's retention periods"),
    (dict(extra_redacted_headers=["x api key"]), "extra_redacted_headers: expected HTTP header names"),
    (dict(tags={"Team": None}), "tags: expected a mapping of string tag keys"),
    (dict(blocked_requests_alarm_threshold=0), "blocked_requests_alarm_threshold: expected a whole number of at least 1"),
    (dict(alarm_topic_arn="arn:aws:sqs:us-east-1:123456789012:q"), "alarm_topic_arn: expected an ARN of the sns"),
    (dict(alarm_topic_arn="arn:aws:sns:us-east-1:123456789012:t", alert_emails=["a@example.com"]),
     "alert_emails: subscribed only to the component's own alarm topic"),
])
def test_bad_arguments_fail_before_anything_is_registered(kwargs, message):
    with pytest.raises(ValueError, match=message):
        WafRateLimit("edge", WafRateLimitArgs(**kwargs))


@pytest.mark.parametrize("name", ["edge acl", "x" * 101])
def test_the_name_must_fit_waf_and_log_group_names(name):
    with pytest.raises(ValueError, match="name: expected 1 to 100 letters, digits"):
        WafRateLimit(name)


def test_args_must_be_waf_rate_limit_args():
    with pytest.raises(ValueError, match="args: expected WafRateLimitArgs, got dict"):
        WafRateLimit("edge", {"rate_limit": 100})  # type: ignore[arg-type]
