"""public-endpoints-rate-limited (a stack policy) through the real Analyzer gRPC path."""
from __future__ import annotations

import pytest

from aifinops.core.values import UNKNOWN_STRING_VALUE

POLICY = "public-endpoints-rate-limited"
CONFIG = {"aws:region": "us-east-1"}

HEADER = """
import pulumi
import pulumi_aws as aws
from aifinops.components.waf_rate_limit import WafRateLimit, WafRateLimitArgs, PathRateLimit
def alb(name, **kw):
    return aws.lb.LoadBalancer(name, load_balancer_type="application", subnets=["subnet-1", "subnet-2"], **kw)
VISIBILITY = {"cloudwatch_metrics_enabled": True, "metric_name": "m", "sampled_requests_enabled": True}
def acl(name, rules):
    return aws.wafv2.WebAcl(name, scope="REGIONAL", default_action={"allow": {}}, rules=rules,
                            visibility_config=VISIBILITY)
def rate_rule(action):
    return {"name": "rate", "priority": 0, "action": action, "visibility_config": VISIBILITY,
            "statement": {"rate_based_statement": {"limit": 500, "aggregate_key_type": "IP"}}}
MANAGED = {"name": "common", "priority": 1, "override_action": {"none": {}}, "visibility_config": VISIBILITY,
           "statement": {"managed_rule_group_statement": {"vendor_name": "AWS", "name": "AWSManagedRulesCommonRuleSet"}}}
"""


def check(check_policies, body: str, policy_config=None):
    return check_policies(HEADER + body, CONFIG, policy_config=policy_config)


def test_an_unprotected_internet_facing_alb_fails_on_its_own_urn(check_policies):
    result = check(check_policies, 'lb = alb("public")\nalb("private", internal=True)\n'
                                   'aws.lb.LoadBalancer("nlb", load_balancer_type="network", subnets=["subnet-1"])\n')
    assert result.names(POLICY) == {"public"}
    (violation,) = result.of(POLICY)
    assert violation.urn == next(r.urn for r in result.graph if r.name == "public")
    assert "internet-facing load balancer 'public': not associated with a web ACL" in violation.detail
    assert violation.enforcement_level == "mandatory"


def test_waf_rate_limit_association_protects_the_alb(check_policies):
    result = check(check_policies, 'lb = alb("public")\n'
                                   'WafRateLimit("edge", WafRateLimitArgs(associations={"public": lb.arn}))\n')
    assert result.of(POLICY) == []


def test_an_arn_unknown_during_preview_is_matched_by_dependency(check_policies):
    # arn_suffix is computed by AWS, so the association's resourceArn is unknown here, as in a real preview.
    body = ('lb = alb("public")\n'
            'arn = pulumi.Output.all(lb.arn, lb.arn_suffix).apply(lambda values: values[0])\n'
            'WafRateLimit("edge", WafRateLimitArgs(associations={"public": arn}))\n')
    result = check(check_policies, body)
    association = result.graph.of_type("aws:wafv2/webAclAssociation:WebAclAssociation")[0]
    assert association.inputs["resourceArn"] == UNKNOWN_STRING_VALUE  # truly unknown, as in a real preview
    assert result.of(POLICY) == []


@pytest.mark.parametrize("rules", [
    "[MANAGED]",  # no rate-based rule at all
    '[rate_rule({"count": {}}), MANAGED]',  # counts but never acts
])
def test_a_web_acl_without_an_enforcing_rate_rule_does_not_count(check_policies, rules):
    body = (f'lb = alb("public")\nweb_acl = acl("acl", {rules})\n'
            'aws.wafv2.WebAclAssociation("assoc", resource_arn=lb.arn, web_acl_arn=web_acl.arn)\n')
    assert check(check_policies, body).names(POLICY) == {"public"}


def test_waf_rate_limit_in_count_mode_does_not_count(check_policies):
    body = ('lb = alb("public")\n'
            'WafRateLimit("edge", WafRateLimitArgs(rate_limit_action="COUNT", associations={"public": lb.arn}))\n')
    assert check(check_policies, body).names(POLICY) == {"public"}


def test_a_rate_rule_in_a_referenced_rule_group_counts(check_policies):
    body = '''
lb = alb("public")
group = aws.wafv2.RuleGroup("limits", scope="REGIONAL", capacity=10, visibility_config=VISIBILITY,
                            rules=[rate_rule({"block": {}})])
web_acl = acl("acl", [{"name": "limits", "priority": 0, "override_action": {"none": {}}, "visibility_config": VISIBILITY,
                       "statement": {"rule_group_reference_statement": {"arn": group.arn}}}])
aws.wafv2.WebAclAssociation("assoc", resource_arn=lb.arn, web_acl_arn=web_acl.arn)
'''
    assert check(check_policies, body).of(POLICY) == []
    overridden = body.replace('"override_action": {"none": {}}, "visibility_config": VISIBILITY,\n                       '
                              '"statement": {"rule_group', '"override_action": {"count": {}}, "visibility_config": '
                              'VISIBILITY,\n                       "statement": {"rule_group')
    assert overridden != body
    assert check(check_policies, overridden).names(POLICY) == {"public"}


def test_web_acls_from_outside_the_stack_are_trusted_only_when_configured(check_policies):
    shared = "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/shared/0f1e2d3c"
    body = f'lb = alb("public")\naws.wafv2.WebAclAssociation("assoc", resource_arn=lb.arn, web_acl_arn="{shared}")\n'
    assert check(check_policies, body).names(POLICY) == {"public"}
    trusted = check(check_policies, body, {POLICY: {"rateLimitedWebAclArns": [shared]}})
    assert trusted.of(POLICY) == []


REST_API = '''
api = aws.apigateway.RestApi("api", endpoint_configuration={{"types": "{endpoint}"}})
deployment = aws.apigateway.Deployment("deploy", rest_api=api.id)
stage = aws.apigateway.Stage("prod", rest_api=api.id, deployment=deployment.id, stage_name="prod")
'''


def test_public_rest_api_stages_need_a_rate_limited_web_acl(check_policies):
    result = check(check_policies, REST_API.format(endpoint="REGIONAL"))
    assert result.names(POLICY) == {"prod"}
    assert "API Gateway stage 'prod': not associated" in result.messages(POLICY)[0]
    protected = REST_API.format(endpoint="REGIONAL") + \
        'WafRateLimit("edge", WafRateLimitArgs(associations={"api": stage.arn}))\n'
    assert check(check_policies, protected).of(POLICY) == []
    assert check(check_policies, REST_API.format(endpoint="PRIVATE")).of(POLICY) == []


def test_http_api_stages_need_throttling(check_policies):
    body = '''
api = aws.apigatewayv2.Api("http", protocol_type="HTTP")
aws.apigatewayv2.Stage("open", api_id=api.id, name="open")
aws.apigatewayv2.Stage("throttled", api_id=api.id, name="throttled",
                       default_route_settings={"throttling_rate_limit": 50, "throttling_burst_limit": 100})
'''
    result = check(check_policies, body)
    assert result.names(POLICY) == {"open"}
    assert "defaultRouteSettings sets no throttling rate and burst limits" in result.messages(POLICY)[0]
