"""public-endpoints-rate-limited: every public endpoint in the stack is behind a per-client rate limit.

A stack policy. Public endpoints in front of autoscaled GPU services turn floods into bills, so:
- every internet-facing Application Load Balancer (`internal` not true) and every stage of a REST API
  that is not PRIVATE must be associated (`aws.wafv2.WebAclAssociation`) with a web ACL that has an
  enforcing rate-based rule (action block, captcha or challenge; not count), directly or in a rule group
  it references. The web ACL must be in the stack, or listed in `rateLimitedWebAclArns`;
- every HTTP/WebSocket API stage (API Gateway v2, which WAF cannot protect) must set throttling in
  `defaultRouteSettings` (both rate and burst limits).
References are matched by property dependency (ARNs are unknown during preview) or equal known values.
An internal flag or an association that is unknown during preview counts as compliant.
"""
from __future__ import annotations

from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from ..config_schema import config_schema, setting
from ..preview_values import UNKNOWN, as_list, dig, is_true, is_unknown
from ..stack_resources import StackResources

NAME = "public-endpoints-rate-limited"
LOAD_BALANCER_TYPES = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
REST_STAGE_TYPE = "aws:apigateway/stage:Stage"
REST_API_TYPE = "aws:apigateway/restApi:RestApi"
HTTP_STAGE_TYPE = "aws:apigatewayv2/stage:Stage"
ASSOCIATION_TYPE = "aws:wafv2/webAclAssociation:WebAclAssociation"
WEB_ACL_TYPE = "aws:wafv2/webAcl:WebAcl"
RULE_GROUP_TYPE = "aws:wafv2/ruleGroup:RuleGroup"
ENFORCING_ACTIONS = ("block", "captcha", "challenge")
SCHEMA = config_schema({
    "rateLimitedWebAclArns": {
        "type": "array", "items": {"type": "string", "minLength": 1}, "uniqueItems": True, "default": [],
        "description": "Web ACLs managed outside this stack that are known to have a rate-based rule.",
    },
})


def _enforcing_rate_rule_in(rules: Any) -> bool:
    for rule in as_list(rules):
        if dig(rule, "statement", "rateBasedStatement") is None:
            continue
        action = dig(rule, "action")
        if action is UNKNOWN or any(dig(action, a) is not None for a in ENFORCING_ACTIONS):
            return True
    return False


def _enforced_groups(stack: StackResources, web_acl: PolicyResource) -> list[PolicyResource]:
    """Rule groups the web ACL references without overriding their actions to count."""
    references = [dig(rule, "statement", "ruleGroupReferenceStatement") for rule in as_list(
        stack.props(web_acl).get("rules")) if dig(rule, "overrideAction", "count") is None]
    arns = {dig(reference, "arn") for reference in references if reference is not None}
    return [group for group in stack.of_type(RULE_GROUP_TYPE)
            if stack.props(group).get("arn") in arns
            or (arns & {UNKNOWN} and any(dep.urn == group.urn for dep in web_acl.property_dependencies.get("rules", [])))]


def has_rate_limit(stack: StackResources, web_acl: PolicyResource) -> bool:
    """A rate-based rule that acts: in the web ACL itself, or in a rule group it references."""
    rules = stack.props(web_acl).get("rules")
    if rules is UNKNOWN or _enforcing_rate_rule_in(rules):
        return True
    return any(_enforcing_rate_rule_in(stack.props(group).get("rules")) for group in _enforced_groups(stack, web_acl))


def _is_protected(stack: StackResources, endpoint: PolicyResource, external_acls: set[str]) -> bool:
    for association in stack.referring(endpoint, (ASSOCIATION_TYPE,), "resourceArn", ("arn", "id")):
        acl_arn = stack.props(association).get("webAclArn")
        if is_unknown(acl_arn) and not association.property_dependencies.get("webAclArn"):
            return True
        if acl_arn in external_acls:
            return True
        acls = [acl for acl in stack.of_type(WEB_ACL_TYPE) if stack.refers_to(association, "webAclArn", acl, ("arn",))]
        if any(has_rate_limit(stack, acl) for acl in acls):
            return True
    return False


def _public_load_balancers(stack: StackResources) -> list[PolicyResource]:
    result = []
    for lb in stack.of_type(*LOAD_BALANCER_TYPES):
        props = stack.props(lb)
        internal, kind = props.get("internal"), props.get("loadBalancerType")
        if is_true(internal) or is_unknown(internal) or kind not in (None, "application"):
            continue
        result.append(lb)
    return result


def _public_rest_stages(stack: StackResources) -> list[PolicyResource]:
    def is_private(api: PolicyResource) -> bool:  # `types` is one string in pulumi-aws 7, a list before
        types = dig(stack.props(api), "endpointConfiguration", "types")
        return types == "PRIVATE" or "PRIVATE" in as_list(types)

    private_apis = [api for api in stack.of_type(REST_API_TYPE) if is_private(api)]
    return [stage for stage in stack.of_type(REST_STAGE_TYPE)
            if not any(stack.refers_to(stage, "restApi", api, ("id",)) for api in private_apis)]


def _validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    stack = StackResources(args.resources)
    external_acls = set(setting(args, SCHEMA, "rateLimitedWebAclArns"))
    for lb in _public_load_balancers(stack):
        if not _is_protected(stack, lb, external_acls):
            report_violation(f"internet-facing load balancer '{lb.name}': not associated with a web ACL that has an "
                             f"enforcing rate-based rule.", lb.urn)
    for stage in _public_rest_stages(stack):
        if not _is_protected(stack, stage, external_acls):
            report_violation(f"API Gateway stage '{stage.name}': not associated with a web ACL that has an "
                             f"enforcing rate-based rule.", stage.urn)
    for stage in stack.of_type(HTTP_STAGE_TYPE):
        settings = stack.props(stage).get("defaultRouteSettings")
        rate, burst = dig(settings, "throttlingRateLimit"), dig(settings, "throttlingBurstLimit")
        if UNKNOWN in (settings, rate, burst) or (rate is not None and burst is not None):
            continue
        report_violation(f"API Gateway v2 stage '{stage.name}': defaultRouteSettings sets no throttling rate and "
                         f"burst limits (WAF cannot protect HTTP APIs).", stage.urn)


POLICY = StackValidationPolicy(
    name=NAME,
    description="Internet-facing ALBs and API Gateway stages are rate-limited per client (WAF rate-based rule or "
                "stage throttling).",
    validate=_validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=SCHEMA,
    severity=Severity.HIGH,
    remediation_steps="Put the endpoint behind aifinops.components.waf_rate_limit.WafRateLimit (associations={...}), or "
                      "associate a web ACL with a rate-based rule; for HTTP APIs set defaultRouteSettings "
                      "throttlingRateLimit and throttlingBurstLimit.",
)
