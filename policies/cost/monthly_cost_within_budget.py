"""monthly-cost-within-budget: the stack's estimated monthly cost under each budget stays within it.

For every AWS Budget in the stack (a CostBudget's, or one written by hand) the estimator, running here in
the pack process with no network, prices the resources the budget's filters cover (cost-tag values,
services, regions and linked accounts: see `aifinops.core.estimate.budgets`) and compares the sum with the
budget amount less `headroomPercent`, at the desired size of every scalable group or, with `size: maximum`,
at its maximum (a covered group with no maximum then cannot be proven within budget). A filter it cannot evaluate counts every resource as matching, and
the message names it. Usage (GB stored, hours, requests) comes from config `usage`, else the stack's
`costUsage` config. Covered resources without a price are monthly-cost-fully-priced's business.
"""
from __future__ import annotations

import json
import os
from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, Severity, StackValidationArgs, StackValidationPolicy

from aifinops.core.estimate import CostResource, Estimate, Usage, estimate, parse_usage, usage_from_stack_config
from aifinops.core.estimate.budgets import covered_resources, read_budgets, uncounted_resources, unevaluated_filters
from aifinops.core.estimate.usage import USAGE_SCHEMA

from ..call_memo import once_per_call
from ..config_schema import config_schema, setting
from ..cost_resources import from_policy_resources

NAME = "monthly-cost-within-budget"
TOP_DRIVERS = 3
SCHEMA = config_schema({
    "headroomPercent": {
        "type": "number", "minimum": 0, "maximum": 100, "default": 0,
        "description": "Keep the estimate this many percent below each budget (10: at most 90% of the amount).",
    },
    "size": {
        "type": "string", "enum": ["desired", "maximum"], "default": "desired",
        "description": "Price auto scaling groups, node groups and NodePools at their desired or their maximum size.",
    },
    "usage": {
        **USAGE_SCHEMA, "default": {},
        "description": "Usage for the estimate, in the usage-file format (empty: the stack's costUsage config).",
    },
})


def _stack_config() -> dict[str, Any]:
    """The stack config the engine passes to the pack process (PULUMI_CONFIG)."""
    try:
        config = json.loads(os.environ.get("PULUMI_CONFIG") or "{}")
    except ValueError:
        return {}
    return config if isinstance(config, dict) else {}


def stack_usage(configured: Any) -> Usage:
    """The policy's `usage` config, else `<project>:costUsage` from the stack config the engine passes in."""
    if configured:
        return parse_usage(configured, f"policy config {NAME}.usage")
    raw = usage_from_stack_config(_stack_config(), os.environ.get("PULUMI_PROJECT") or None)
    return parse_usage(raw, "stack config costUsage") if raw is not None else Usage()


def stack_estimate(args: StackValidationArgs, views: list[CostResource]) -> Estimate:
    """The estimate of the stack as `aifinops cost` makes it: the policy's usage, the stack's `aws:region`."""
    region = _stack_config().get("aws:region")
    usage = setting(args, SCHEMA, "usage")
    # The policies of one AnalyzeStack call that price the stack with the same usage share the estimate.
    return once_per_call(("estimate", json.dumps(usage, sort_keys=True, default=str)),
                         lambda: estimate(views, stack_usage(usage), region=region if isinstance(region, str)
                                          and region else None), of=views)


def _validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    headroom = float(setting(args, SCHEMA, "headroomPercent"))
    views = from_policy_resources(args.resources)
    at_maximum = setting(args, SCHEMA, "size") == "maximum"
    result = stack_estimate(args, views)
    if at_maximum:
        result = result.at_maximum()
    for budget in read_budgets(views):
        if budget.monthly_usd is None:
            continue
        limit = budget.monthly_usd * (1 - headroom / 100)
        covered = covered_resources(budget, result)
        total = sum(usd for _, usd in covered)
        unbounded = [r.name for r in result.unbounded if budget.covers(r)] if at_maximum else []
        if unbounded:  # fail closed: nothing bounds what these may cost
            report_violation(
                f"budget '{budget.name}' ${budget.monthly_usd:,.2f} cannot be proven at maximum size: "
                f"{', '.join(unbounded)} {'has' if len(unbounded) == 1 else 'have'} no maximum size "
                f"(give the NodePool a GPU limit or the workload an autoscaling maximum)", budget.urn)
            continue
        if total <= limit:
            continue
        drivers = ", ".join(f"{r.name} ({r.type.split(':')[-1]}) ${usd:,.2f}" for r, usd in covered[:TOP_DRIVERS])
        with_headroom = f" less {headroom:g}% headroom = ${limit:,.2f}" if headroom else ""
        missing = uncounted_resources(budget, result)
        not_counted = f"; {len(missing)} covered resources could not be priced and are not counted" if missing else ""
        unevaluated = unevaluated_filters(budget, [r for r, _ in covered])
        not_evaluated = (f"; filters not evaluated, every resource counted as matching them: {', '.join(unevaluated)}"
                         if unevaluated else "")
        at_size = " at maximum size" if at_maximum else ""
        report_violation(
            f"estimated monthly cost{at_size} ${total:,.2f} of {budget.describe()} exceeds budget '{budget.name}' "
            f"${budget.monthly_usd:,.2f}{with_headroom}; top cost drivers: {drivers}{not_counted}{not_evaluated}",
            budget.urn)


POLICY = StackValidationPolicy(
    name=NAME,
    description="The stack's estimated monthly cost under each AWS Budget stays within the budget's amount.",
    validate=_validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=SCHEMA,
    severity=Severity.HIGH,
    remediation_steps="Run `aifinops cost` to see the price lines; cut the top cost drivers (spot capacity, fewer "
                      "hours, lifecycle tiers) or raise the budget amount deliberately.",
)
