"""`aifinops audit tags`: resources in an account and region that lack the required cost tags.

`--fix RULES` fills missing tags from a rules file (see automation/tag_rules.py); it is a dry run that
only prints the plan unless `--apply` is given.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path
from typing import Any, Optional

import yaml

from aifinops.automation.action_log import ActionLog
from aifinops.automation.tag_audit import TagAudit, audit, fix
from aifinops.automation.tag_inventory import SWEEPS
from aifinops.automation.tag_rules import TagRule, parse_rules
from aifinops.core.tags import DEFAULT_REQUIRED_TAGS

from .aws_options import AwsError, add_aws_arguments, aws_clients, aws_errors, log_actions
from .core.errors import EXIT_ERROR, EXIT_OK, EXIT_POLICY_VIOLATION


def register(subparsers: Any) -> None:
    audit_parser = subparsers.add_parser("audit", help="audit an AWS account (tags)")
    targets = audit_parser.add_subparsers(dest="audit_target", required=True, metavar="TARGET")
    parser = targets.add_parser("tags", help="find resources missing the required cost tags (and fix them)")
    add_aws_arguments(parser)
    parser.add_argument("--required-tag", action="append", metavar="KEY", dest="required_tags",
                        help=f"a tag every resource must carry (repeatable; default: {', '.join(DEFAULT_REQUIRED_TAGS)})")
    parser.add_argument("--resource-type", action="append", default=[], metavar="TYPE", dest="resource_types",
                        help="only this type, e.g. ec2:instance (repeatable; default: all)")
    parser.add_argument("--no-sweep", action="append", default=[], choices=SWEEPS, metavar="SERVICE",
                        help=f"skip the direct listing of a service ({', '.join(SWEEPS)}); the tagging API still runs")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print JSON")
    output.add_argument("--csv", action="store_true", help="print CSV (counts per type, then one row per finding)")
    parser.add_argument("--fix", metavar="RULES", type=Path, help="fill missing tags from this rules file (YAML or JSON)")
    parser.add_argument("--apply", action="store_true", help="with --fix: write the tags (default: dry run)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when any resource lacks a required tag")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.apply and args.fix is None:
        raise AwsError("--apply: only meaningful with --fix RULES (the audit alone never changes anything)")
    rules = load_rules(args.fix) if args.fix is not None else None
    clients = aws_clients(args)
    log_actions(args.debug or args.apply)
    sweeps = [s for s in SWEEPS if s not in args.no_sweep]
    with aws_errors("auditing tags"):
        result = audit(clients, args.required_tags or DEFAULT_REQUIRED_TAGS, sweeps, args.resource_types)
        report = fix(clients, result, rules, apply=args.apply) if rules is not None else None
    if args.json:
        body: dict[str, Any] = result.to_dict()
        if report is not None:
            body["fix"] = report.to_dict()
        json.dump(body, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    elif args.csv:
        sys.stdout.write(render_csv(result))
        for arn, error in result.inventory.errors:
            print(f"error: {arn}: {error}", file=sys.stderr)
    else:
        print(render_table(result, report))
    if result.inventory.errors:  # an incomplete audit must not pass for a clean one
        print(f"error: the audit is incomplete: {len(result.inventory.errors)} read(s) failed", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_POLICY_VIOLATION if args.strict and result.findings else EXIT_OK


def load_rules(path: Path) -> list[TagRule]:
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as error:
        raise AwsError(f"--fix: cannot read rules file {str(path)!r}: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise AwsError(f"--fix: {str(path)!r} is not valid YAML or JSON: {error}") from error
    try:
        return parse_rules(document, str(path))
    except ValueError as error:
        raise AwsError(f"--fix: {error}") from error


def render_table(result: TagAudit, report: Optional[ActionLog]) -> str:
    findings = result.findings
    lines = [f"{len(findings)} of {len(result.inventory.resources)} resources lack a required tag "
             f"({', '.join(result.required)})", ""]
    counts = result.counts()
    rows = [["TYPE", "RESOURCES", "MISSING TAGS"]] + [[t, str(c["resources"]), str(c["missingTags"])]
                                                       for t, c in counts.items()]
    lines += _columns(rows)
    if findings:
        lines += ["", *_columns([["ARN", "MISSING"]] + [[f.resource.arn, ", ".join(f.missing)] for f in findings])]
    for arn, error in result.inventory.errors:
        lines.append(f"error: {arn}: {error}")
    if report is not None:
        lines += ["", report.summary_text().rstrip()]
    return "\n".join(lines)


def render_csv(result: TagAudit) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["record", "resource_type", "arn", "missing", "resources", "missing_tags"])
    for resource_type, counts in result.counts().items():
        writer.writerow(["count", resource_type, "", "", counts["resources"], counts["missingTags"]])
    for finding in result.findings:
        writer.writerow(["finding", finding.resource.resource_type, finding.resource.arn, ";".join(finding.missing), "", ""])
    return out.getvalue()


def _columns(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
