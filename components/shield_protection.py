"""ShieldProtection: AWS Shield Advanced protection for the public edges of an AI service.

A DDoS against an inference endpoint is a bill as much as an outage: autoscaling adds GPUs to serve the
flood. Shield Advanced absorbs it and refunds scaling charges caused by an attack, but it costs
$3,000 a month per organization with a one-year commitment; so the account-level subscription is created
only when asked (`create_subscription`), and protections assume one exists otherwise.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Optional

import pulumi
import pulumi_aws as aws

from aifinops.core import argument_checks as checks
from aifinops.core.service_prices import service_price

from .component_inputs import labelled_inputs
from .gpu_instance import validate_tags

# What Shield Advanced can protect, by ARN service and resource prefix.
PROTECTABLE = {
    ("elasticloadbalancing", "loadbalancer/app/"): "Application Load Balancer",
    ("cloudfront", "distribution/"): "CloudFront distribution",
    ("ec2", "eip-allocation/"): "Elastic IP",
    ("globalaccelerator", "accelerator/"): "Global Accelerator accelerator",
    ("route53", "hostedzone/"): "Route 53 hosted zone",
}
AGGREGATIONS = ("MAX", "SUM", "MEAN")
PROTECTION_GROUP_ID = re.compile(r"^[A-Za-z0-9-]{1,36}$")


@dataclass
class ProtectionGroupOptions:
    """Group the protected resources so Shield detects attacks on the application as a whole.

    aggregation: 'MAX' (default, right when the resources front the same traffic, e.g. a CloudFront
    distribution and its origin ALB), 'SUM' (traffic split across them, e.g. several Elastic IPs) or 'MEAN'.
    """

    aggregation: Literal["MAX", "SUM", "MEAN"] = "MAX"


@dataclass
class ShieldProtectionArgs:
    """Arguments of ShieldProtection. Only `resources` is required.

    - resources: label -> ARN of an ALB, CloudFront distribution, Elastic IP allocation, Global
      Accelerator or Route 53 hosted zone. Labels name the child protections (keep them stable).
    - protection_group: None (default): no group; else a group of exactly these resources.
    - health_check_arns: label (one of `resources`) -> Route 53 health check ARN, so Shield uses the
      application's health to detect and mitigate faster. Default none.
    - create_subscription: default False. True subscribes the account to Shield Advanced
      ($3,000/month per organization, one-year commitment, auto-renewing; removing it from the stack
      turns auto-renewal off but does not end the commitment).
    """

    resources: Mapping[str, pulumi.Input[str]]
    protection_group: Optional[ProtectionGroupOptions] = None
    health_check_arns: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    create_subscription: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)


def validate_protectable_arn(argument: str, arn: Any) -> Any:
    """Plain-string ARNs must name something Shield Advanced protects; Outputs pass unchecked."""
    if not isinstance(arn, str):
        return arn
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn":
        for (service, prefix), _ in PROTECTABLE.items():
            if parts[2] == service and parts[5].startswith(prefix):
                return arn
        if parts[2] == "elasticloadbalancing" and parts[5].startswith("loadbalancer/net/"):
            raise ValueError(f"{argument}: Shield Advanced does not protect a Network Load Balancer directly, got "
                             f"{arn!r}; protect its Elastic IPs instead")
    kinds = ", ".join(PROTECTABLE.values())
    raise ValueError(f"{argument}: expected the ARN of one of: {kinds}; got {arn!r}")


def monthly_subscription_usd() -> float:
    return service_price("shield", "advancedSubscription").usd


class ShieldProtection(pulumi.ComponentResource):
    """Shield Advanced protections for the given resources, optionally grouped and health-checked."""

    protection_ids: dict[str, pulumi.Output[str]]
    protection_group_arn: Optional[pulumi.Output[str]]
    subscription_monthly_usd: float

    def __init__(self, name: str, args: ShieldProtectionArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        if not isinstance(args, ShieldProtectionArgs):
            raise ValueError(f"args: expected ShieldProtectionArgs, got {type(args).__name__}")
        resources = labelled_inputs("resources", args.resources, min_items=1)
        for label, arn in resources.items():
            validate_protectable_arn(f"resources.{label}", arn)
        group = args.protection_group
        if group is not None:
            if not isinstance(group, ProtectionGroupOptions):
                raise ValueError(f"protection_group: expected ProtectionGroupOptions or None, got {group!r}")
            checks.one_of("protection_group.aggregation", group.aggregation, AGGREGATIONS)
            checks.text("name", name, PROTECTION_GROUP_ID,
                        "1 to 36 letters, digits and '-' (it is the protection group's id)")
        health_checks = labelled_inputs("health_check_arns", args.health_check_arns)
        for label, arn in health_checks.items():
            if label not in resources:
                raise ValueError(f"health_check_arns.{label}: no resource labelled {label!r}; expected one of "
                                 f"{', '.join(resources)}")
            if isinstance(arn, str) and not (arn.startswith("arn:") and ":route53:::healthcheck/" in arn):
                raise ValueError(f"health_check_arns.{label}: expected a Route 53 health check ARN "
                                 f"(arn:aws:route53:::healthcheck/ID), got {arn!r}")
        subscribe = checks.flag("create_subscription", args.create_subscription)
        tags = validate_tags("tags", args.tags)

        super().__init__("aifinops:edge:ShieldProtection", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        depends: list[pulumi.Resource] = []
        if subscribe:
            depends.append(aws.shield.Subscription(f"{name}-subscription", auto_renew="ENABLED", opts=child))
        protections = {
            label: aws.shield.Protection(f"{name}-{label}", name=f"{name}-{label}", resource_arn=arn, tags=tags,
                                         opts=pulumi.ResourceOptions(parent=self, depends_on=depends))
            for label, arn in resources.items()}
        for label, health_check_arn in health_checks.items():
            aws.shield.ProtectionHealthCheckAssociation(
                f"{name}-{label}-health", shield_protection_id=protections[label].id,
                health_check_arn=health_check_arn, opts=child)
        protection_group = None
        if group is not None:
            protection_group = aws.shield.ProtectionGroup(
                f"{name}-group", protection_group_id=name, aggregation=group.aggregation, pattern="ARBITRARY",
                members=list(resources.values()), tags=tags,
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(protections.values())))

        self.protection_ids = {label: p.id for label, p in protections.items()}
        self.protection_group_arn = protection_group.protection_group_arn if protection_group else None
        self.subscription_monthly_usd = monthly_subscription_usd() if subscribe else 0.0
        self.register_outputs({"protectionIds": self.protection_ids,
                               "protectionGroupArn": self.protection_group_arn,
                               "subscriptionMonthlyUsd": self.subscription_monthly_usd})
