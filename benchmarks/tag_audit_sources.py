"""`audit tags` by scan vs from AWS Config, and one auto-tagging event: AWS calls and wall time.

For N running instances (each with its root volume) and N/10 S3 buckets, all untagged:
- scan: the tag audit with every sweep, against moto in-process;
- config: `audit_from_config` over one REQUIRED_TAGS rule whose results are the same 2N resources, with
  botocore's Stubber playing AWS Config (moto lacks the calls) in pages of 100, as the service pages them;
- auto-tagging: one RunInstances event for 10 of the instances (dry run off), against moto.
Call counts are what a real account sees; wall time here is mostly moto rendering XML (scan) or the
Stubber (config), so compare the calls.

Usage: .venv/bin/python benchmarks/tag_audit_sources.py [N ...]   (default: 100 1000 5000)
"""
from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from datetime import datetime, timezone

os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1",
                  MOTO_EC2_LOAD_DEFAULT_AMIS="false")

import boto3  # noqa: E402
from botocore.stub import Stubber  # noqa: E402
from moto import mock_aws  # noqa: E402
from moto.ec2.models import ec2_backends  # noqa: E402

from aifinops.automation.auto_tagging_handler import auto_tag  # noqa: E402
from aifinops.automation.aws_clients import AwsClients  # noqa: E402
from aifinops.automation.tag_audit import audit, audit_from_config  # noqa: E402
from aifinops.core.automation_settings import AutoTaggingSettings  # noqa: E402

REGION, ACCOUNT = "us-east-1", "123456789012"
REQUIRED = ("CostCenter", "Project", "Environment")
RULE = "aifinops-bench-required-tags-1"
WHEN = datetime(2026, 11, 30, tzinfo=timezone.utc)
SERVICES = ("ec2", "s3", "sagemaker", "resourcegroupstaggingapi", "sts", "config", "dynamodb", "iam")


def counting(clients: AwsClients) -> Counter:
    calls: Counter = Counter()
    for service in SERVICES:
        clients.client(service).meta.events.register(f"after-call.{service}", lambda model, **_: calls.update([model.name]))
    return calls


def stubbed_config(clients: AwsClients, resources: list[tuple[str, str]], calls: Counter) -> Stubber:
    config = boto3.client("config", region_name=REGION)
    config.meta.events.register("after-call.config", lambda model, **_: calls.update([model.name]))
    clients.use("config", config)
    stub = Stubber(config)
    stub.add_response("describe_configuration_recorder_status",
                      {"ConfigurationRecordersStatus": [{"name": "default", "recording": True}]}, {})
    stub.add_response("describe_config_rules", {"ConfigRules": [{
        "ConfigRuleName": RULE, "Source": {"Owner": "AWS", "SourceIdentifier": "REQUIRED_TAGS"},
        "InputParameters": json.dumps({f"tag{n}Key": key for n, key in enumerate(REQUIRED, start=1)})}]}, {})
    stub.add_response("describe_config_rule_evaluation_status", {"ConfigRulesEvaluationStatus": [
        {"ConfigRuleName": RULE, "LastSuccessfulEvaluationTime": WHEN}]}, {"ConfigRuleNames": [RULE]})
    pages = [resources[i:i + 100] for i in range(0, len(resources), 100)]
    for number, page in enumerate(pages):
        response: dict = {"EvaluationResults": [{
            "EvaluationResultIdentifier": {"EvaluationResultQualifier": {
                "ConfigRuleName": RULE, "ResourceType": kind, "ResourceId": resource_id}}, "ComplianceType": "NON_COMPLIANT"}
            for kind, resource_id in page]}
        if number + 1 < len(pages):
            response["NextToken"] = f"page-{number + 1}"
        request = {"ConfigRuleName": RULE, "ComplianceTypes": ["COMPLIANT", "NON_COMPLIANT"], "Limit": 100}
        stub.add_response("get_compliance_details_by_config_rule", response,
                          {**request, "NextToken": f"page-{number}"} if number else request)
    return stub


def compare(count: int) -> None:
    with mock_aws():
        backend = ec2_backends[ACCOUNT][REGION]
        instances = [i for start in range(0, count, 500) for i in backend.run_instances(
            "ami-12c6146b", min(500, count - start), None, [], instance_type="g5.xlarge",
            is_instance_type_default=False).instances]
        clients = AwsClients(region=REGION)
        buckets = [f"bench-bucket-{n}" for n in range(count // 10)]
        for bucket in buckets:
            clients.client("s3").create_bucket(Bucket=bucket)
        calls = counting(clients)
        started = time.perf_counter()
        scanned = audit(clients, REQUIRED)
        scan_seconds, scan_calls = time.perf_counter() - started, sum(calls.values())
        scan_detail = dict(calls)
        calls.clear()

        resources = [("AWS::EC2::Instance", i.id) for i in instances]
        resources += [("AWS::EC2::Volume", v.id) for v in backend.volumes.values()]
        resources += [("AWS::S3::Bucket", bucket) for bucket in buckets]
        with stubbed_config(clients, resources, calls) as stub:
            started = time.perf_counter()
            from_config = audit_from_config(clients)
            config_seconds = time.perf_counter() - started
            stub.assert_no_pending_responses()
        config_calls = sum(calls.values())
        calls.clear()

        event = {"detail-type": "AWS API Call via CloudTrail", "detail": {
            "eventSource": "ec2.amazonaws.com", "eventName": "RunInstances", "recipientAccountId": ACCOUNT,
            "userIdentity": {"type": "AssumedRole", "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/ml/alice"},
            "responseElements": {"instancesSet": {"items": [{"instanceId": i.id} for i in instances[:10]]}}}}
        settings = AutoTaggingSettings(default_tags=dict(zip(REQUIRED, ("ml", "bench", "dev"))), dry_run=False)
        started = time.perf_counter()
        run = auto_tag(clients, settings, [event])
        tag_seconds = time.perf_counter() - started
        print(f"{count:>5} instances | scan: {scan_seconds:6.2f} s, {scan_calls:>4} calls, {len(scanned.findings)} findings "
              f"| config: {config_seconds:5.2f} s, {config_calls:>3} calls, {len(from_config.findings)} findings "
              f"| auto-tag 10 instances + volumes: {tag_seconds:4.2f} s, {sum(calls.values())} calls, "
              f"{len(run.report.with_outcome('done'))} tagged")
        print(f"{'':>5}           | scan calls: {scan_detail}")


if __name__ == "__main__":
    for n in [int(a) for a in sys.argv[1:]] or [100, 1000, 5000]:
        compare(n)
