"""`aifinops report`: the weekly FinOps summary from Cost Explorer, CloudWatch and EC2."""
from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from aifinops.automation.spend_summary import DEFAULT_METRIC, weekly_summary
from aifinops.core.tags import DEFAULT_REQUIRED_TAGS

from .aws_options import AwsError, add_aws_arguments, aws_clients, aws_errors, log_actions
from .core.errors import EXIT_OK

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
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    parser.add_argument("--output", "-o", type=Path, metavar="FILE", help="write the report here instead of stdout")
    parser.set_defaults(handler=run)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def run(args: argparse.Namespace) -> int:
    clients = aws_clients(args)
    log_actions(args.debug)
    week_end = args.week_ending or datetime.now(timezone.utc).date()
    with aws_errors("building the report"):
        summary = weekly_summary(clients, week_end, args.required_tags or DEFAULT_REQUIRED_TAGS,
                                 args.model_tag, args.run_tag, args.metric)
    text = json.dumps(summary.to_dict(), indent=2) + "\n" if args.json else summary.to_markdown()
    if args.output is None:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        args.output.write_text(text)
    except OSError as error:
        raise AwsError(f"--output: cannot write {str(args.output)!r}: {error.strerror}") from error
    print(f"wrote {args.output}", file=sys.stderr)
    return EXIT_OK
