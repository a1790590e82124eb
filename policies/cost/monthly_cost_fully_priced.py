"""monthly-cost-fully-priced: every resource a budget covers has a price, so the budget gate proves something.

monthly-cost-within-budget sums the priced resources under each AWS Budget. A covered resource the
estimator cannot price (`unpriced`: no price model or no price for its type, such as p6-b200.48xlarge) or
that costs by usage the usage file does not give (`needs-usage`) would add an unknown amount: the stack
cannot be proven within the budget. Mandatory by default, so the gate fails closed; a pack config of
`{"monthly-cost-fully-priced": "advisory"}` keeps the finding without blocking. The estimate is the one
monthly-cost-within-budget makes: usage from this policy's `usage` config, else the stack's costUsage.
"""
from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, Severity, StackValidationArgs, StackValidationPolicy

from aifinops.core.estimate.budgets import covered_resources, read_budgets, uncounted_resources, unevaluated_filters

from ..config_schema import config_schema
from ..cost_resources import from_policy_resources
from . import monthly_cost_within_budget
from .monthly_cost_within_budget import stack_estimate

NAME = "monthly-cost-fully-priced"
# The same `usage` property as monthly-cost-within-budget's (the stack's costUsage config serves both).
SCHEMA = config_schema({"usage": monthly_cost_within_budget.SCHEMA.properties["usage"]})
LISTED = 10  # resources named per message; the rest are counted


def _validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    views = from_policy_resources(args.resources)
    result = stack_estimate(args, views)
    for budget in read_budgets(views):
        if budget.monthly_usd is None:
            continue
        missing = uncounted_resources(budget, result)
        if not missing:
            continue
        named = "; ".join(f"{r.name} ({r.type}, {r.status}: {r.note})" for r in missing[:LISTED])
        more = f"; and {len(missing) - LISTED} more" if len(missing) > LISTED else ""
        priced = sum(usd for _, usd in covered_resources(budget, result))
        unevaluated = unevaluated_filters(budget, missing)
        not_evaluated = (f" Filters not evaluated, every resource counted as matching them: {', '.join(unevaluated)}."
                         if unevaluated else "")
        report_violation(
            f"budget '{budget.name}' (${budget.monthly_usd:,.2f}, {budget.describe()}) cannot be proven: "
            f"{len(missing)} covered resource{'s have' if len(missing) > 1 else ' has'} no monthly price and the "
            f"priced ${priced:,.2f} leaves {'them' if len(missing) > 1 else 'it'} out: "
            f"{named}{more}.{not_evaluated} Give their usage in the usage file (costUsage), or add their prices.",
            budget.urn)


POLICY = StackValidationPolicy(
    name=NAME,
    description="Every resource an AWS Budget in the stack covers has a monthly price (or the usage to price it), "
                "so monthly-cost-within-budget can prove the stack within the budget.",
    validate=_validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=SCHEMA,
    severity=Severity.HIGH,
    remediation_steps="Run `aifinops cost` to see the unpriced and needs-usage resources; give their usage in the "
                      "usage file or the stack's costUsage config, or set this policy to advisory in the "
                      "aifinops-cost policy pack config to accept the risk.",
)
