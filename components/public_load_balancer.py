"""PublicLoadBalancer: an internet-facing Application Load Balancer for an inference endpoint.

The public edge that WafRateLimit and ShieldProtection protect. Only HTTPS (443) comes in, from the
allowed CIDRs; traffic goes out to the VPC only; invalid headers are dropped; deletion protection is on.
Targets are attached outside the component (a listener and target group of your own, or the AWS Load
Balancer Controller's TargetGroupBinding).
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from aifinops.core import argument_checks as checks

from .checkov_suppressions import suppress_checkov
from .gpu_instance import validate_tags

_LB = "aws:lb/loadBalancer:LoadBalancer"
for _check, _reason in (
    ("CKV_AWS_91", "put the load balancer behind WafRateLimit, whose logs already record every request (with "
                   "credentials redacted); ALB access logs are opt-in through access_logs_bucket"),
    ("CKV2_AWS_76", "this check also demands AWSManagedRulesAnonymousIpList, which blocks hosting-provider "
                    "addresses where most API clients run; WafRateLimit enforces KnownBadInputs (Log4j) itself"),
):
    suppress_checkov(component_type="aifinops:edge:PublicLoadBalancer", resource_type=_LB, check_id=_check,
                     reason=_reason)
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


@dataclass
class PublicLoadBalancerArgs:
    """Arguments of PublicLoadBalancer; every one has a default.

    - subnet_ids / vpc_id: default, the default VPC and its subnets; give both or neither.
    - allowed_cidrs: who may connect on HTTPS 443; default anyone ('0.0.0.0/0').
    - idle_timeout_seconds: default 120: a long non-streamed completion can take over a minute, and the
      ALB's own default of 60 would cut it off. AWS allows 1 to 4000.
    - deletion_protection: default True.
    - access_logs_bucket: a bucket name for ALB access logs (it must let ELB log delivery write); default
      none, since WafRateLimit logs every request already.
    """

    subnet_ids: Optional[Sequence[pulumi.Input[str]]] = None
    vpc_id: Optional[pulumi.Input[str]] = None
    allowed_cidrs: Sequence[str] = ("0.0.0.0/0",)
    idle_timeout_seconds: int = 120
    deletion_protection: bool = True
    access_logs_bucket: Optional[str] = None
    tags: Mapping[str, str] = field(default_factory=dict)


def validate_cidrs(argument: str, cidrs: object) -> list[str]:
    values = checks.string_list(argument, cidrs, min_items=1)
    for index, cidr in enumerate(values):
        try:
            ipaddress.ip_network(cidr)
        except ValueError:
            raise ValueError(f"{argument}[{index}]: expected a CIDR block such as '203.0.113.0/24', got {cidr!r}") from None
    return values


class PublicLoadBalancer(pulumi.ComponentResource):
    """An internet-facing ALB: HTTPS in from the allowed CIDRs, out to the VPC only."""

    arn: pulumi.Output[str]
    dns_name: pulumi.Output[str]
    security_group_id: pulumi.Output[str]

    def __init__(self, name: str, args: Optional[PublicLoadBalancerArgs] = None,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        args = PublicLoadBalancerArgs() if args is None else args
        if not isinstance(args, PublicLoadBalancerArgs):
            raise ValueError(f"args: expected PublicLoadBalancerArgs, got {type(args).__name__}")
        if (args.subnet_ids is None) != (args.vpc_id is None):
            raise ValueError(f"subnet_ids / vpc_id: give both or neither (default: the default VPC), got subnet_ids "
                             f"{args.subnet_ids!r} and vpc_id {args.vpc_id!r}")
        if args.subnet_ids is not None and (isinstance(args.subnet_ids, str) or len(args.subnet_ids) < 2):
            raise ValueError(f"subnet_ids: an Application Load Balancer needs subnets in at least two availability "
                             f"zones, got {args.subnet_ids!r}")
        cidrs = validate_cidrs("allowed_cidrs", args.allowed_cidrs)
        idle = checks.whole_number("idle_timeout_seconds", args.idle_timeout_seconds, 1, 4000)
        checks.flag("deletion_protection", args.deletion_protection)
        if args.access_logs_bucket is not None:
            checks.text("access_logs_bucket", args.access_logs_bucket, _BUCKET_NAME, "an S3 bucket name")
        tags = validate_tags("tags", args.tags)

        super().__init__("aifinops:edge:PublicLoadBalancer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOptions(parent=self)
        vpc = aws.ec2.get_vpc_output(id=args.vpc_id, default=None if args.vpc_id else True, opts=invoke)
        subnets = args.subnet_ids if args.subnet_ids is not None else aws.ec2.get_subnets_output(
            filters=[{"name": "vpc-id", "values": [vpc.id]}], opts=invoke).ids
        security_group = aws.ec2.SecurityGroup(
            f"{name}-sg", description=f"{name}: HTTPS in from the allowed CIDRs, out to the VPC only", vpc_id=vpc.id,
            ingress=[{"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": cidrs,
                      "description": "HTTPS from clients"}],
            egress=[{"protocol": "tcp", "from_port": 0, "to_port": 65535, "cidr_blocks": [vpc.cidr_block],
                     "description": "to targets in the VPC"}],
            tags=tags, opts=child)
        load_balancer = aws.lb.LoadBalancer(
            name, load_balancer_type="application", internal=False, subnets=subnets,
            security_groups=[security_group.id], drop_invalid_header_fields=True, idle_timeout=idle,
            enable_deletion_protection=args.deletion_protection,
            access_logs=None if args.access_logs_bucket is None else {
                "bucket": args.access_logs_bucket, "prefix": name, "enabled": True},
            tags=tags, opts=child)
        self.arn = load_balancer.arn
        self.dns_name = load_balancer.dns_name
        self.security_group_id = security_group.id
        self.register_outputs({"arn": self.arn, "dnsName": self.dns_name, "securityGroupId": self.security_group_id})
