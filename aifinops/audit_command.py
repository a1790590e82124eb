"""`aifinops audit tags`: resources in an account and region that lack the required cost tags.

`--fix RULES` fills missing tags from a rules file (see automation/tag_rules.py); it is a dry run that
only prints the plan unless `--apply` is given. `--source config` reads the account's AWS Config
REQUIRED_TAGS rules' results instead of scanning (the keys are the rules' own).
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
from aifinops.automation.tag_audit import (
    ConfigFinding,
    ConfigSourceError,
    ConfigTagAudit,
    TagAudit,
    audit,
    audit_from_config,
    fix,
)
from aifinops.automation.tag_inventory import SWEEPS
from aifinops.automation.tag_rules import TagRule, parse_rules
from aifinops.core.tags import DEFAULT_REQUIRED_TAGS

from .aws_options import AwsError, add_aws_arguments, aws_clients, aws_errors, log_actions
from .core.input_files import read_text_file
from .core.errors import EXIT_ERROR, EXIT_OK, EXIT_POLICY_VIOLATION


def register(subparsers: Any) -> None:
    audit_parser = subparsers.add_parser("audit", help="audit an AWS account (tags)")
    targets = audit_parser.add_subparsers(dest="audit_target", required=True, metavar="TARGET")
    parser = targets.add_parser("tags", help="find resources missing the required cost tags (and fix them)")
    add_aws_arguments(parser)
    parser.add_argument("--source", choices=SOURCES, default="scan",
                        help="scan: list every resource and read its tags (default); config: read the results of "
                             "the region's AWS Config REQUIRED_TAGS rules")
    parser.add_argument("--config-rule", action="append", default=[], metavar="NAME", dest="config_rules",
                        help="with --source config: only this rule (repeatable; default: every REQUIRED_TAGS rule)")
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


SOURCES = ("scan", "config")
# What only a scan can do: the Config rules decide the keys and the types, and fixing needs ARNs.
SCAN_ONLY = {"required_tags": "--required-tag", "resource_types": "--resource-type", "no_sweep": "--no-sweep",
             "fix": "--fix"}


def run(args: argparse.Namespace) -> int:
    if args.source == "config":
        return run_from_config(args)
    if args.config_rules:
        raise AwsError("--config-rule: only meaningful with --source config")
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
    failed = report.with_outcome("failed") if report is not None else []
    if failed:  # a fix that did not happen must not pass for one that did
        print(f"error: the fix is incomplete: {len(failed)} action(s) failed:", file=sys.stderr)
        for entry in failed:
            print(f"  {entry.action} {entry.arn}: {entry.reason}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_POLICY_VIOLATION if args.strict and result.findings else EXIT_OK


def run_from_config(args: argparse.Namespace) -> int:
    given = [flag for name, flag in SCAN_ONLY.items() if getattr(args, name)]
    if given:
        raise AwsError(f"{given[0]}: not with --source config (the Config rules decide the keys and the resource "
                       "types, and report resource ids, not ARNs to tag); use --source scan")
    clients = aws_clients(args)
    log_actions(args.debug)
    with aws_errors("reading AWS Config"):
        try:
            result = audit_from_config(clients, args.config_rules)
        except ConfigSourceError as error:
            raise AwsError(str(error)) from error
    if args.json:
        json.dump(result.to_dict(), sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    elif args.csv:
        sys.stdout.write(render_csv(result))
    else:
        print(render_table(result, None))
    return EXIT_POLICY_VIOLATION if args.strict and result.findings else EXIT_OK


def load_rules(path: Path) -> list[TagRule]:
    try:
        document = yaml.safe_load(read_text_file(path, "--fix"))
    except OSError as error:
        raise AwsError(f"--fix: cannot read rules file {str(path)!r}: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise AwsError(f"--fix: {str(path)!r} is not valid YAML or JSON: {error}") from error
    try:
        return parse_rules(document, str(path))
    except ValueError as error:
        raise AwsError(f"--fix: {error}") from error


def render_table(result: TagAudit | ConfigTagAudit, report: Optional[ActionLog]) -> str:
    findings = result.findings
    evaluated = len(result.evaluated) if isinstance(result, ConfigTagAudit) else len(result.inventory.resources)
    lines = [f"{len(findings)} of {evaluated} resources lack a required tag ({', '.join(result.required)})"]
    if isinstance(result, ConfigTagAudit):
        lines.append(f"from AWS Config rule(s) {', '.join(r.name for r in result.rules)}")
    lines.append("")
    counts = result.counts()
    rows = [["TYPE", "RESOURCES", "MISSING TAGS"]] + [[t, str(c["resources"]), str(c["missingTags"])]
                                                       for t, c in counts.items()]
    lines += _columns(rows)
    if isinstance(result, ConfigTagAudit) and findings:
        lines += ["", *_columns([["RESOURCE", "FAILS", "REQUIRES"]] + [
            [f"{f.resource_type} {f.resource_id}", ", ".join(f.rules), ", ".join(f.required)] for f in findings])]
    elif findings:
        lines += ["", *_columns([["ARN", "MISSING"]] + [[f.resource.arn, ", ".join(f.missing)] for f in findings])]
    for arn, error in ([] if isinstance(result, ConfigTagAudit) else result.inventory.errors):
        lines.append(f"error: {arn}: {error}")
    if report is not None:
        lines += ["", report.summary_text().rstrip()]
    return "\n".join(lines)


def render_csv(result: TagAudit | ConfigTagAudit) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    config = isinstance(result, ConfigTagAudit)
    writer.writerow(["record", "resource_type", "resource_id" if config else "arn", "missing", "resources",
                     "missing_tags"])
    for resource_type, counts in result.counts().items():
        writer.writerow(["count", resource_type, "", "", counts["resources"], counts["missingTags"]])
    for finding in result.findings:
        if isinstance(finding, ConfigFinding):  # Config says which rule failed, not which key: its keys
            writer.writerow(["finding", finding.resource_type, finding.resource_id, ";".join(finding.required), "", ""])
        else:
            writer.writerow(["finding", finding.resource.resource_type, finding.resource.arn, ";".join(finding.missing),
                             "", ""])
    return out.getvalue()


def _columns(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
