"""gpu-instance-no-public-ip: accelerated instances get no public IP address.

A GPU host is reached through SSM or a load balancer, never directly: a public address invites scanning
of Jupyter, Ray and inference ports on the most expensive machines in the account. Checks instances and
spot instance requests (`associatePublicIpAddress`) and launch templates (`networkInterfaces[]`) whose
instance type the shared catalog knows as accelerated. An unknown type or flag is not a failure.
"""
from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, Severity

from aifinops.core import catalog

from ..preview_values import as_list, dig, is_true, is_unknown, plain
from .ec2_launch_types import INSTANCE_TYPES, LAUNCH_TEMPLATE_TYPE

NAME = "gpu-instance-no-public-ip"


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in (*INSTANCE_TYPES, LAUNCH_TEMPLATE_TYPE):
        return
    props = plain(args.props)
    instance_type = props.get("instanceType")
    if not isinstance(instance_type, str) or is_unknown(instance_type) or not catalog.is_accelerated(instance_type):
        return
    if args.resource_type == LAUNCH_TEMPLATE_TYPE:
        where = [f"networkInterfaces[{i}].associatePublicIpAddress"
                 for i, interface in enumerate(as_list(props.get("networkInterfaces")))
                 if is_true(dig(interface, "associatePublicIpAddress"))]
    else:
        where = ["associatePublicIpAddress"] if is_true(props.get("associatePublicIpAddress")) else []
    for path in where:
        report_violation(f"Accelerated instance type '{instance_type}' "
                         f"gets a public IP ({path} is true); reach it through SSM or a private load balancer.", None)


POLICY = ResourceValidationPolicy(
    name=NAME,
    description="Accelerated (GPU and other accelerator) instances have no public IP address.",
    validate=_validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps="Set associatePublicIpAddress: false and place the instance in a private subnet; "
                      "connect with SSM Session Manager.",
)
