"""`aifinops report`: the weekly FinOps summary from Cost Explorer, CloudWatch and EC2, or the AI cost
views over CUR 2.0 with DuckDB (`--cur PATH`) or Athena (`--athena`), with a forecast against budgets."""
from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from aifinops.automation.athena_queries import AthenaQueryError, run_query
from aifinops.automation.aws_clients import AwsClients
from aifinops.automation.spend_summary import (DEFAULT_METRIC, Window, invocations_by_model, metric_sums_by_dimension,
                                               weekly_summary)
from aifinops.core import cur_views
from aifinops.core.tags import DEFAULT_REQUIRED_TAGS

from .aws_options import AwsError, add_aws_arguments, aws_clients, aws_errors, log_actions
from .core.errors import EXIT_OK, AifinopsError
from .cur_duckdb import open_local_cur
from .cur_report import CurReport, build_report
from .cur_rendering import render_html, render_markdown, render_text
from .project import load_project

METRICS = ("UnblendedCost", "AmortizedCost", "NetUnblendedCost", "NetAmortizedCost", "BlendedCost")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("report", help="weekly FinOps summary: top movers, untagged spend, "
                                                  "cost per model version, run and 1,000 inferences")
    add_aws_arguments(parser)
    parser.add_argument("--week-ending", metavar="YYYY-MM-DD", type=_date, default=None,
                        help="the day after the week's last day (default: today, UTC: the last 7 full days)")
    parser.add_argument("--model-tag", default="ModelVersion", metavar="KEY", help="tag naming the model version")
    parser.add_argument("--run-tag", default="TrainingRun", metavar="KEY", help="tag naming the training run")
    parser.add_argument("--required-tag", action="append", metavar="KEY", dest="required_tags",
                        help=f"report spend missing this tag (repeatable; default: {', '.join(DEFAULT_REQUIRED_TAGS)})")
    parser.add_argument("--metric", default=DEFAULT_METRIC, choices=METRICS, help="Cost Explorer cost metric")
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown (CUR: instead of a table)")
    parser.add_argument("--output", "-o", type=Path, metavar="FILE", help="write the report here instead of stdout")
    cur = parser.add_argument_group("CUR 2.0 (instead of Cost Explorer)")
    source = cur.add_mutually_exclusive_group()
    source.add_argument("--cur", type=Path, metavar="PATH",
                        help="run the views with DuckDB over local CUR 2.0 Parquet: a folder of "
                             "BILLING_PERIOD=YYYY-MM/*.parquet as Data Exports writes it, or one file")
    source.add_argument("--athena", action="store_true", help="run the same views on Athena")
    cur.add_argument("--workgroup", metavar="W", help="Athena workgroup (--athena; CostDataExport's <name>-cur)")
    cur.add_argument("--database", metavar="D", help="Glue database holding the CUR table (--athena)")
    cur.add_argument("--table", metavar="T", default=cur_views.TABLE_NAME,
                     help=f"Glue table (--athena; default {cur_views.TABLE_NAME})")
    cur.add_argument("--tag", metavar="KEY=VALUE", type=_tag_filter, help="only spend carrying this tag")
    cur.add_argument("--from", dest="start", metavar="YYYY-MM-DD", type=_date,
                     help="first day (default: the first day of last month)")
    cur.add_argument("--to", dest="end", metavar="YYYY-MM-DD", type=_date,
                     help="the day after the last day (default: tomorrow, UTC)")
    cur.add_argument("--group-by", metavar="KEY", help="also total spend by this tag key")
    cur.add_argument("--cost-basis", choices=cur_views.COST_BASES, default=cur_views.UNBLENDED,
                     help="unblended (billed per line) or amortized (reservations and Savings Plans spread over "
                          "the usage they cover)")
    cur.add_argument("--markdown", action="store_true", help="print Markdown (the weekly report)")
    cur.add_argument("--html", type=Path, metavar="FILE", help="also write the HTML dashboard here")
    cur.add_argument("--budget", action="append", default=[], metavar="NAME=USD", type=_budget,
                     help="a monthly budget the forecast is compared with (repeatable)")
    cur.add_argument("--stack", metavar="STACK", help="compare the forecast with this stack's costBudgets "
                                                      "(stacks/Pulumi.<STACK>.yaml of the project in --cwd)")
    cur.add_argument("--cwd", type=Path, default=Path("."), help="the Pulumi project for --stack (default: .)")
    cur.add_argument("--invocations", action="store_true",
                     help="read invocations from CloudWatch for the cost per 1,000 inferences (default: SageMaker "
                          "Invocations of the endpoints tagged with the model tag)")
    cur.add_argument("--invocations-metric", nargs=2, metavar=("NAMESPACE", "METRIC"),
                     help="count invocations with this CloudWatch metric instead, summed per model version over a "
                          "dimension named like the model tag (e.g. LLM/Serving Requests)")
    parser.set_defaults(handler=run)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def _tag_filter(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key or not value:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, e.g. Project=LLM-FineTune, got {text!r}")
    return key, value


def _budget(text: str) -> tuple[str, float]:
    name, sep, amount = text.partition("=")
    try:
        value = float(amount)
    except ValueError:
        value = -1.0
    if not sep or not name or value <= 0:
        raise argparse.ArgumentTypeError(f"expected NAME=USD with a positive amount, e.g. training=40000, got {text!r}")
    return name, value


def run(args: argparse.Namespace) -> int:
    if args.cur is not None or args.athena:
        return cur_report_command(args)
    clients = aws_clients(args)
    log_actions(args.debug)
    week_end = args.week_ending or datetime.now(timezone.utc).date()
    with aws_errors("building the report"):
        summary = weekly_summary(clients, week_end, args.required_tags or DEFAULT_REQUIRED_TAGS,
                                 args.model_tag, args.run_tag, args.metric)
    text = json.dumps(summary.to_dict(), indent=2) + "\n" if args.json else summary.to_markdown()
    return _write(args.output, text)


def _write(output: Optional[Path], text: str) -> int:
    if output is None:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        output.write_text(text)
    except OSError as error:
        raise AifinopsError(f"--output: cannot write {str(output)!r}: {error.strerror}") from error
    print(f"wrote {output}", file=sys.stderr)
    return EXIT_OK


def cur_report_command(args: argparse.Namespace) -> int:
    """The AI cost views over CUR 2.0, from local Parquet (DuckDB) or Athena."""
    today = datetime.now(timezone.utc).date()
    end = args.end or today + timedelta(days=1)
    start = args.start or (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    if end <= start:
        raise AifinopsError(f"--from/--to: expected --from before --to, got {start} to {end}")
    if args.athena and not (args.workgroup and args.database):
        raise AifinopsError("--athena: expected --workgroup W and --database D (CostDataExport's outputs)")
    budgets = list(args.budget) + (stack_budgets(args.cwd, args.stack, args.tag) if args.stack else [])
    try:
        params = cur_views.ViewParameters(
            table=cur_views.athena_table(args.database, args.table) if args.athena else cur_views.TABLE_NAME,
            window=cur_views.Window.days(start, end), tag_filter=args.tag, model_tag=args.model_tag,
            run_tag=args.run_tag, group_tag=args.group_by,
            required_tags=tuple(args.required_tags or DEFAULT_REQUIRED_TAGS), cost_basis=args.cost_basis,
            gpus_per_instance=cur_views.catalog_gpus_per_instance())
    except ValueError as error:
        raise AifinopsError(f"report: {error}") from error
    read_invocations: Optional[Callable[[Sequence[str]], dict[str, float]]] = None
    errors: list[str] = []
    if args.invocations_metric:
        args.invocations = True
    if args.athena or args.invocations:
        clients = aws_clients(args)
        log_actions(args.debug)
    if args.invocations:
        window = Window(start, end)

        def from_cloudwatch(models: Sequence[str]) -> dict[str, float]:
            with aws_errors("reading invocations from CloudWatch"):
                if args.invocations_metric:
                    return metric_sums_by_dimension(clients, window, tuple(args.invocations_metric), args.model_tag,
                                                    models)
                return invocations_by_model(clients, window, args.model_tag, errors)

        read_invocations = from_cloudwatch

    if args.athena:
        report = _athena_report(clients, args, params, start, end, read_invocations, budgets)
    else:
        local = open_local_cur(args.cur)
        try:
            report = build_report(lambda view, sql: local.query(sql), params, cur_views.DUCKDB,
                                  f"{args.cur} (DuckDB, {len(local.files)} Parquet file(s))", start, end,
                                  group_by=args.group_by is not None, read_invocations=read_invocations,
                                  budgets=budgets)
        finally:
            local.close()
    if errors:
        report.notes += [f"invocations not counted: {e}" for e in errors]
    if args.html is not None:
        try:
            args.html.write_text(render_html(report))
        except OSError as error:
            raise AifinopsError(f"--html: cannot write {str(args.html)!r}: {error.strerror}") from error
        print(f"wrote {args.html}", file=sys.stderr)
    if args.json:
        text = json.dumps(report.to_dict(), indent=2) + "\n"
    else:
        text = render_markdown(report) if args.markdown else render_text(report)
    return _write(args.output, text)


def _athena_report(clients: AwsClients, args: argparse.Namespace, params: cur_views.ViewParameters, start: date,
                   end: date, read_invocations: Optional[Callable[[Sequence[str]], dict[str, float]]],
                   budgets: list[tuple[str, float]]) -> CurReport:
    athena = clients.client("athena")
    scanned = [0]

    def run_view(view: str, sql: str) -> list[dict[str, Any]]:
        try:
            result = run_query(athena, sql, cur_views.VIEW_COLUMNS[view], workgroup=args.workgroup,
                               database=args.database)
        except AthenaQueryError as error:
            raise AwsError(f"--athena: {view}: {error}") from error
        scanned[0] += result.bytes_scanned
        return result.rows

    with aws_errors("running the CUR views on Athena"):
        report = build_report(run_view, params, cur_views.ATHENA,
                              f"Athena {args.workgroup}/{args.database}.{args.table}", start, end,
                              group_by=args.group_by is not None, read_invocations=read_invocations,
                              budgets=budgets)
    report.bytes_scanned = scanned[0]
    return report


def stack_budgets(cwd: Path, stack: str, tag: Optional[tuple[str, str]]) -> list[tuple[str, float]]:
    """(name, USD) of the stack's monthly costBudgets entries that cover the reported spend: those without
    tag filters, or whose filter is the --tag."""
    project = load_project(cwd)
    config = project.load_stack(project.select_stack(stack))
    raw = config.values.get(f"{project.name}:costBudgets")
    entries = json.loads(raw) if raw else []
    budgets, skipped = [], []
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        if not isinstance(entry, dict) or entry.get("timeUnit", "MONTHLY") != "MONTHLY":
            continue
        amount = entry.get("amountUsd")
        if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not 0 < amount < float("inf"):
            raise AifinopsError(f"--stack {stack}: costBudgets[{index}].amountUsd: expected a positive number, "
                                f"got {amount!r}")
        name = str(entry.get("name", f"budget-{index}"))
        filters = entry.get("tagFilters") or {}
        if filters and (tag is None or dict(filters) != {tag[0]: tag[1]}):
            skipped.append(f"{name} ({', '.join(f'{k}={v}' for k, v in filters.items())})")
            continue
        budgets.append((name, float(amount)))
    if not budgets:
        hint = f"; these filter other spend: {', '.join(skipped)} (give the matching --tag)" if skipped else ""
        raise AifinopsError(f"--stack {stack}: {config.path} has no monthly costBudgets for this spend to compare "
                            f"the forecast with{hint}")
    return budgets
