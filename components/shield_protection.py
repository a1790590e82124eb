"""ShieldProtection: AWS Shield Advanced protection for the public edges of an AI service.

A DDoS against an inference endpoint is a bill as much as an outage: autoscaling adds GPUs to serve the
flood. Shield Advanced absorbs it and refunds scaling charges caused by an attack, but it costs
$3,000 a month per organization with a one-year commitment; so the account-level subscription is created
only when asked (`create_subscription`), and protections assume one exists otherwise.

Every protected resource gets a CloudWatch alarm on Shield's `DDoSDetected` metric (namespace
AWS/DDoSProtection, dimension ResourceArn), optionally alarms on the attack-volume metrics too, all sent
to one KMS-encrypted SNS topic (`alarm_topic_arn`): what a DdosCostResponse subscribes to.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from aifinops.core import argument_checks as checks
from aifinops.core.service_prices import service_price

from .alert_topic import declared_alert_usage, encrypted_alert_topic, validate_emails
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
DDOS_NAMESPACE = "AWS/DDoSProtection"
DDOS_DETECTED = "DDoSDetected"
# Attack-volume metrics, per resource kind: requests are only counted at layer 7 (ALB, CloudFront).
VOLUME_METRICS = ("DDoSAttackBitsPerSecond", "DDoSAttackPacketsPerSecond")
LAYER7_VOLUME_METRIC = "DDoSAttackRequestsPerSecond"
LAYER7_KINDS = ("Application Load Balancer", "CloudFront distribution")
DRT_ACCESS_POLICY = "AWSShieldDRTAccessPolicy"  # AWS's managed policy for the Shield Response Team
_PHONE = re.compile(r"^\+[1-9]\d{1,14}$")  # E.164, as Shield's emergency contacts take it
PROTECTION_GROUP_ID = re.compile(r"^[A-Za-z0-9-]{1,36}$")


@dataclass
class ProtectionGroupOptions:
    """Group the protected resources so Shield detects attacks on the application as a whole.

    aggregation: 'MAX' (default, right when the resources front the same traffic, e.g. a CloudFront
    distribution and its origin ALB), 'SUM' (traffic split across them, e.g. several Elastic IPs) or 'MEAN'.
    """

    aggregation: Literal["MAX", "SUM", "MEAN"] = "MAX"


@dataclass
class EmergencyContact:
    """Someone the Shield Response Team contacts during an attack. phone_number in E.164 (+15555550100)."""

    email_address: str
    phone_number: Optional[str] = None
    contact_notes: Optional[str] = None


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
    - ddos_alarms: default True: per resource an alarm `<name>-<label>-ddos-detected` on DDoSDetected
      (ResourceArn dimension; >= 1 in a one-minute period; missing data is not an attack), with ALARM and
      OK notifications to a new KMS-encrypted topic only CloudWatch of this account may publish to.
      Metrics of CloudFront, Route 53 and Global Accelerator are reported in us-east-1: create the
      component there (or with a us-east-1 provider) for those.
    - attack_volume_alarms: default False; True adds alarms on DDoSAttackBitsPerSecond and
      DDoSAttackPacketsPerSecond (and DDoSAttackRequestsPerSecond for ALBs and CloudFront, and for ARNs
      only known at deploy time), which AWS only reports during an attack, to the same topic.
    - alert_emails: email subscriptions to the topic (default none).
    - emergency_contacts: default none. Given, Shield proactive engagement is turned on: the Shield
      Response Team calls these contacts when a protected resource's health check goes unhealthy
      during an attack (at least one needs a phone number; associate health checks for it to work).
    - drt_access: default False; True creates a role the Shield Response Team may assume (AWS's managed
      AWSShieldDRTAccessPolicy: it can read and update WAF and Shield settings) and associates it.
    """

    resources: Mapping[str, pulumi.Input[str]]
    protection_group: Optional[ProtectionGroupOptions] = None
    health_check_arns: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    create_subscription: bool = False
    ddos_alarms: bool = True
    attack_volume_alarms: bool = False
    alert_emails: Sequence[str] = ()
    emergency_contacts: Sequence[EmergencyContact] = ()
    drt_access: bool = False
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


def protected_kind(arn: Any) -> Optional[str]:
    """What kind of resource a plain-string ARN names (None for an Output)."""
    if not isinstance(arn, str):
        return None
    parts = arn.split(":", 5)
    return next((kind for (service, prefix), kind in PROTECTABLE.items()
                 if parts[2] == service and parts[5].startswith(prefix)), None)


def validate_emergency_contacts(argument: str, contacts: Any) -> list[EmergencyContact]:
    if isinstance(contacts, (str, bytes)) or not isinstance(contacts, Sequence):
        raise ValueError(f"{argument}: expected a list of EmergencyContact, got {contacts!r}")
    for index, contact in enumerate(contacts):
        where = f"{argument}[{index}]"
        if not isinstance(contact, EmergencyContact):
            raise ValueError(f"{where}: expected EmergencyContact, got {contact!r}")
        validate_emails(f"{where}.email_address", [contact.email_address])
        if contact.phone_number is not None:
            checks.text(f"{where}.phone_number", contact.phone_number, _PHONE, "an E.164 number such as '+15555550100'")
    if contacts and not any(c.phone_number for c in contacts):
        raise ValueError(f"{argument}: Shield proactive engagement needs at least one contact with a phone number, "
                         f"got none among {len(contacts)} contact(s)")
    return list(contacts)


def drt_trust_policy() -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "drt.shield.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


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
        alarms = checks.flag("ddos_alarms", args.ddos_alarms)
        volume_alarms = checks.flag("attack_volume_alarms", args.attack_volume_alarms)
        if volume_alarms and not alarms:
            raise ValueError("attack_volume_alarms: needs ddos_alarms (they share its topic), got ddos_alarms=False")
        emails = validate_emails("alert_emails", list(args.alert_emails) if isinstance(args.alert_emails, tuple)
                                 else args.alert_emails)
        if emails and not alarms:
            raise ValueError(f"alert_emails: the alarms topic exists only with ddos_alarms, got {emails!r}")
        contacts = validate_emergency_contacts("emergency_contacts", args.emergency_contacts)
        drt_access = checks.flag("drt_access", args.drt_access)
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

        self.alarm_topic_arn: Optional[pulumi.Output[str]] = None
        topic: Optional[aws.sns.Topic] = None
        self.alarm_names: list[str] = []
        self.ddos_detected_alarm_names: list[str] = []  # what a DdosCostResponse acts on
        if alarms:
            topic = encrypted_alert_topic(name, ["cloudwatch.amazonaws.com"], emails,
                                          f"aifinops ShieldProtection {name}", self)
            self.alarm_topic_arn = topic.arn
            for label, arn in resources.items():
                metrics = [DDOS_DETECTED]
                if volume_alarms:
                    metrics += [*VOLUME_METRICS, *([LAYER7_VOLUME_METRIC] if protected_kind(arn) in LAYER7_KINDS
                                                   or protected_kind(arn) is None else [])]
                for metric in metrics:
                    self.alarm_names.append(self._alarm(name, label, arn, metric, topic, tags))
                    if metric == DDOS_DETECTED:
                        self.ddos_detected_alarm_names.append(self.alarm_names[-1])
        if contacts:
            aws.shield.ProactiveEngagement(
                f"{name}-proactive-engagement", enabled=True,
                emergency_contacts=[{"email_address": c.email_address, "phone_number": c.phone_number,
                                     "contact_notes": c.contact_notes} for c in contacts],
                opts=pulumi.ResourceOptions(parent=self, depends_on=depends))
        if drt_access:
            partition = aws.get_partition_output(opts=pulumi.InvokeOptions(parent=self)).partition
            role = aws.iam.Role(f"{name}-drt-access", description=f"aifinops ShieldProtection {name}: Shield "
                                f"Response Team access", assume_role_policy=drt_trust_policy(), tags=tags, opts=child)
            attachment = aws.iam.RolePolicyAttachment(
                f"{name}-drt-access", role=role.name,
                policy_arn=partition.apply(lambda p: f"arn:{p}:iam::aws:policy/service-role/{DRT_ACCESS_POLICY}"),
                opts=child)
            aws.shield.DrtAccessRoleArnAssociation(f"{name}-drt-access", role_arn=role.arn,
                                                   opts=pulumi.ResourceOptions(parent=self,
                                                                               depends_on=[attachment, *depends]))

        self.protection_ids = {label: p.id for label, p in protections.items()}
        self.protection_group_arn = protection_group.protection_group_arn if protection_group else None
        self.subscription_monthly_usd = monthly_subscription_usd() if subscribe else 0.0
        self.register_outputs({"protectionIds": self.protection_ids,
                               "protectionGroupArn": self.protection_group_arn,
                               "subscriptionMonthlyUsd": self.subscription_monthly_usd,
                               "alarmTopicArn": self.alarm_topic_arn, "alarmNames": self.alarm_names,
                               **declared_alert_usage(name, emails, topic)})

    def _alarm(self, name: str, label: str, arn: pulumi.Input[str], metric: str, topic: aws.sns.Topic,
               tags: Mapping[str, str]) -> str:
        """One alarm on a Shield metric of one resource; its name."""
        detected = metric == DDOS_DETECTED
        suffix = "ddos-detected" if detected else re.sub(r"(?<!^)(?=[A-Z])", "-", metric.removeprefix("DDoSAttack")).lower()
        alarm_name = f"{name}-{label}-{suffix}"
        aws.cloudwatch.MetricAlarm(
            alarm_name, name=alarm_name,
            alarm_description=(f"Shield Advanced detected a DDoS attack on {label}" if detected
                               else f"Shield Advanced measured {metric} on {label} during an attack"),
            namespace=DDOS_NAMESPACE, metric_name=metric, dimensions={"ResourceArn": arn},
            statistic="Sum" if detected else "Maximum", period=60, evaluation_periods=1,
            threshold=1 if detected else 0,
            comparison_operator="GreaterThanOrEqualToThreshold" if detected else "GreaterThanThreshold",
            treat_missing_data="notBreaching", actions_enabled=True, alarm_actions=[topic.arn],
            ok_actions=[topic.arn], tags=tags, opts=pulumi.ResourceOptions(parent=self))
        return alarm_name
