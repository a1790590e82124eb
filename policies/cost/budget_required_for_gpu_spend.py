"""budget-required-for-gpu-spend: accelerated capacity is created only under a budget that watches it.

A resource that launches or reserves accelerated capacity (GPU, Trainium, Inferentia, Gaudi: the catalog
decides, by its family for a type it does not list, wherever the resource sets an instance type; an
auto scaling group through its launch template; a type it cannot classify counts as accelerated) must be covered by an AWS Budget on cost in the same stack (a CostBudget, or an
aws.budgets.Budget): one whose TagKeyValue filter matches the resource's cost tags (or that has no tag
filter), whose Service filter, if any, includes the service that bills it, whose Region and LinkedAccount
filters, if any, include the resource's region and account, and that has no filter aifinops cannot
evaluate for the resource (see aifinops.core.estimate.budgets).
"""
from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, Severity, StackValidationArgs, StackValidationPolicy

from aifinops.core import catalog
from aifinops.core.estimate.budgets import read_budgets
from aifinops.core.estimate.context import PricingContext
from aifinops.core.estimate.model import EC2_COMPUTE
from aifinops.core.estimate.usage import Usage
from aifinops.core.estimate.view import CostResource
from aifinops.core.tags import ASG_TYPE, LAUNCH_TEMPLATE_TYPE

from ..config_schema import config_schema
from ..cost_resources import from_policy_resources
from ..instance_type_locations import instance_type_settings
from ..preview_values import is_unknown

NAME = "budget-required-for-gpu-spend"
SAGEMAKER = "Amazon SageMaker"
SCHEMA = config_schema({})


def accelerated_types(ctx: PricingContext, resource: CostResource) -> list[str]:
    """The accelerated instance types (or families) a resource can launch or reserve."""
    if resource.type == LAUNCH_TEMPLATE_TYPE:
        return []  # a template launches nothing by itself: the group or instance using it is checked
    settings = instance_type_settings(resource.type, resource.props)
    if resource.type == ASG_TYPE and not settings:
        template = ctx.launch_template_of(resource)
        settings = instance_type_settings(template.type, template.props) if template is not None else []
    found = []
    for setting in settings:
        value = setting.value
        if not isinstance(value, str) or is_unknown(value):
            continue
        # A type the catalog and its family rule cannot classify may be accelerated: it needs a budget too.
        if catalog.classify(value, setting.is_family).verdict != catalog.NOT_ACCELERATED and value not in found:
            found.append(value)
    return found


def _validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    views = from_policy_resources(args.resources)
    ctx = PricingContext(views, Usage())
    budgets = [b for b in read_budgets(views) if b.monthly_usd is not None]
    for resource in views:
        if not resource.type.startswith("aws:"):
            continue
        types = accelerated_types(ctx, resource)
        if not types:
            continue
        tags = ctx.tags_of(resource)
        region, account = ctx.region_of(resource), ctx.account_of(resource)
        service = SAGEMAKER if resource.type.startswith("aws:sagemaker/") else EC2_COMPUTE
        # A budget with a filter that cannot be evaluated here (UsageType, an account not known offline)
        # may not watch this capacity: it proves nothing.
        if any(b.covers_resource(tags, region, account) and (b.services is None or service in b.services)
               and not b.unevaluated_filters(region, account) for b in budgets):
            continue
        shown_tags = ", ".join(f"{k}={v}" for k, v in sorted(tags.items())) or "no tags"
        existing = "; ".join(
            f"'{b.name}' covers {b.describe()}" + (f" (filters not evaluated offline: "
                                                   f"{', '.join(b.unevaluated_filters(region, account))})"
                                                   if b.unevaluated_filters(region, account) else "")
            for b in budgets) or "the stack has no cost budget"
        report_violation(
            f"{resource.type} '{resource.name}' creates accelerated capacity ({', '.join(types)}) with {shown_tags}, "
            f"but no cost budget covers it ({existing}). Add a CostBudget (costBudgets in the stack config) "
            f"filtered by one of its cost tags.", resource.urn)


POLICY = StackValidationPolicy(
    name=NAME,
    description="A stack that creates accelerated (GPU/Trainium/Inferentia/Gaudi) capacity has a cost budget "
                "whose filter covers that capacity's cost tags.",
    validate=_validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=SCHEMA,
    severity=Severity.HIGH,
    remediation_steps="Add a costBudgets entry (components.CostBudget) with tagFilters naming one of the "
                      "capacity's cost tags, e.g. {Project: <project>}.",
)
