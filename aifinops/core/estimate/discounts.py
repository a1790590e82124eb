"""What the team pays below list price: reserved instances and Savings Plans per instance family, and an
enterprise discount, each applied as its own negative line so the estimate matches the bill.

```yaml
discounts:
  commitments:
    - kind: reserved            # reserved | savingsPlan (EC2 Instance Savings Plan: per family)
      family: p4d               # or instanceType: p4d.24xlarge
      instances: 2              # instances covered all month; or coveragePercent of the family's on-demand hours
      term: 1yr                 # 1yr | 3yr
      payment: noUpfront        # noUpfront | partialUpfront | allUpfront
      offeringClass: standard   # reserved only: standard | convertible
      discountPercent: 38       # off on-demand; needed when the EC2 table has no rate for the term
  enterpriseDiscountPercent: 5  # off everything, after commitments
```
A reservation's effective hourly price (upfront spread over the term) comes from the region's EC2 table,
filled by `aifinops catalog refresh`, keyed "1yr/standard/No Upfront"; Savings Plans rates are not in the
Price List API's EC2 offers, so a Savings Plan needs discountPercent.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from aifinops.core import catalog

from .model import PriceLine, ResourceCost

PAYMENT_OPTIONS = {"noUpfront": "No Upfront", "partialUpfront": "Partial Upfront", "allUpfront": "All Upfront"}
COMMITMENT_KINDS = {"reserved": "reserved instances", "savingsPlan": "EC2 Instance Savings Plan"}
_PERCENT = {"type": "number", "minimum": 0, "maximum": 100}
DISCOUNTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "enterpriseDiscountPercent": _PERCENT,
        "commitments": {"type": "array", "items": {
            "type": "object",
            "properties": {
                "kind": {"enum": list(COMMITMENT_KINDS)},
                "family": {"type": "string", "minLength": 1},
                "instanceType": {"type": "string", "minLength": 1},
                "instances": {"type": "number", "minimum": 0},
                "coveragePercent": _PERCENT,
                "term": {"enum": ["1yr", "3yr"]},
                "payment": {"enum": list(PAYMENT_OPTIONS)},
                "offeringClass": {"enum": ["standard", "convertible"]},
                "discountPercent": _PERCENT,
            },
            "required": ["kind", "term", "payment"],
            "oneOf": [{"required": ["family"]}, {"required": ["instanceType"]}],
            "additionalProperties": False,
        }},
    },
    "additionalProperties": False,
}


@dataclass(frozen=True)
class Commitment:
    kind: str
    scope: str  # a family ("p4d") or an instance type ("p4d.24xlarge")
    term: str
    payment: str
    offering_class: str = "standard"
    instances: Optional[float] = None
    coverage_percent: Optional[float] = None
    discount_percent: Optional[float] = None

    @staticmethod
    def from_usage(raw: dict[str, Any]) -> "Commitment":
        return Commitment(str(raw["kind"]), str(raw.get("instanceType") or raw["family"]), str(raw["term"]),
                          str(raw["payment"]), str(raw.get("offeringClass", "standard")), raw.get("instances"),
                          raw.get("coveragePercent"), raw.get("discountPercent"))

    @property
    def term_key(self) -> str:
        return f"{self.term}/{self.offering_class}/{PAYMENT_OPTIONS[self.payment]}"

    @property
    def label(self) -> str:
        what = f"{COMMITMENT_KINDS[self.kind]} ({self.term}, {PAYMENT_OPTIONS[self.payment]}"
        return what + (f", {self.offering_class})" if self.kind == "reserved" else ")")

    def covers(self, instance_type: str) -> bool:
        return instance_type == self.scope or instance_type.split(".", 1)[0] == self.scope


@dataclass
class Discounts:
    commitments: list[Commitment]
    enterprise_percent: float = 0.0
    source: str = ""

    @staticmethod
    def from_usage(raw: Optional[dict[str, Any]], source: str) -> "Discounts":
        raw = raw or {}
        return Discounts([Commitment.from_usage(c) for c in raw.get("commitments") or []],
                         float(raw.get("enterpriseDiscountPercent", 0.0)), source)


def apply_discounts(costs: list[ResourceCost], discounts: Discounts, regions: dict[str, str],
                    hours_per_instance: float) -> list[str]:
    """Add commitment and enterprise-discount lines to `costs` in place; return warnings.

    `regions` maps a resource URN to the region it is priced in (a reservation's rate is regional).
    Commitments cover on-demand EC2 instance-hours in URN order; the naive equivalent keeps list prices
    less the enterprise discount, so savings count what commitments save.
    """
    warnings: list[str] = []
    ordered = sorted((c for c in costs if c.status == "priced"), key=lambda c: c.urn)
    for commitment in discounts.commitments:
        eligible = [(cost, line) for cost in ordered for line in cost.lines
                    if line.instance_type and line.unit_usd > 0 and commitment.covers(line.instance_type)]
        pool = sum(line.quantity for _, line in eligible)
        if commitment.instances is not None:
            left = commitment.instances * hours_per_instance
        else:
            left = pool * (commitment.coverage_percent if commitment.coverage_percent is not None else 100) / 100
        if not eligible:
            warnings.append(f"{commitment.label} for {commitment.scope}: no on-demand {commitment.scope} "
                            f"instance-hours in the stack to cover")
            continue
        if left > pool:
            warnings.append(f"{commitment.label} for {commitment.scope}: {left:g} instance-hours committed but only "
                            f"{pool:g} on-demand hours in the stack; the unused part is still paid")
        for cost, line in eligible:
            if left <= 0:
                break
            covered = min(left, line.quantity)
            left -= covered
            rate, source = _committed_rate(commitment, line, regions.get(cost.urn, catalog.DEFAULT_REGION),
                                           discounts.source)
            if rate is None:
                warnings.append(f"{commitment.label} for {line.instance_type} on {cost.name}: no rate for "
                                f"{commitment.term_key} in the EC2 table; set discountPercent in the usage file "
                                f"(covered hours stay at the on-demand price)")
                continue
            _prepare_naive(cost)
            cost.lines.append(PriceLine(
                f"{line.instance_type} {commitment.label} instead of on-demand", covered, "instance-hours",
                round(rate - line.unit_usd, 6), line.service, source[0], source[1],
                f"{covered:g} of {line.quantity:g} on-demand hours covered, at ${rate:g}/h"))
    if discounts.enterprise_percent:
        for cost in ordered:
            _prepare_naive(cost)
            cost.lines += _enterprise_lines(cost.lines, discounts)
            cost.naive_lines += _enterprise_lines(cost.naive_lines, discounts)
    return warnings


def _committed_rate(commitment: Commitment, line: PriceLine, region: str,
                    usage_source: str) -> tuple[Optional[float], tuple[str, str]]:
    if commitment.discount_percent is not None:
        return (line.unit_usd * (1 - commitment.discount_percent / 100),
                (f"usage file {usage_source}: {commitment.discount_percent:g}% off on-demand", line.as_of))
    if commitment.kind != "reserved":
        return None, ("", "")
    table = catalog.price_table(region)
    rate = table.reserved_usd(line.instance_type, commitment.term_key)
    return rate, (table.source, table.as_of)


def _prepare_naive(cost: ResourceCost) -> None:
    """Pin the naive lines to the list-price lines before discount lines are added."""
    if cost.naive_lines is None:
        cost.naive_lines = list(cost.lines)


def _enterprise_lines(lines: list[PriceLine], discounts: Discounts) -> list[PriceLine]:
    """One line per billing service, so a Service-filtered budget sees its share of the discount."""
    totals: dict[str, float] = {}
    for line in lines:
        totals[line.service] = totals.get(line.service, 0.0) + line.monthly_usd
    percent = discounts.enterprise_percent
    return [PriceLine(f"enterprise discount {percent:g}%", 1, "month", -round(total * percent / 100, 6), service,
                      f"usage file {discounts.source}: enterpriseDiscountPercent", "usage file",
                      f"{percent:g}% of ${total:,.2f}")
            for service, total in totals.items() if total > 0]
