"""`aifinops report --cur/--athena`: the AI cost views over CUR 2.0, one report for table, JSON, Markdown
and the HTML dashboard.

The views run through a `ViewRunner` (DuckDB over local Parquet, or Athena); this module only decides
what to ask and how to show it. Per-1,000-inference cost divides the serving spend of a model version
by its invocations (CloudWatch), when the caller read them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable, Mapping, Optional, Sequence

from .core.cur_views import DASHBOARD_VIEWS, ViewParameters, render, tag_key_spellings
from .core.errors import AifinopsError
from .spend_forecast import Forecast, forecast_spend

ViewRunner = Callable[[str, str], list[dict[str, Any]]]  # (view, SQL) -> rows
InvocationReader = Callable[[Sequence[str]], Mapping[str, float]]  # model versions -> invocations


class TagNotFoundError(AifinopsError):
    """The --tag filter matched no line item."""


@dataclass
class CurReport:
    source: str
    start: date
    end: date  # exclusive
    params: ViewParameters
    daily: list[dict[str, Any]]
    by_model: list[dict[str, Any]]
    by_run: list[dict[str, Any]]
    untagged: list[dict[str, Any]]
    inference: list[dict[str, Any]]  # model_version, cost, invocations, per_thousand
    by_tag: list[dict[str, Any]] = field(default_factory=list)
    forecast: Optional[Forecast] = None
    bytes_scanned: Optional[int] = None  # Athena only
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(r["cost"] for r in self.daily)

    def daily_totals(self) -> dict[date, float]:
        totals: dict[date, float] = {}
        for row in self.daily:
            totals[row["usage_date"]] = totals.get(row["usage_date"], 0.0) + row["cost"]
        return totals

    def by_product(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for row in self.daily:
            totals[row["product_code"]] = totals.get(row["product_code"], 0.0) + row["cost"]
        return dict(sorted(totals.items(), key=lambda item: -item[1]))

    def to_dict(self) -> dict[str, Any]:
        tag = self.params.tag_filter
        return {
            "source": self.source, "window": {"start": self.start.isoformat(), "end": self.end.isoformat()},
            "costBasis": self.params.cost_basis, "tag": f"{tag[0]}={tag[1]}" if tag else None,
            "total": round(self.total, 2),
            "dailyCost": [{"date": r["usage_date"].isoformat(), "productCode": r["product_code"],
                           "cost": round(r["cost"], 4)} for r in self.daily],
            "costByProduct": {k: round(v, 2) for k, v in self.by_product().items()},
            "costPerModelVersion": [{"modelVersion": r["model_version"], "cost": round(r["cost"], 2),
                                     "trainingRuns": r["training_runs"]} for r in self.by_model],
            "costPerTrainingRun": [{"trainingRun": r["training_run"], "modelVersion": r["model_version"],
                                    "cost": round(r["cost"], 2), "gpuHours": round(r["gpu_hours"], 1),
                                    "spotShare": round(spot_share(r), 4)} for r in self.by_run],
            "untaggedSpend": [{"tagKey": r["tag_key"], "untaggedCost": round(r["untagged_cost"], 2),
                               "taggableCost": round(r["taggable_cost"], 2), "totalCost": round(r["total_cost"], 2),
                               "share": round(untagged_share(r), 4)} for r in self.untagged],
            "costPerThousandInferences": [{"modelVersion": r["model_version"], "inferenceCost": round(r["cost"], 2),
                                           "invocations": r["invocations"],
                                           "costPerThousand": None if r["per_thousand"] is None
                                           else round(r["per_thousand"], 4)} for r in self.inference],
            "costByTag": ({"tagKey": self.group_key, "values": [{"value": r["tag_value"], "cost": round(r["cost"], 2)}
                                                                for r in self.by_tag]} if self.by_tag else None),
            "forecast": self.forecast.to_dict() if self.forecast else None,
            "athenaBytesScanned": self.bytes_scanned,
            "notes": list(self.notes),
        }

    @property
    def group_key(self) -> str:
        return self.params.group_tag or (self.params.tag_filter[0] if self.params.tag_filter else "Project")


def spot_share(row: Mapping[str, Any]) -> float:
    return row["spot_cost"] / row["cost"] if row["cost"] else 0.0


def untagged_share(row: Mapping[str, Any]) -> float:
    return row["untagged_cost"] / row["taggable_cost"] if row["taggable_cost"] else 0.0


def build_report(run: ViewRunner, params: ViewParameters, dialect: str, source: str, start: date, end: date, *,
                 group_by: bool = False, read_invocations: Optional[InvocationReader] = None,
                 budgets: Sequence[tuple[str, float]] = (), forecast: bool = True) -> CurReport:
    """Run the dashboard views; `read_invocations` (model versions -> counts) gives the per-1,000 cost."""
    rows = {view: run(view, render(view, params, dialect)) for view in DASHBOARD_VIEWS}
    if params.tag_filter is not None and not rows["daily_cost_by_product"]:
        raise TagNotFoundError(tag_not_found_message(run, params, dialect, start, end))
    notes = []
    for tag, view in ((params.model_tag, "cost_by_model_version"), (params.run_tag, "cost_by_training_run")):
        if not rows[view]:
            notes.append(f"no line item in the window carries the tag {tag!r} (is it activated as a cost-allocation "
                         f"tag?)")
    inference = []
    invocations = None
    if read_invocations is not None:
        invocations = read_invocations([row["model_version"] for row in rows["inference_cost_by_model"]])
    for row in rows["inference_cost_by_model"]:
        count = None if invocations is None else invocations.get(row["model_version"], 0.0)
        per_thousand = row["cost"] / count * 1000 if count else None
        inference.append({**row, "invocations": None if count is None else int(count), "per_thousand": per_thousand})
    if invocations is None and inference:
        notes.append("invocations not read: cost per 1,000 inferences needs --invocations (CloudWatch)")
    report = CurReport(source, start, end, params, rows["daily_cost_by_product"], rows["cost_by_model_version"],
                       rows["cost_by_training_run"], rows["untagged_spend"], inference, notes=notes)
    if group_by:
        report.by_tag = run("cost_by_tag", render("cost_by_tag", params, dialect))
    if forecast:
        report.forecast = forecast_spend(report.daily_totals(), budgets, as_of=_last_day(report, end))
        if not report.forecast.available:
            notes.append(f"forecast unavailable: {report.forecast.reason}")
    return report


def _last_day(report: CurReport, end: date) -> Optional[date]:
    days = report.daily_totals()
    return min(max(days), date.fromordinal(end.toordinal() - 1)) if days else None


def tag_not_found_message(run: ViewRunner, params: ViewParameters, dialect: str, start: date, end: date) -> str:
    key, value = params.tag_filter or ("", "")
    seen = run("tag_values", render("tag_values", params, dialect))
    window = f"from {start} to {end}"
    if not seen:
        spellings = ", ".join(tag_key_spellings(key))
        return (f"--tag {key}={value}: no line item {window} carries the tag key {key!r} (looked for resource_tags "
                f"keys {spellings}); only keys activated as cost-allocation tags reach the CUR")
    values = ", ".join(repr(r["tag_value"]) for r in seen)
    return f"--tag {key}={value}: no line item {window} has {key}={value!r}; values seen: {values}"
