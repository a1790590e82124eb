"""The example stack's `loadBalancers` section: a minimal internet-facing Application Load Balancer.

It is the public edge that WafRateLimit and ShieldProtection protect by name. Targets are attached
outside this stack (the AWS Load Balancer Controller's TargetGroupBinding, or a listener and target
group of your own). Settings: `subnetIds` (default: the default VPC's subnets) and `allowedCidrs`
(who may connect on HTTPS 443; default anyone).
"""
from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

ALLOWED_SETTINGS = ("subnetIds", "allowedCidrs")


def internet_facing_alb(name: str, settings: dict[str, Any], where: str) -> aws.lb.LoadBalancer:
    unknown = sorted(set(settings) - set(ALLOWED_SETTINGS))
    if unknown:
        raise ValueError(f"{where}.{unknown[0]}: unknown setting; expected one of {', '.join(ALLOWED_SETTINGS)}")
    cidrs = settings.get("allowedCidrs", ["0.0.0.0/0"])
    if not isinstance(cidrs, list) or not cidrs or not all(isinstance(c, str) and "/" in c for c in cidrs):
        raise ValueError(f"{where}.allowedCidrs: expected a list of CIDR blocks, got {cidrs!r}")
    vpc = aws.ec2.get_vpc_output(default=True)
    subnets = settings.get("subnetIds") or aws.ec2.get_subnets_output(
        filters=[{"name": "vpc-id", "values": [vpc.id]}]).ids
    security_group = aws.ec2.SecurityGroup(
        f"{name}-sg", description=f"{name}: HTTPS in from the allowed CIDRs; out to the VPC only", vpc_id=vpc.id,
        ingress=[{"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": cidrs,
                  "description": "HTTPS from clients"}],
        egress=[{"protocol": "tcp", "from_port": 0, "to_port": 65535, "cidr_blocks": [vpc.cidr_block],
                 "description": "to targets in the VPC"}])
    return aws.lb.LoadBalancer(
        name, load_balancer_type="application", internal=False, subnets=subnets,
        security_groups=[security_group.id], drop_invalid_header_fields=True,
        opts=pulumi.ResourceOptions(depends_on=[security_group]))
