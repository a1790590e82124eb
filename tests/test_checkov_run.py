"""The checkov runner's own errors, without running checkov: what it refuses to report as a clean scan."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from aifinops.checkov import run
from aifinops.checkov.export import CheckovExport, ExportedResource
from aifinops.checkov.run import CheckovError, PendingScan, find_checkov, findings_from_reports
from aifinops.core.errors import EXIT_ERROR, PolicyPackError
from aifinops.graph import Resource, ResourceGraph

URN = "urn:pulumi:dev::proj::aws:sns/topic:Topic::alerts"


def one_topic(root: Path) -> tuple[CheckovExport, ResourceGraph]:
    graph = ResourceGraph("proj", "dev", {})
    graph.add(Resource(URN, "aws:sns/topic:Topic", "alerts", True))
    exported = CheckovExport(root / "0-dev", [ExportedResource(URN, "terraform_plan", "plan.json", "aws_sns_topic.alerts")])
    return exported, graph


def report(count: int, failed: list[dict], parsing_errors: int = 0) -> list[dict]:
    return [{"check_type": "terraform_plan", "results": {"passed_checks": [], "failed_checks": failed,
                                                         "skipped_checks": [], "parsing_errors": []},
             "summary": {"resource_count": count, "parsing_errors": parsing_errors, "checkov_version": "3.3.30"}}]


def test_findings_map_to_the_exported_resource_of_the_right_stack(tmp_path):
    exported, graph = one_topic(tmp_path)
    check = {"check_id": "CKV_AWS_26", "check_name": "SNS encrypted", "resource": "aws_sns_topic.alerts",
             "file_path": "/0-dev/plan.json", "resource_address": "aws_sns_topic.alerts", "details": ["no key"]}
    (scan,) = findings_from_reports(report(1, [check]), [(exported, graph)], tmp_path)
    assert [(f.check_id, f.status, f.urn, f.details) for f in scan.findings] == [("CKV_AWS_26", "failed", URN, ["no key"])]
    assert scan.scanned == {"terraform_plan": 1} and scan.checkov_version == "3.3.30"


def test_a_result_on_a_resource_that_was_not_exported_is_an_error(tmp_path):
    exported, graph = one_topic(tmp_path)
    check = {"check_id": "CKV_AWS_26", "resource": "aws_sns_topic.other", "file_path": "/0-dev/plan.json"}
    with pytest.raises(CheckovError, match="not an exported resource"):
        findings_from_reports(report(1, [check]), [(exported, graph)], tmp_path)


@pytest.mark.parametrize("reports, message", [
    (report(0, []), "checkov scanned 0 terraform_plan resources but 1 were exported"),
    ([], "checkov scanned 0 terraform_plan resources"),  # no report at all: the framework found nothing
    (report(1, [], parsing_errors=1), "could not parse 1 exported terraform_plan file"),
])
def test_a_scan_that_does_not_cover_every_exported_resource_is_an_error(tmp_path, reports, message):
    exported, graph = one_topic(tmp_path)
    with pytest.raises(CheckovError, match=message) as raised:
        findings_from_reports(reports, [(exported, graph)], tmp_path)
    assert raised.value.exit_code == EXIT_ERROR


def test_missing_checkov_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setattr(run, "SOURCE_CHECKOUT", tmp_path)
    monkeypatch.delenv(run.CHECKOV_ENV, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(CheckovError, match=r"pipx install checkov==3\.3\.30"):
        find_checkov()
    fake = tmp_path / "my-checkov"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv(run.CHECKOV_ENV, str(fake))
    assert find_checkov() == fake


def test_a_bad_policy_config_is_reported_before_checkov_could_swallow_it(tmp_path):
    config = tmp_path / "policy-config.json"
    config.write_text(json.dumps({"required-cost-tags": {"requiredTags": "Owner"}}))
    exported, graph = one_topic(tmp_path)
    with pytest.raises(PolicyPackError, match="requiredTags: Invalid type. Expected: array, given: string"):
        PendingScan([graph], policy_config_files=[str(config)], checkov=Path("/nonexistent/checkov"))


def test_a_work_directory_with_old_files_is_refused(tmp_path):
    (tmp_path / "stale.yaml").write_text("kind: Pod\n")
    _, graph = one_topic(tmp_path / "elsewhere")
    with pytest.raises(CheckovError, match="must be empty"):
        PendingScan([graph], work_dir=tmp_path, checkov=Path("/nonexistent/checkov"))
    assert os.listdir(tmp_path) == ["stale.yaml"]
