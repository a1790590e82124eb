"""`aifinops rightsize`: GPU right-sizing recommendations from CloudWatch, with the monthly saving.

Reads N days (default 14) of the CloudWatch agent's GPU utilisation and GPU memory for every running
accelerated instance and fleet (or those with the given tags), and recommends per instance or fleet: a
cheaper approved type, "stop", "spot", or "keep" (rules: aifinops.core.rightsizing). Too little data is
listed as such. Output: a table, --json or --markdown. Read-only: it changes nothing.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any, Optional, Sequence

from aifinops.automation.gpu_usage import collect_usage
from aifinops.core import catalog
from aifinops.core.rightsizing import INSUFFICIENT_DATA, NOT_EVALUATED, Recommendation, RightsizeSettings, recommend

from .aws_options import AwsError, add_aws_arguments, aws_clients, aws_errors, log_actions
from .core.errors import EXIT_OK

COLUMNS = ("kind", "target", "name", "type", "n", "p95 util %", "peak mem GiB", "action", "recommended",
           "now $/mo", "saving $/mo")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("rightsize", help="recommend GPU instance types from CloudWatch GPU metrics")
    add_aws_arguments(parser)
    parser.add_argument("--days", type=int, default=14, help="days of metrics to read (default 14)")
    parser.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE", dest="tags",
                        help="only instances and fleets with this tag (repeatable; default: every GPU instance "
                             "and fleet in the region)")
    parser.add_argument("--headroom", type=float, default=20.0,
                        help="GPU memory headroom above the observed peak, percent (default 20)")
    parser.add_argument("--target-utilisation", type=float, default=80.0,
                        help="the GPU utilisation a recommended type may reach at p95, percent (default 80)")
    parser.add_argument("--idle-percent", type=float, default=5.0,
                        help="below this p95 GPU utilisation a box is idle: recommend stop (default 5)")
    parser.add_argument("--min-coverage", type=float, default=80.0,
                        help="percent of the hourly periods that must have data (default 80)")
    parser.add_argument("--approved-type", action="append", default=[], metavar="TYPE", dest="approved_types",
                        help="a type recommendations may use (repeatable; default: the catalog's approved set)")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print JSON")
    output.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.set_defaults(handler=run)


def parse_tags(values: Sequence[str]) -> dict[str, list[str]]:
    tags: dict[str, list[str]] = {}
    for value in values:
        key, sep, tag_value = value.partition("=")
        if not sep or not key:
            raise AwsError(f"--tag: expected KEY=VALUE, got {value!r}")
        tags.setdefault(key, []).append(tag_value)
    return tags


def settings_from(args: argparse.Namespace, region: str) -> RightsizeSettings:
    """The settings, each flag checked under its own name (percent on the command line)."""
    if not 1 <= args.days <= 455:  # CloudWatch keeps hourly data for 455 days
        raise AwsError(f"--days: expected 1 to 455, got {args.days}")
    for flag, value, low, high in (("--headroom", args.headroom, 0, 1000), ("--target-utilisation",
                                   args.target_utilisation, 1, 100), ("--idle-percent", args.idle_percent, 0, 100),
                                   ("--min-coverage", args.min_coverage, 1, 100)):
        if not low <= value <= high:
            raise AwsError(f"{flag}: expected a percentage from {low} to {high}, got {value:g}")
    approved = tuple(catalog.normalize_instance_type(t) for t in args.approved_types)
    unknown = [t for t in approved if catalog.lookup(t) is None]
    if unknown:
        raise AwsError(f"--approved-type: {', '.join(unknown)} is not an accelerated type in the catalog; expected "
                       f"e.g. {', '.join(catalog.DEFAULT_APPROVED_INSTANCE_TYPES[:4])}")
    return RightsizeSettings(headroom=args.headroom / 100, target_percent=args.target_utilisation,
                             idle_percent=args.idle_percent, min_coverage=args.min_coverage / 100, region=region,
                             approved_types=approved or catalog.DEFAULT_APPROVED_INSTANCE_TYPES)


def run(args: argparse.Namespace, end: Optional[datetime] = None) -> int:
    tags = parse_tags(args.tags)
    clients = aws_clients(args)
    settings = settings_from(args, clients.region_name)
    log_actions(args.debug)
    end = end or datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    with aws_errors("reading GPU metrics"):
        usages = collect_usage(clients, tags, end, args.days)
    recommendations = [recommend(usage, settings) for usage in usages]
    if args.json:
        json.dump(to_json(recommendations, args.days, end), sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif args.markdown:
        print(render_markdown(recommendations, args.days))
    else:
        print(render_table(recommendations, args.days))
    return EXIT_OK


def total_saving(recommendations: Sequence[Recommendation]) -> float:
    return round(sum(r.monthly_saving_usd for r in recommendations), 2)


def to_json(recommendations: Sequence[Recommendation], days: int, end: datetime) -> dict[str, Any]:
    return {"days": days, "end": end.isoformat(), "monthlySavingUsd": total_saving(recommendations),
            "recommendations": [{_camel(k): v for k, v in asdict(r).items()} for r in recommendations]}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _row(r: Recommendation) -> list[str]:
    def number(value: Optional[float], digits: int = 1) -> str:
        return "-" if value is None else f"{value:,.{digits}f}"

    action = r.action + (" + spot" if r.use_spot and r.action != "spot" else "")
    return [r.kind, r.target, r.name or "-", r.instance_type, str(r.instances), number(r.p95_utilisation),
            number(r.peak_memory_gib), action, r.recommended_type or "-", number(r.current_monthly_usd, 2),
            number(r.monthly_saving_usd, 2)]


def _notes(recommendations: Sequence[Recommendation]) -> list[str]:
    return [f"{r.target}: {r.reason}" for r in recommendations if r.reason]


def render_table(recommendations: Sequence[Recommendation], days: int) -> str:
    if not recommendations:
        return f"No running GPU instances or fleets found (last {days} days)."
    rows = [list(COLUMNS)] + [_row(r) for r in recommendations]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines += ["", f"Monthly saving: {total_saving(recommendations):,.2f} USD (last {days} days of GPU metrics)",
              *_summary(recommendations), "", *_notes(recommendations)]
    return "\n".join(lines)


def render_markdown(recommendations: Sequence[Recommendation], days: int) -> str:
    lines = [f"## GPU right-sizing (last {days} days)", ""]
    if not recommendations:
        return "\n".join(lines + ["No running GPU instances or fleets found."])
    lines += ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in _row(r)) + " |" for r in recommendations]
    lines += ["", f"**Monthly saving: {total_saving(recommendations):,.2f} USD**", *_summary(recommendations), ""]
    lines += [f"- {note}" for note in _notes(recommendations)]
    return "\n".join(lines)


def _summary(recommendations: Sequence[Recommendation]) -> list[str]:
    lacking = [r.target for r in recommendations if r.action == INSUFFICIENT_DATA]
    unjudged = [r.target for r in recommendations if r.action == NOT_EVALUATED]
    lines = []
    if lacking:
        lines.append(f"Too little data (not recommended): {', '.join(lacking)}")
    if unjudged:
        lines.append(f"Not evaluated (type not in the catalog or not priced): {', '.join(unjudged)}")
    return lines
