"""imdsv2-required: instances and launch templates require IMDSv2 session tokens.

`metadataOptions.httpTokens` must be "required" (or the metadata endpoint disabled). IMDSv1 lets any SSRF
in a training or inference server read the instance role's credentials. An instance launched from a
launch template without its own metadataOptions takes the template's, which is checked itself.
"""
from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, Severity

from ..preview_values import UNKNOWN, dig, plain
from .ec2_launch_types import INSTANCE_TYPES, LAUNCH_TEMPLATE_TYPE

NAME = "imdsv2-required"


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in (*INSTANCE_TYPES, LAUNCH_TEMPLATE_TYPE):
        return
    props = plain(args.props)
    options = props.get("metadataOptions")
    if options is None and props.get("launchTemplate") is not None:
        return
    tokens, endpoint = dig(options, "httpTokens"), dig(options, "httpEndpoint")
    if UNKNOWN in (options, tokens, endpoint) or tokens == "required" or endpoint == "disabled":
        return
    found = f"httpTokens is {tokens!r}" if tokens is not None else "metadataOptions.httpTokens is not set (defaults to optional)"
    report_violation(f"{found}; set metadataOptions.httpTokens: \"required\".", None)


POLICY = ResourceValidationPolicy(
    name=NAME,
    description="EC2 instances and launch templates require IMDSv2 (metadataOptions.httpTokens: required).",
    validate=_validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps="Set metadataOptions {httpTokens: 'required', httpEndpoint: 'enabled'} "
                      "(aifinops.components.gpu_instance.metadata_options() does this).",
)
