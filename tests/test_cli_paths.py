"""Relative paths follow the Pulumi CLI, which changes into --cwd first: every path flag is relative to
--cwd, whatever directory the command was started in; an absolute path is kept."""
from __future__ import annotations

import os
from pathlib import Path

import yaml

from aifinops.cli import main
from tests.conftest import tagged_config, write_project

PROGRAM = """
import pulumi_aws as aws
aws.s3.Bucket("data", tags={"CostCenter": "ml", "Project": "test", "Environment": "dev"})
"""


def test_report_files_and_the_usage_file_are_relative_to_cwd(tmp_path: Path, monkeypatch, capsys):
    root = write_project(tmp_path / "project", PROGRAM, tagged_config())
    (root / "usage.yml").write_text(yaml.safe_dump({"version": 0.1, "resources": {}}))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    absolute = tmp_path / "absolute.md"
    code = main(["preview", "-C", "../project", "--skip-policy-packs", "--sarif", "out/check.sarif", "--junit", "out/junit.xml",
                 "--markdown", str(absolute), "--usage", "usage.yml"])
    assert code == 0, capsys.readouterr().err
    assert (root / "out" / "check.sarif").exists() and (root / "out" / "junit.xml").exists() and absolute.exists()
    assert main(["cost", "-C", "../project", "--html", "cost.html", "--usage", "usage.yml"]) == 0
    assert (root / "cost.html").exists()
    assert os.listdir(elsewhere) == []
