"""Cost reports from Cost Explorer, CloudWatch and EC2: per model version, per training run, per 1,000
inferences, and a weekly FinOps summary in Markdown (top movers, untagged spend, idle-GPU hours saved).

Conventions the report relies on (the components and the cost-tag transform set them):
- training resources carry the model tag (default `ModelVersion`) and the run tag (`TrainingRun`);
- serving resources (SageMaker endpoints) carry the model tag and no run tag, so a model version's
  serving cost is its spend with an empty run tag;
- cost allocation tags are activated in the billing console (Cost Explorer ignores tags that are not).
Each Cost Explorer request costs $0.01; the weekly summary makes 3 + one per required tag.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Optional, Sequence

from botocore.exceptions import BotoCoreError, ClientError

from aifinops.core import catalog
from aifinops.core.automation_settings import STOPPED_AT_TAG, STOPPED_BY_TAG

from .aws_clients import AwsClients
from .ec2_instances import describe_error, describe_instances, tag_dict
from .idle_gpu_reaper_handler import JOB as REAPER_JOB

DEFAULT_METRIC = "UnblendedCost"
INVOCATIONS_METRIC = ("AWS/SageMaker", "Invocations")
DAY_SECONDS = 86400


@dataclass(frozen=True)
class Window:
    """Whole days from `start` up to, not including, `end` (Cost Explorer's convention)."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if not isinstance(self.start, date) or not isinstance(self.end, date) or self.end <= self.start:
            raise ValueError(f"window: expected a start date before the end date, got {self.start!r} to {self.end!r}")

    @classmethod
    def week_ending(cls, end: date) -> "Window":
        return cls(end - timedelta(days=7), end)

    def previous(self) -> "Window":
        return Window(self.start - (self.end - self.start), self.start)

    def bounds(self) -> tuple[datetime, datetime]:
        return (datetime.combine(self.start, time(), timezone.utc), datetime.combine(self.end, time(), timezone.utc))

    def as_ce(self) -> dict[str, str]:
        return {"Start": self.start.isoformat(), "End": self.end.isoformat()}


def cost_by(ce: Any, window: Window, group_by: Sequence[tuple[str, str]], metric: str = DEFAULT_METRIC) -> dict[tuple[str, ...], float]:
    """(group values) -> cost over the window. Group by ("TAG", key) or ("DIMENSION", key); at most two.

    An untagged resource's tag value is "" (Cost Explorer's `Key$`).
    """
    totals: dict[tuple[str, ...], float] = defaultdict(float)
    request: dict[str, Any] = {"TimePeriod": window.as_ce(), "Granularity": "DAILY", "Metrics": [metric],
                               "GroupBy": [{"Type": kind, "Key": key} for kind, key in group_by]}
    while True:
        response = ce.get_cost_and_usage(**request)
        for period in response.get("ResultsByTime", []):
            for group in period.get("Groups", []):
                keys = tuple(_group_value(k, kind) for k, (kind, _) in zip(group["Keys"], group_by))
                totals[keys] += float(group["Metrics"][metric]["Amount"])
        if not response.get("NextPageToken"):
            return dict(totals)
        request["NextPageToken"] = response["NextPageToken"]


def _group_value(key: str, kind: str) -> str:
    return key.split("$", 1)[1] if kind == "TAG" and "$" in key else key


@dataclass
class ModelCosts:
    per_model: dict[str, float] = field(default_factory=dict)
    per_run: dict[tuple[str, str], float] = field(default_factory=dict)  # (model version, run) -> cost
    serving: dict[str, float] = field(default_factory=dict)  # model version -> cost with no run tag
    invocations: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # endpoints that could not be read: left out, run goes on

    def per_thousand_inferences(self) -> dict[str, Optional[float]]:
        return {model: (cost / self.invocations[model] * 1000 if self.invocations.get(model) else None)
                for model, cost in self.serving.items()}


def model_costs(clients: AwsClients, window: Window, model_tag: str, run_tag: str,
                metric: str = DEFAULT_METRIC) -> ModelCosts:
    result = ModelCosts()
    for (model, run), cost in cost_by(clients.client("ce"), window, [("TAG", model_tag), ("TAG", run_tag)], metric).items():
        if not model:
            continue
        result.per_model[model] = result.per_model.get(model, 0.0) + cost
        if run:
            result.per_run[(model, run)] = cost
        else:
            result.serving[model] = cost
    result.invocations = invocations_by_model(clients, window, model_tag, result.errors)
    return result


def invocations_by_model(clients: AwsClients, window: Window, model_tag: str, errors: list[str]) -> dict[str, float]:
    """Model version -> SageMaker endpoint invocations over the window (endpoints tagged with the model tag).

    An endpoint whose tags or variants cannot be read is left out and named in `errors`.
    """
    sagemaker = clients.client("sagemaker")
    variants: list[tuple[str, str, str]] = []  # (model version, endpoint, variant)
    for page in sagemaker.get_paginator("list_endpoints").paginate():
        for endpoint in page.get("Endpoints", []):
            try:
                tags = tag_dict(sagemaker.list_tags(ResourceArn=endpoint["EndpointArn"]).get("Tags"))
                if tags.get(model_tag):
                    described = sagemaker.describe_endpoint(EndpointName=endpoint["EndpointName"])
                    variants += [(tags[model_tag], endpoint["EndpointName"], v["VariantName"])
                                 for v in described.get("ProductionVariants", [])]
            except (ClientError, BotoCoreError) as error:
                errors.append(f"{endpoint['EndpointArn']}: {describe_error(error)}")
    counts: dict[str, float] = defaultdict(float)
    start, end = window.bounds()
    for offset in range(0, len(variants), 500):
        batch = variants[offset:offset + 500]
        queries = [{"Id": f"inv{index}", "ReturnData": True, "MetricStat": {
            "Metric": {"Namespace": INVOCATIONS_METRIC[0], "MetricName": INVOCATIONS_METRIC[1],
                       "Dimensions": [{"Name": "EndpointName", "Value": endpoint},
                                      {"Name": "VariantName", "Value": variant}]},
            "Period": DAY_SECONDS, "Stat": "Sum"}} for index, (_, endpoint, variant) in enumerate(batch)]
        pages = clients.client("cloudwatch").get_paginator("get_metric_data").paginate(
            MetricDataQueries=queries, StartTime=start, EndTime=end)
        for page in pages:
            for result in page.get("MetricDataResults", []):
                counts[batch[int(result["Id"][3:])][0]] += sum(result.get("Values", []))
    return dict(counts)


def metric_sums_by_dimension(clients: AwsClients, window: Window, metric: tuple[str, str], dimension: str,
                             values: Sequence[str]) -> dict[str, float]:
    """value -> the Sum of a metric the user publishes per model version (dimension `dimension` = value)."""
    counts: dict[str, float] = defaultdict(float)
    start, end = window.bounds()
    values = list(values)
    for offset in range(0, len(values), 500):
        batch = values[offset:offset + 500]
        queries = [{"Id": f"m{index}", "ReturnData": True, "MetricStat": {
            "Metric": {"Namespace": metric[0], "MetricName": metric[1],
                       "Dimensions": [{"Name": dimension, "Value": value}]},
            "Period": DAY_SECONDS, "Stat": "Sum"}} for index, value in enumerate(batch)]
        pages = clients.client("cloudwatch").get_paginator("get_metric_data").paginate(
            MetricDataQueries=queries, StartTime=start, EndTime=end)
        for page in pages:
            for result in page.get("MetricDataResults", []):
                counts[batch[int(result["Id"][1:])]] += sum(result.get("Values", []))
    return {value: counts.get(value, 0.0) for value in values}


@dataclass(frozen=True)
class IdleStop:
    arn: str
    instance_type: str
    hours: float
    gpu_hours: float
    usd: Optional[float]


def idle_gpu_hours_saved(clients: AwsClients, window: Window, now: datetime) -> list[IdleStop]:
    """Hours within the window that instances stopped by the reaper stayed stopped.

    An instance still stopped counts until now; one started again counts until its last start. Only the
    latest stop is known (its tag), so an instance stopped twice in a week is counted once: a lower bound.
    """
    start, end = window.bounds()
    end = min(end, now)
    filters = [{"Name": f"tag:{STOPPED_BY_TAG}", "Values": [REAPER_JOB]}]
    saved = []
    for instance in describe_instances(clients.client("ec2"), clients.partition(), filters):
        try:
            stopped_at = datetime.strptime(instance.tags.get(STOPPED_AT_TAG, ""), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        except ValueError:
            continue
        until = instance.launch_time if instance.launch_time > stopped_at else now
        seconds = (min(until, end) - max(stopped_at, start)).total_seconds()
        if seconds <= 0:
            continue
        hours = seconds / 3600
        spec = catalog.lookup(instance.instance_type)
        price = catalog.on_demand_price(instance.instance_type)
        saved.append(IdleStop(instance.arn, instance.instance_type, hours, hours * (spec.count if spec else 0),
                              hours * price if price is not None else None))
    return saved


@dataclass
class WeeklySummary:
    window: Window
    by_service: dict[str, float]
    previous_by_service: dict[str, float]
    untagged: dict[str, float]  # required tag -> spend without it
    models: ModelCosts
    idle_stops: list[IdleStop]
    top: int = 5

    @property
    def total(self) -> float:
        return sum(self.by_service.values())

    @property
    def previous_total(self) -> float:
        return sum(self.previous_by_service.values())

    def movers(self) -> list[tuple[str, float, float]]:
        """(service, this week, last week), largest absolute change first."""
        services = set(self.by_service) | set(self.previous_by_service)
        rows = [(s, self.by_service.get(s, 0.0), self.previous_by_service.get(s, 0.0)) for s in services]
        rows.sort(key=lambda r: (-abs(r[1] - r[2]), r[0]))
        return [r for r in rows if r[1] != r[2]][:self.top]

    def to_dict(self) -> dict[str, Any]:
        return {
            "window": self.window.as_ce(), "total": round(self.total, 2), "previousTotal": round(self.previous_total, 2),
            "topMovers": [{"service": s, "cost": round(c, 2), "previous": round(p, 2), "change": round(c - p, 2)}
                          for s, c, p in self.movers()],
            "untaggedSpend": {k: round(v, 2) for k, v in self.untagged.items()},
            "costPerModelVersion": {k: round(v, 2) for k, v in sorted(self.models.per_model.items())},
            "costPerTrainingRun": [{"modelVersion": m, "trainingRun": r, "cost": round(c, 2)}
                                   for (m, r), c in sorted(self.models.per_run.items())],
            "costPerThousandInferences": {m: (round(v, 4) if v is not None else None)
                                          for m, v in sorted(self.models.per_thousand_inferences().items())},
            "invocations": {m: int(v) for m, v in sorted(self.models.invocations.items())},
            "idleGpuHoursSaved": {"instanceHours": round(sum(s.hours for s in self.idle_stops), 1),
                                  "gpuHours": round(sum(s.gpu_hours for s in self.idle_stops), 1),
                                  "usd": round(sum(s.usd or 0.0 for s in self.idle_stops), 2)},
            "errors": list(self.models.errors),
        }

    def to_markdown(self) -> str:
        data = self.to_dict()
        change = self.total - self.previous_total
        lines = [f"# FinOps weekly summary: {self.window.start} to {self.window.end - timedelta(days=1)}", "",
                 f"Total spend **{_usd(self.total)}**, {_signed(change)} on the week before ({_usd(self.previous_total)}).",
                 "", "## Top movers", ""]
        lines += _table(["Service", "This week", "Week before", "Change"],
                        [[s, _usd(c), _usd(p), _signed(c - p)] for s, c, p in self.movers()]) or ["No change."]
        lines += ["", "## Untagged spend", ""]
        lines += _table(["Missing tag", "Spend", "Share"],
                        [[k, _usd(v), f"{v / self.total:.1%}" if self.total else "-"] for k, v in self.untagged.items()])
        lines += ["", "## Idle-GPU hours saved", ""]
        idle = data["idleGpuHoursSaved"]
        lines.append(f"The idle-GPU reaper kept {len(self.idle_stops)} instance(s) stopped for {idle['instanceHours']} "
                     f"instance-hours ({idle['gpuHours']} GPU-hours), about {_usd(idle['usd'])} at on-demand prices.")
        lines += ["", "## Cost per model version", ""]
        per_thousand = self.models.per_thousand_inferences()
        lines += _table(["Model version", "Total", "Serving", "Invocations", "Per 1,000 inferences"],
                        [[m, _usd(c), _usd(self.models.serving.get(m, 0.0)), f"{int(self.models.invocations.get(m, 0)):,}",
                          f"${per_thousand[m]:.4f}" if per_thousand.get(m) is not None else "-"]
                         for m, c in sorted(self.models.per_model.items())]) or ["No spend carries the model tag."]
        lines += ["", "## Cost per training run", ""]
        lines += _table(["Model version", "Training run", "Cost"],
                        [[m, r, _usd(c)] for (m, r), c in sorted(self.models.per_run.items())]) or ["No training runs."]
        if self.models.errors:
            lines += ["", "## Not counted", "", *(f"- {error}" for error in self.models.errors)]
        return "\n".join(lines) + "\n"


def weekly_summary(clients: AwsClients, week_end: date, required_tags: Sequence[str], model_tag: str = "ModelVersion",
                   run_tag: str = "TrainingRun", metric: str = DEFAULT_METRIC, now: Optional[datetime] = None,
                   top: int = 5) -> WeeklySummary:
    """The week of 7 days before `week_end`. Cost Explorer calls, in order: this week by service, the week
    before by service, this week by each required tag, this week by model and run tags."""
    if isinstance(required_tags, str) or not all(isinstance(t, str) and t for t in required_tags):
        raise ValueError(f"required_tags: expected a list of tag keys, got {required_tags!r}")
    window = Window.week_ending(week_end)
    ce = clients.client("ce")
    by_service = {k[0]: v for k, v in cost_by(ce, window, [("DIMENSION", "SERVICE")], metric).items()}
    previous = {k[0]: v for k, v in cost_by(ce, window.previous(), [("DIMENSION", "SERVICE")], metric).items()}
    untagged = {tag: cost_by(ce, window, [("TAG", tag)], metric).get(("",), 0.0) for tag in required_tags}
    models = model_costs(clients, window, model_tag, run_tag, metric)
    stops = idle_gpu_hours_saved(clients, window, now or datetime.now(timezone.utc))
    return WeeklySummary(window, by_service, previous, untagged, models, stops, top)


def _usd(amount: float) -> str:
    return f"${amount:,.2f}"


def _signed(amount: float) -> str:
    return f"{'+' if amount >= 0 else '-'}${abs(amount):,.2f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    if not rows:
        return []
    return ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|",
            *("| " + " | ".join(row) + " |" for row in rows)]
