"""WafRateLimit: a WAFv2 web ACL that rate-limits each client IP in front of an inference endpoint.

Every request that reaches an autoscaled GPU service can add GPU time to the bill; a rate-based rule
caps what one client can cost before autoscaling reacts to it. Rate-limited clients get HTTP 429 with a
Retry-After header, which SDK clients already back off on.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal, Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from aifinops.core import argument_checks as checks
from aifinops.core.service_prices import service_price

from .alert_topic import declared_alert_usage, encrypted_alert_topic, validate_emails
from .automation_lambda import account_scope, key_policy
from .checkov_suppressions import suppress_checkov
from .component_inputs import labelled_inputs
from .gpu_instance import validate_tags

# Why 1,000 requests per 5 minutes per client IP (about 3.3 requests a second, sustained):
# - a person or an SDK client calling a model endpoint makes well under one request a second (each
#   generation takes seconds), so 1,000 leaves an order of magnitude of headroom for bursts and retries;
# - at roughly one GPU-second per request, one unthrottled client at 100 requests/s keeps ~100 GPUs busy
#   and autoscaling adds replicas to serve it; capped, it gets about 3 requests/s, a fraction of a replica.
# Clients behind one NAT share an address: raise the limit, or aggregate on FORWARDED_IP behind a proxy.
DEFAULT_RATE_LIMIT = 1000
DEFAULT_WINDOW_SECONDS = 300
EVALUATION_WINDOWS = (60, 120, 300, 600)  # the windows WAFv2 allows
SCOPES = ("REGIONAL", "CLOUDFRONT")
# AWS managed rule group -> the role that names its rule in the web ACL.
MANAGED_RULE_GROUPS = {"AWSManagedRulesCommonRuleSet": "common", "AWSManagedRulesKnownBadInputsRuleSet": "known-bad-inputs"}
# The Common rule set blocks request bodies over 8 KB; prompts and images routinely are larger.
DEFAULT_COMMON_COUNT_ONLY = ("SizeRestrictions_BODY",)
# A storm, not a stray client: 1,000 blocked requests in 5 minutes is one client held at the default limit
# for the whole window several times over, or many clients at once.
DEFAULT_BLOCKED_ALARM_THRESHOLD = 1000
BLOCKED_ALARM_PERIOD_SECONDS = 300
WAF_LOG_GROUP_PREFIX = "aws-waf-logs-"  # WAF only delivers to log groups named so
_ENTITY_NAME = re.compile(r"^[\w-]{1,100}$")
_PATH = re.compile(r"^/[^\s]{0,199}$")
_HEADER = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_ALB_ARN = re.compile(r"^arn:aws[\w-]*:elasticloadbalancing:[\w-]+:\d{12}:loadbalancer/app/")
_API_STAGE_ARN = re.compile(r"^arn:aws[\w-]*:apigateway:[\w-]+:\d{0,12}:/restapis/[^/]+/stages/[^/]+$")


suppress_checkov(
    component_type="aifinops:edge:WafRateLimit", resource_type="aws:cloudwatch/logGroup:LogGroup",
    check_id="CKV_AWS_338", reason="WAF logs record every request; a year of them costs more than the web ACL, so "
                                   "retention defaults to 30 days and log_retention_days raises it where compliance asks")


@dataclass
class PathRateLimit:
    """A tighter per-IP limit for requests whose path starts with (or, match='EXACTLY', equals) `path`,
    e.g. '/v1/infer'. Paths are compared URL-decoded and lowercased, so '/V1/%69nfer' counts too."""

    path: str
    limit: int
    match: Literal["STARTS_WITH", "EXACTLY"] = "STARTS_WITH"


@dataclass
class WafRateLimitArgs:
    """Arguments of WafRateLimit; every one has a default.

    - scope: 'REGIONAL' (default; ALBs and API Gateway stages) or 'CLOUDFRONT' (create it with a us-east-1
      provider and set the distribution's web ACL to `web_acl_arn`).
    - rate_limit: requests per client per evaluation window, default 1,000 (see DEFAULT_RATE_LIMIT for
      why); AWS allows 10 to 2,000,000,000.
    - evaluation_window_seconds: 60, 120, 300 (default) or 600.
    - path_rate_limits: tighter limits per path, each below rate_limit. Default none.
    - aggregate_by: 'IP' (default, the connecting address) or 'FORWARDED_IP' (X-Forwarded-For, only behind
      a proxy that sets it; a client can forge it otherwise).
    - rate_limit_action: 'BLOCK' (default, answers 429) or 'COUNT' (observe before enforcing).
    - common_rules_count_only: rules of the Common managed group that only count, default
      SizeRestrictions_BODY (inference payloads exceed its 8 KB). KnownBadInputs is always enforced.
    - associations: label -> ALB or API Gateway stage ARN to protect (REGIONAL only). Default none.
    - log_retention_days: default 30 (WAF logs are voluminous; keep longer only when compliance asks).
      log_kms_key_arn: the key that encrypts the logs; default, a dedicated key ($1/month) that CloudWatch
      Logs may use for this log group only.
    - extra_redacted_headers: headers kept out of the logs besides Authorization, default x-api-key.
    - blocked_requests_alarm_threshold: per rule, an alarm `<name>-<rule>-blocked` when WAF blocks at
      least this many requests in 5 minutes (AWS/WAFV2 BlockedRequests by WebACL, Rule and Region), so a
      rate-limit storm is visible; default 1,000. None: no alarms.
    - alarm_topic_arn: where the alarms notify; default None: a new KMS-encrypted topic only CloudWatch
      of this account may publish to, with `alert_emails` (default none) subscribed.
    """

    scope: Literal["REGIONAL", "CLOUDFRONT"] = "REGIONAL"
    rate_limit: int = DEFAULT_RATE_LIMIT
    evaluation_window_seconds: int = DEFAULT_WINDOW_SECONDS
    path_rate_limits: Sequence[PathRateLimit] = ()
    aggregate_by: Literal["IP", "FORWARDED_IP"] = "IP"
    rate_limit_action: Literal["BLOCK", "COUNT"] = "BLOCK"
    common_rules_count_only: Sequence[str] = DEFAULT_COMMON_COUNT_ONLY
    associations: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    log_retention_days: int = 30
    log_kms_key_arn: Optional[pulumi.Input[str]] = None
    extra_redacted_headers: Sequence[str] = ("x-api-key",)
    blocked_requests_alarm_threshold: Optional[int] = DEFAULT_BLOCKED_ALARM_THRESHOLD
    alarm_topic_arn: Optional[pulumi.Input[str]] = None
    alert_emails: Sequence[str] = ()
    tags: Mapping[str, str] = field(default_factory=dict)


@lru_cache(maxsize=1)
def allowed_rate_limits() -> tuple[int, int]:
    """(min, max) of a rate-based rule's limit, read from AWS's own WAFv2 API model in botocore."""
    import botocore.session

    shape = botocore.session.get_session().get_service_model("wafv2").shape_for("RateLimit")
    return int(shape.metadata["min"]), int(shape.metadata["max"])


def validate_rate_limit(argument: str, limit: Any) -> int:
    low, high = allowed_rate_limits()
    return checks.whole_number(argument, limit, low, high, "requests per evaluation window")


def validate_association_arn(argument: str, arn: Any) -> Any:
    if isinstance(arn, str) and not (_ALB_ARN.match(arn) or _API_STAGE_ARN.match(arn)):
        raise ValueError(f"{argument}: expected an Application Load Balancer ARN (...:loadbalancer/app/...) or an "
                         f"API Gateway REST API stage ARN (arn:aws:apigateway:REGION::/restapis/ID/stages/NAME), "
                         f"got {arn!r}")
    return arn


def monthly_fixed_usd(rule_count: int) -> float:
    """The web ACL and its rules per month, before the per-request charge."""
    return service_price("waf", "webAcl").usd + rule_count * service_price("waf", "rule").usd


class WafRateLimit(pulumi.ComponentResource):
    """A web ACL: per-IP rate limits (global and per path), AWS managed rules, redacted logging."""

    web_acl_arn: pulumi.Output[str]
    web_acl_id: pulumi.Output[str]
    log_group_name: pulumi.Output[str]
    monthly_fixed_usd: float

    def __init__(self, name: str, args: Optional[WafRateLimitArgs] = None,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        args = WafRateLimitArgs() if args is None else args
        if not isinstance(args, WafRateLimitArgs):
            raise ValueError(f"args: expected WafRateLimitArgs, got {type(args).__name__}")
        checks.text("name", name, _ENTITY_NAME, "1 to 100 letters, digits, '_' and '-' (it names the web ACL, "
                                                "its metrics and its log group)")
        scope = checks.one_of("scope", args.scope, SCOPES)
        limit = validate_rate_limit("rate_limit", args.rate_limit)
        window = args.evaluation_window_seconds
        if window not in EVALUATION_WINDOWS or isinstance(window, bool):
            raise ValueError(f"evaluation_window_seconds: expected one of {', '.join(map(str, EVALUATION_WINDOWS))}, "
                             f"got {window!r}")
        paths = self._validate_paths(args.path_rate_limits, limit)
        aggregate = checks.one_of("aggregate_by", args.aggregate_by, ("IP", "FORWARDED_IP"))
        action = checks.one_of("rate_limit_action", args.rate_limit_action, ("BLOCK", "COUNT"))
        count_only = checks.string_list("common_rules_count_only", args.common_rules_count_only)
        associations = labelled_inputs("associations", args.associations)
        if associations and scope == "CLOUDFRONT":
            raise ValueError("associations: a CLOUDFRONT web ACL is attached by the distribution's web ACL setting, "
                             f"not by association; got {list(associations)!r}, expected none")
        for label, arn in associations.items():
            validate_association_arn(f"associations.{label}", arn)
        retention = checks.log_retention_days("log_retention_days", args.log_retention_days)
        extra_headers = checks.string_list("extra_redacted_headers", args.extra_redacted_headers)
        bad_headers = [h for h in extra_headers if not _HEADER.match(h)]
        if bad_headers:
            raise ValueError(f"extra_redacted_headers: expected HTTP header names, got {bad_headers!r}")
        alarm_threshold = args.blocked_requests_alarm_threshold
        if alarm_threshold is not None:
            alarm_threshold = checks.whole_number("blocked_requests_alarm_threshold", alarm_threshold, 1,
                                                  unit="blocked requests per 5 minutes")
        checks.arn_in_region("alarm_topic_arn", args.alarm_topic_arn, "sns", None)
        emails = validate_emails("alert_emails", list(args.alert_emails) if isinstance(args.alert_emails, tuple)
                                 else args.alert_emails)
        if emails and (args.alarm_topic_arn is not None or alarm_threshold is None):
            raise ValueError(f"alert_emails: subscribed only to the component's own alarm topic (no alarm_topic_arn, "
                             f"alarms on), got {emails!r}")
        tags = validate_tags("tags", args.tags)

        super().__init__("aifinops:edge:WafRateLimit", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        rate_action = _rate_limited_response(window) if action == "BLOCK" else {"count": {}}
        rules = [_rate_rule(f"{name}-path-{i}", i, p.limit, window, aggregate, rate_action, p)
                 for i, p in enumerate(paths)]
        rules.append(_rate_rule(f"{name}-per-ip", len(rules), limit, window, aggregate, rate_action, None))
        for group_name, role in MANAGED_RULE_GROUPS.items():
            overrides = count_only if role == "common" else []
            rules.append(_managed_rule(f"{name}-{role}", len(rules), group_name, overrides))
        web_acl = aws.wafv2.WebAcl(
            f"{name}-web-acl", scope=scope, description=f"aifinops {name}: per-IP rate limits and AWS managed rules",
            default_action={"allow": {}}, rules=rules, visibility_config=_visibility(name), tags=tags, opts=child)
        group_name = f"{WAF_LOG_GROUP_PREFIX}{name}"
        key_arn = args.log_kms_key_arn
        if key_arn is None:
            key_arn = aws.kms.Key(f"{name}-logs-key", description=f"aifinops {name}: WAF logs encryption",
                                  enable_key_rotation=True, deletion_window_in_days=30,
                                  policy=account_scope(self).apply(lambda scope: key_policy(scope, group_name)),
                                  tags=tags, opts=child).arn
        log_group = aws.cloudwatch.LogGroup(f"{name}-logs", name=group_name, retention_in_days=retention,
                                            kms_key_id=key_arn, tags=tags, opts=child)
        aws.wafv2.WebAclLoggingConfiguration(
            f"{name}-logging", resource_arn=web_acl.arn, log_destination_configs=[log_group.arn],
            redacted_fields=[{"single_header": {"name": header}} for header in ["authorization", *extra_headers]],
            opts=child)
        for label, arn in associations.items():
            aws.wafv2.WebAclAssociation(f"{name}-{label}", resource_arn=arn, web_acl_arn=web_acl.arn, opts=child)

        self.alarm_topic_arn: Optional[pulumi.Output[str]] = None
        topic: Optional[aws.sns.Topic] = None
        if alarm_threshold is not None:
            topic_arn = args.alarm_topic_arn
            if topic_arn is None:
                topic = encrypted_alert_topic(name, ["cloudwatch.amazonaws.com"], emails,
                                              f"aifinops WafRateLimit {name}", self)
                topic_arn = topic.arn
            self.alarm_topic_arn = pulumi.Output.from_input(topic_arn)
            region = None if scope == "CLOUDFRONT" else aws.get_region_output(
                opts=pulumi.InvokeOptions(parent=self)).region
            for rule in rules:
                self._blocked_alarm(name, rule["name"], alarm_threshold, topic_arn, region, tags)

        self.web_acl_arn = web_acl.arn
        self.web_acl_id = web_acl.id
        self.log_group_name = log_group.name
        self.monthly_fixed_usd = monthly_fixed_usd(len(rules))
        self.register_outputs({"webAclArn": web_acl.arn, "webAclId": web_acl.id, "logGroupName": log_group.name,
                               "monthlyFixedUsd": self.monthly_fixed_usd, "alarmTopicArn": self.alarm_topic_arn,
                               **declared_alert_usage(name, emails, topic)})

    def _blocked_alarm(self, name: str, rule_name: str, threshold: int, topic_arn: pulumi.Input[str],
                       region: Optional[pulumi.Output[str]], tags: Mapping[str, str]) -> None:
        # The dimensions are the metric names of the web ACL and the rule (their visibility configs);
        # CloudFront web ACLs report without a Region dimension.
        dimensions: dict[str, pulumi.Input[str]] = {"WebACL": name, "Rule": rule_name}
        if region is not None:
            dimensions["Region"] = region
        aws.cloudwatch.MetricAlarm(
            f"{rule_name}-blocked", name=f"{rule_name}-blocked",
            alarm_description=f"WAF web ACL {name}: rule {rule_name} blocked at least {threshold} requests in 5 minutes",
            namespace="AWS/WAFV2", metric_name="BlockedRequests", dimensions=dimensions, statistic="Sum",
            period=BLOCKED_ALARM_PERIOD_SECONDS, evaluation_periods=1, threshold=threshold,
            comparison_operator="GreaterThanOrEqualToThreshold", treat_missing_data="notBreaching",
            actions_enabled=True, alarm_actions=[topic_arn], ok_actions=[topic_arn], tags=tags,
            opts=pulumi.ResourceOptions(parent=self))

    @staticmethod
    def _validate_paths(paths: Any, limit: int) -> list[PathRateLimit]:
        if isinstance(paths, (str, bytes)) or not isinstance(paths, Sequence):
            raise ValueError(f"path_rate_limits: expected a list of PathRateLimit, got {paths!r}")
        seen: set[tuple[str, str]] = set()
        for i, path in enumerate(paths):
            where = f"path_rate_limits[{i}]"
            if not isinstance(path, PathRateLimit):
                raise ValueError(f"{where}: expected PathRateLimit, got {path!r}")
            checks.text(f"{where}.path", path.path, _PATH, "a URL path starting with '/' (at most 200 characters)")
            checks.one_of(f"{where}.match", path.match, ("STARTS_WITH", "EXACTLY"))
            path_limit = validate_rate_limit(f"{where}.limit", path.limit)
            if path_limit >= limit:
                raise ValueError(f"{where}.limit: {path_limit} is not below rate_limit ({limit}), so the rule would "
                                 f"never act; expected less than {limit}")
            key = (path.path.lower(), path.match)
            if key in seen:
                raise ValueError(f"{where}.path: {path.path!r} is limited twice; expected one limit per path")
            seen.add(key)
        return list(paths)


def _visibility(metric_name: str) -> dict[str, Any]:
    return {"cloudwatch_metrics_enabled": True, "metric_name": metric_name, "sampled_requests_enabled": True}


def _rate_limited_response(window: int) -> dict[str, Any]:
    return {"block": {"custom_response": {"response_code": 429, "response_headers": [
        {"name": "retry-after", "value": str(window)}]}}}


def _rate_rule(rule_name: str, priority: int, limit: int, window: int, aggregate: str, action: dict[str, Any],
               path: Optional[PathRateLimit]) -> dict[str, Any]:
    statement: dict[str, Any] = {"limit": limit, "aggregate_key_type": aggregate, "evaluation_window_sec": window}
    if aggregate == "FORWARDED_IP":
        statement["forwarded_ip_config"] = {"header_name": "X-Forwarded-For", "fallback_behavior": "MATCH"}
    if path is not None:
        statement["scope_down_statement"] = {"byte_match_statement": {
            "search_string": path.path.lower(), "positional_constraint": path.match,
            "field_to_match": {"uri_path": {}},
            "text_transformations": [{"priority": 0, "type": "URL_DECODE"}, {"priority": 1, "type": "LOWERCASE"}]}}
    return {"name": rule_name, "priority": priority, "action": action,
            "statement": {"rate_based_statement": statement}, "visibility_config": _visibility(rule_name)}


def _managed_rule(rule_name: str, priority: int, group_name: str, count_only: Sequence[str]) -> dict[str, Any]:
    return {"name": rule_name, "priority": priority, "override_action": {"none": {}},
            "statement": {"managed_rule_group_statement": {
                "vendor_name": "AWS", "name": group_name,
                "rule_action_overrides": [{"name": rule, "action_to_use": {"count": {}}} for rule in count_only]}},
            "visibility_config": _visibility(rule_name)}
