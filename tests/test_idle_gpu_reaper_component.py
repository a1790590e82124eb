"""IdleGpuReaper: the schedule, the least-privilege role, the encrypted log group with retention, the
settings the handler will read, the Lambda archive, and every validation error."""
from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from aifinops.components.automation_lambda import FunctionSettings, archive_files
from aifinops.components.idle_gpu_reaper import IdleGpuReaper, IdleGpuReaperArgs
from aifinops.core import catalog
from aifinops.core.automation_settings import ReaperSettings, from_env
from tests.conftest import tagged_config


# This module reads what components render from ids and ARNs (IAM and resource policies, references),
# so the `preview` fixture gives AWS-shaped values here, as `aifinops preview --mock-outputs` does.
PREVIEW_MOCK_OUTPUTS = True


IAM_INLINE_POLICY_LIMIT = 10_240  # characters, all inline policies of a role together

REAPER = """
from aifinops.core.automation_settings import ReaperSettings
from aifinops.components.idle_gpu_reaper import IdleGpuReaper, IdleGpuReaperArgs
IdleGpuReaper("reaper", IdleGpuReaperArgs(settings=ReaperSettings(idle_minutes=90, dry_run=False),
              summary_topic_arn="arn:aws:sns:us-east-1:123456789012:gpu-reports"))
"""


def only(graph, type_token):
    (resource,) = graph.of_type(type_token)
    return resource


def test_schedule_defaults_to_every_fifteen_minutes_and_invokes_the_function(preview):
    graph = preview("from aifinops.components.idle_gpu_reaper import IdleGpuReaper\nIdleGpuReaper('reaper')", tagged_config())
    rule, function = only(graph, "aws:cloudwatch/eventRule:EventRule"), only(graph, "aws:lambda/function:Function")
    assert rule.inputs["scheduleExpression"] == "rate(15 minutes)"
    assert only(graph, "aws:cloudwatch/eventTarget:EventTarget").inputs["arn"] == function.outputs["arn"]
    permission = only(graph, "aws:lambda/permission:Permission").inputs
    assert (permission["principal"], permission["sourceArn"]) == ("events.amazonaws.com", rule.outputs["arn"])
    assert function.inputs["handler"] == "aifinops.automation.idle_gpu_reaper_handler.handler"
    assert from_env(ReaperSettings, function.inputs["environment"]["variables"]).dry_run is True


def test_function_runs_the_settings_it_was_given(preview):
    function = only(preview(REAPER, tagged_config()), "aws:lambda/function:Function")
    deployed = from_env(ReaperSettings, function.inputs["environment"]["variables"])
    assert deployed == ReaperSettings(idle_minutes=90, dry_run=False,
                                      summary_topic_arn="arn:aws:sns:us-east-1:123456789012:gpu-reports")


def test_logs_are_kept_30_days_encrypted_with_a_rotated_key(preview):
    graph = preview(REAPER, tagged_config())
    key, logs = only(graph, "aws:kms/key:Key"), only(graph, "aws:cloudwatch/logGroup:LogGroup")
    function = only(graph, "aws:lambda/function:Function").inputs
    assert logs.inputs["retentionInDays"] == 30 and logs.inputs["kmsKeyId"] == key.outputs["arn"]
    assert key.inputs["enableKeyRotation"] is True and function["kmsKeyArn"] == key.outputs["arn"]
    assert function["loggingConfig"]["logGroup"] == logs.inputs["name"] == "/aifinops/testproj/dev/reaper"
    queue = only(graph, "aws:sqs/queue:Queue")
    assert queue.inputs["kmsMasterKeyId"] == key.outputs["arn"]
    assert function["deadLetterConfig"] == {"targetArn": queue.outputs["arn"]}
    assert function["reservedConcurrentExecutions"] == 1  # sweeps never overlap
    policy = {s["Sid"]: s for s in json.loads(only(graph, "aws:iam/rolePolicy:RolePolicy").inputs["policy"])["Statement"]}
    assert policy["DeadLetterFailedEvents"]["Resource"] == queue.outputs["arn"]
    logs_statement = json.loads(key.inputs["policy"])["Statement"][1]
    assert logs_statement["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"] == \
        "arn:aws:logs:us-east-1:123456789012:log-group:/aifinops/testproj/dev/reaper"


def test_role_can_stop_only_accelerated_instances_without_the_opt_out_tag(preview):
    graph = preview(REAPER, tagged_config())
    policy = only(graph, "aws:iam/rolePolicy:RolePolicy").inputs["policy"]
    statements = {s["Sid"]: s for s in json.loads(policy)["Statement"]}
    stop = statements["StopIdleAcceleratedInstances"]
    assert stop["Action"] == "ec2:StopInstances"
    assert stop["Resource"] == "arn:aws:ec2:us-east-1:123456789012:instance/*"
    assert stop["Condition"]["StringEquals"]["ec2:InstanceType"] == catalog.accelerated_types()
    assert stop["Condition"]["Null"] == {"aws:ResourceTag/aifinops:keep-running": "true"}
    assert statements["PublishSummary"]["Resource"] == "arn:aws:sns:us-east-1:123456789012:gpu-reports"
    actions = {a for s in statements.values() for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert not {a for a in actions if any(word in a for word in ("Terminate", "Delete", "Start", "*"))}
    wildcard = {a for s in statements.values() if s["Resource"] == "*"
                for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert wildcard == {"ec2:DescribeInstances", "cloudwatch:GetMetricData"}  # neither can be scoped
    assert len(policy) < IAM_INLINE_POLICY_LIMIT
    trust = json.loads(only(graph, "aws:iam/role:Role").inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}


def test_lambda_archive_runs_without_pulumi(tmp_path: Path):
    """The archive alone (as Lambda unpacks it) imports both handlers and reads the catalog's data."""
    archive = tmp_path / "handler.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for name, path in archive_files().items():
            zipped.write(path, name)
    root = tmp_path / "task"
    zipfile.ZipFile(archive).extractall(root)
    probe = (
        "import sys, importlib.abc\n"
        "class NoPulumi(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name.split('.')[0] in ('pulumi', 'pulumi_aws'): raise ImportError('no pulumi in Lambda')\n"
        "sys.meta_path.insert(0, NoPulumi())\n"
        f"sys.path.insert(0, {str(root)!r})\n"
        "import aifinops.automation.idle_gpu_reaper_handler as reaper, aifinops.automation.budget_guard_handler as guard\n"
        "from aifinops.core import catalog\n"
        f"assert reaper.__file__.startswith({str(root)!r}) and catalog.__file__.startswith({str(root)!r})\n"
        "print(callable(reaper.handler), callable(guard.handler), catalog.is_accelerated('g5.xlarge'),"
        " catalog.on_demand_price('p5.48xlarge') is not None)\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=root, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "True", "True"]


@pytest.mark.parametrize("changes, message", [
    ({"schedule": "every 15 minutes"}, "schedule: expected an EventBridge schedule such as 'rate(15 minutes)'"),
    ({"settings": {"idle_minutes": 30}}, "settings: expected ReaperSettings, got {'idle_minutes': 30}"),
    ({"settings": ReaperSettings(summary_topic_arn="arn:aws:sns:us-east-1:123456789012:t")},
     "settings.summary_topic_arn: set summary_topic_arn on the component"),
    ({"summary_topic_arn": "arn:aws:sqs:us-east-1:123456789012:q"}, "summary_topic_arn: expected an ARN of the sns service"),
    ({"topic_kms_key_arn": "alias/aws/sns"}, "topic_kms_key_arn: expected an ARN of the kms service"),
    ({"function": FunctionSettings(log_retention_days=45)}, "function.log_retention_days: expected one of CloudWatch's retention periods (1, 3, 5, 7"),
    ({"function": FunctionSettings(timeout_seconds=1200)}, "function.timeout_seconds: expected a whole number from 10 to 900"),
    ({"function": FunctionSettings(memory_mb=64)}, "function.memory_mb: expected a whole number from 128 to 10240"),
    ({"function": FunctionSettings(reserved_concurrency=0)}, "function.reserved_concurrency: expected a whole number from 1"),
    ({"tags": {"Owner": 7}}, "tags: expected a mapping of string tag keys to string values"),
])
def test_reaper_validation(changes, message):
    with pytest.raises(ValueError) as error:
        IdleGpuReaper("reaper", IdleGpuReaperArgs(**changes))
    assert message in str(error.value)


def test_settings_changed_after_construction_are_checked_again():
    settings = ReaperSettings()
    settings.idle_threshold_percent = 250
    with pytest.raises(ValueError, match=r"idle_threshold_percent: expected a number in \(0, 100\], got 250"):
        IdleGpuReaper("reaper", IdleGpuReaperArgs(settings=settings))


def test_training_dev_stack_deploys_the_reaper_in_dry_run(preview_stack_program):
    config = tagged_config({"idleGpuReapers": [{"name": "gpu-reaper", "schedule": "rate(30 minutes)",
                                                "settings": {"idleMinutes": 45},
                                                "function": {"logRetentionDays": 90}}]}, project="aifinops")
    graph = preview_stack_program(config)
    assert only(graph, "aws:cloudwatch/eventRule:EventRule").inputs["scheduleExpression"] == "rate(30 minutes)"
    assert only(graph, "aws:cloudwatch/logGroup:LogGroup").inputs["retentionInDays"] == 90
    deployed = from_env(ReaperSettings, only(graph, "aws:lambda/function:Function").inputs["environment"]["variables"])
    assert (deployed.idle_minutes, deployed.dry_run) == (45, True)
