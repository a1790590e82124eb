"""CostDashboard: one CloudWatch dashboard of what the stack's GPUs do and what the account spends.

The widgets are built from the components passed in, never typed by hand: GPU utilisation and GPU
memory of each GpuInstance (InstanceId series) and GpuFleet (AutoScalingGroupName series) from the
CloudWatch agent, each with its low-utilisation alarm threshold; each fleet's spot interruption and
rebalance events (the MatchedEvents of its EventBridge rules); the account's AWS/Billing
EstimatedCharges; and, per CostBudget, month-to-date charges against the budget's limit.

AWS Budgets publishes nothing to CloudWatch, so a budget's own actual and forecast figures are not a
metric: its widget plots EstimatedCharges (the account's month-to-date bill, which is the budget's
actual spend only when the budget has no filter) against the limit, and a text widget links to the
budget's page, where Budgets shows its actual and forecast spend.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import pulumi
import pulumi_aws as aws

from aifinops.core import argument_checks as checks
from aifinops.core import gpu_agent_config as agent

from .cost_budget import CostBudget
from .gpu_fleet import GpuFleet
from .gpu_instance import GpuInstance

TYPE_TOKEN = "aifinops:monitoring:CostDashboard"
BILLING_REGION = "us-east-1"  # AWS/Billing metrics exist only there
WIDTH, HEIGHT = 12, 6  # two widgets per row of the 24-unit grid
_DASHBOARD_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")


@dataclass
class CostDashboardArgs:
    """Arguments of CostDashboard; at least one component must be given.

    - gpu_instances / gpu_fleets: their GPU utilisation and memory widgets (and, for fleets, the spot
      interruption and rebalance events). Types whose GPU metrics are not collected (Neuron, Gaudi) get a
      text widget saying so instead.
    - budgets: CostBudget components, one widget each (month-to-date charges against the limit).
    - billing: default True: the account's AWS/Billing EstimatedCharges (needs "Receive Billing Alerts"
      turned on in the billing preferences, else the widget stays empty).
    - period_seconds: the widgets' period (default 300).
    - dashboard_name: default, the component name.
    """

    gpu_instances: Sequence[GpuInstance] = ()
    gpu_fleets: Sequence[GpuFleet] = ()
    budgets: Sequence[CostBudget] = ()
    billing: bool = True
    period_seconds: int = 300
    dashboard_name: Optional[str] = None


def _components(argument: str, values: Any, kind: type) -> list[Any]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise ValueError(f"{argument}: expected a list of {kind.__name__} components, got {values!r}")
    for index, value in enumerate(values):
        if not isinstance(value, kind):
            raise ValueError(f"{argument}[{index}]: expected a {kind.__name__} component, got {value!r}")
    return list(values)


def metric_widget(title: str, region: pulumi.Input[str], metrics: list[Any], stat: str, period: int,
                  **properties: Any) -> dict[str, Any]:
    return {"type": "metric", "properties": {"title": title, "region": region, "metrics": metrics, "stat": stat,
                                             "period": period, "view": "timeSeries", **properties}}


def gpu_widgets(label: str, dimension: str, value: pulumi.Input[str], region: pulumi.Input[str], period: int,
                alarm_threshold: Optional[float]) -> list[dict[str, Any]]:
    """Utilisation and memory-used percentage of one instance or fleet's aggregated series."""
    percent_axis = {"left": {"min": 0, "max": 100, "label": "%"}}
    annotations = {"horizontal": [{"value": alarm_threshold, "label": "low-utilisation alarm"}]} \
        if alarm_threshold is not None else {}
    utilisation = metric_widget(
        f"{label}: GPU utilisation", region,
        [[agent.NAMESPACE, agent.UTILIZATION_METRIC, dimension, value, {"label": f"{label} average"}],
         [agent.NAMESPACE, agent.UTILIZATION_METRIC, dimension, value, {"label": f"{label} busiest GPU",
                                                                        "stat": "Maximum"}]],
        "Average", period, yAxis=percent_axis, annotations=annotations)
    memory = metric_widget(
        f"{label}: GPU memory used", region,
        [[agent.NAMESPACE, agent.MEMORY_USED_METRIC, dimension, value, {"id": "used", "visible": False,
                                                                        "stat": "Maximum"}],
         [agent.NAMESPACE, agent.MEMORY_TOTAL_METRIC, dimension, value, {"id": "total", "visible": False}],
         [{"expression": "100 * used / total", "label": f"{label} peak GPU memory used (%)", "id": "memory"}]],
        "Average", period, yAxis=percent_axis)
    return [utilisation, memory]


def text_widget(markdown: str) -> dict[str, Any]:
    return {"type": "text", "properties": {"markdown": markdown}}


def layout(widgets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Two widgets per row, in order."""
    return [{**w, "x": (i % 2) * WIDTH, "y": (i // 2) * HEIGHT, "width": WIDTH, "height": HEIGHT}
            for i, w in enumerate(widgets)]


class CostDashboard(pulumi.ComponentResource):
    """A CloudWatch dashboard built from the stack's GPU instances, fleets and budgets."""

    dashboard_name: pulumi.Output[str]
    dashboard_arn: pulumi.Output[str]

    def __init__(self, name: str, args: CostDashboardArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        if not isinstance(args, CostDashboardArgs):
            raise ValueError(f"args: expected CostDashboardArgs, got {type(args).__name__}")
        instances = _components("gpu_instances", args.gpu_instances, GpuInstance)
        fleets = _components("gpu_fleets", args.gpu_fleets, GpuFleet)
        budgets = _components("budgets", args.budgets, CostBudget)
        checks.flag("billing", args.billing)
        if not (instances or fleets or budgets or args.billing):
            raise ValueError("gpu_instances / gpu_fleets / budgets / billing: expected at least one thing to show, "
                             "got none")
        period = checks.whole_number("period_seconds", args.period_seconds, 60, 86400, "seconds")
        if period % 60:
            raise ValueError(f"period_seconds: expected a multiple of 60, got {period!r}")
        dashboard_name = name if args.dashboard_name is None else checks.text(
            "dashboard_name", args.dashboard_name, _DASHBOARD_NAME, "1-255 letters, digits, '-' and '_'")

        super().__init__(TYPE_TOKEN, name, None, opts)
        region = aws.get_region_output(opts=pulumi.InvokeOptions(parent=self)).region
        widgets: list[dict[str, Any]] = []
        for instance in instances:
            label = instance.pulumi_resource_name
            if not instance.gpu_metrics_expected:
                widgets.append(text_widget(f"**{label}** ({instance.instance_type}): GPU metrics are not "
                                           f"collected for this accelerator type"))
                continue
            widgets += gpu_widgets(label, agent.INSTANCE_DIMENSION, instance.instance_id, region, period,
                                   instance.alarm_threshold_percent)
        for fleet in fleets:
            label = fleet.pulumi_resource_name
            if fleet.gpu_metrics_expected:
                widgets += gpu_widgets(label, agent.FLEET_DIMENSION, fleet.asg_name, region, period,
                                       fleet.alarm_threshold_percent)
            else:
                widgets.append(text_widget(f"**{label}** ({', '.join(fleet.instance_types)}): GPU metrics are not "
                                           f"collected for these accelerator types"))
            widgets.append(metric_widget(
                f"{label}: spot interruptions and rebalance recommendations", region,
                [["AWS/Events", "MatchedEvents", "RuleName", fleet.event_rule_names[role], {"label": role}]
                 for role in ("spot-interruption", "rebalance")], "Sum", period))
        if args.billing:
            widgets.append(metric_widget(
                "Estimated charges this month (account)", BILLING_REGION,
                [["AWS/Billing", "EstimatedCharges", "Currency", "USD", {"label": "EstimatedCharges"}]],
                "Maximum", max(period, 21600)))  # Billing publishes a few times a day
        for budget in budgets:
            widgets.append(metric_widget(
                f"Budget {budget.pulumi_resource_name}: month-to-date charges against the limit", BILLING_REGION,
                [["AWS/Billing", "EstimatedCharges", "Currency", "USD", {"label": "EstimatedCharges (account)"}]],
                "Maximum", max(period, 21600),
                annotations={"horizontal": [{"value": budget.amount_usd, "label": "budget limit"}]}))
            widgets.append(text_widget(budget.budget_name.apply(lambda n, amount=budget.amount_usd: (
                f"**Budget {n}** (limit {amount:,.2f} USD a month): actual and forecast spend at "
                f"[AWS Budgets](https://console.aws.amazon.com/billing/home#/budgets/details?name={n})"))))
        placed = layout(widgets)
        dashboard = aws.cloudwatch.Dashboard(
            f"{name}", dashboard_name=dashboard_name,
            dashboard_body=pulumi.Output.from_input({"widgets": placed}).apply(lambda body: json.dumps(body)),
            opts=pulumi.ResourceOptions(parent=self))
        self.dashboard_name = dashboard.dashboard_name
        self.dashboard_arn = dashboard.dashboard_arn
        self.register_outputs({"dashboardName": dashboard.dashboard_name, "dashboardArn": dashboard.dashboard_arn,
                               "widgets": len(placed)})
