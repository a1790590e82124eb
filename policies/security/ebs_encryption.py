"""ebs-volumes-encrypted: every EBS volume an instance, launch template or Volume creates is encrypted.

Instances and spot instance requests need `rootBlockDevice.encrypted` and `encrypted` on each of their
`ebsBlockDevices` (an instance launched from a launch template takes its root volume from the template,
which is checked itself). Launch templates need `ebs.encrypted` on every block device mapping, and at
least one mapping: without one, the volumes come from the AMI's snapshots, unencrypted for public AMIs.
A flag that is unknown during preview counts as set.
"""
from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, Severity

from ..preview_values import UNKNOWN, as_list, dig, is_true, plain
from .ec2_launch_types import EBS_VOLUME_TYPE, INSTANCE_TYPES, LAUNCH_TEMPLATE_TYPE

NAME = "ebs-volumes-encrypted"


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    props = plain(args.props)
    if args.resource_type in INSTANCE_TYPES:
        problems = _instance_problems(props)
    elif args.resource_type == LAUNCH_TEMPLATE_TYPE:
        problems = _launch_template_problems(props)
    elif args.resource_type == EBS_VOLUME_TYPE:
        problems = [] if _encrypted(props.get("encrypted")) else ["the volume is not encrypted (set encrypted: true)"]
    else:
        return
    for problem in problems:
        report_violation(f"{problem}.", None)


def _encrypted(flag: Any) -> bool:
    return flag is UNKNOWN or is_true(flag)


def _instance_problems(props: dict[str, Any]) -> list[str]:
    problems = []
    root = props.get("rootBlockDevice")
    if root is None and props.get("launchTemplate") is None:
        problems.append("no rootBlockDevice, so the root volume is the AMI's default and unencrypted "
                        "(set rootBlockDevice.encrypted: true)")
    elif root is not None and not _encrypted(dig(root, "encrypted")):
        problems.append("rootBlockDevice is not encrypted (set rootBlockDevice.encrypted: true)")
    for index, device in enumerate(as_list(props.get("ebsBlockDevices"))):
        if not _encrypted(dig(device, "encrypted")):
            problems.append(f"ebsBlockDevices[{index}] ({dig(device, 'deviceName')}) is not encrypted")
    return problems


def _launch_template_problems(props: dict[str, Any]) -> list[str]:
    mappings = props.get("blockDeviceMappings")
    if mappings is UNKNOWN:
        return []
    if not mappings:
        return ["no blockDeviceMappings, so volumes come unencrypted from the AMI's snapshots "
                "(map the root device with ebs.encrypted: 'true')"]
    problems = []
    for index, mapping in enumerate(as_list(mappings)):
        ebs = dig(mapping, "ebs")
        if ebs is not None and not _encrypted(dig(ebs, "encrypted")):
            problems.append(f"blockDeviceMappings[{index}] ({dig(mapping, 'deviceName')}) is not encrypted "
                            f"(set ebs.encrypted: 'true')")
    return problems


POLICY = ResourceValidationPolicy(
    name=NAME,
    description="EBS volumes (instance root and block devices, launch template mappings, volumes) are encrypted.",
    validate=_validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps="Set encrypted on every root and EBS block device (aifinops.components.gpu_instance.root_volume() "
                      "does this), optionally with a customer-managed kmsKeyId.",
)
