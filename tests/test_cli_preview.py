"""`aifinops preview` end to end, as a subprocess, the way users and CI run it."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, tagged_config, write_project

AIFINOPS = [sys.executable, "-m", "aifinops"]


def run(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([*AIFINOPS, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def default_stack_json() -> dict:
    result = run("preview", "--stack", "training-dev", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_text_preview_shows_a_tree_and_the_summary():
    result = run("preview", "--cwd", str(REPO_ROOT), "--stack", "training-dev")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Previewing update (training-dev):" in out
    assert " +   pulumi:pulumi:Stack" in out and "aifinops-training-dev" in out
    assert "├─ aifinops:compute:GpuInstance" in out and "aws:ec2:Instance" in out
    creates = sum(1 for line in out.splitlines() if line.startswith(" +   "))
    assert f"+ {creates} to create" in out


def test_json_is_a_preview_digest(default_stack_json):
    digest = default_stack_json
    assert set(digest) >= {"config", "steps", "duration", "changeSummary"}  # diagnostics omitted when empty
    # The engine's default providers are internal: not shown, so changeSummary counts every step shown.
    assert not [s for s in digest["steps"] if s["urn"].endswith("::default_7_51_1")]
    assert digest["changeSummary"] == {"create": len(digest["steps"])}
    step = next(s for s in digest["steps"] if s["newState"]["type"] == "aws:ec2/instance:Instance")
    assert step["op"] == "create" and step["urn"].startswith("urn:pulumi:training-dev::aifinops::")
    state = step["newState"]
    assert {"urn", "custom", "type", "inputs", "outputs", "parent", "provider", "propertyDependencies",
            "sourcePosition"} <= set(state)
    assert state["provider"].startswith("urn:pulumi:training-dev::aifinops::pulumi:providers:aws::default_")
    assert digest["config"]["aws:region"] == "us-east-1"


def test_unknown_stack_exits_2_with_the_stack_list_and_no_traceback():
    result = run("preview", "--stack", "nope")
    assert result.returncode == 2
    assert "no stack named 'nope'" in result.stderr and "training-dev" in result.stderr
    assert "Traceback" not in result.stderr


def test_program_errors_exit_2_and_debug_shows_the_traceback(tmp_path: Path):
    write_project(tmp_path, "import pulumi\n\nraise ValueError('capacity must be positive')\n", tagged_config())
    result = run("preview", "--cwd", str(tmp_path))
    assert result.returncode == 2
    assert "stacks/__main__.py:3" in result.stderr and "capacity must be positive" in result.stderr
    assert "Traceback" not in result.stderr
    debug = run("preview", "--cwd", str(tmp_path), "--debug")
    assert debug.returncode == 2 and "Traceback" in debug.stderr


def test_missing_config_exits_2_naming_key_and_file(tmp_path: Path):
    write_project(tmp_path, "import pulumi\npulumi.Config().require('budgetUsd')\n")
    result = run("preview", "--cwd", str(tmp_path))
    assert result.returncode == 2
    assert "testproj:budgetUsd" in result.stderr and "Pulumi.dev.yaml" in result.stderr


def test_program_warnings_show_as_diagnostics_in_text_and_json(tmp_path: Path):
    program = ("import pulumi, pulumi_aws as aws\nb = aws.s3.Bucket('data')\n"
               "pulumi.log.warn('expires before the Glacier minimum', resource=b)\n")
    write_project(tmp_path, program, tagged_config())
    text = run("preview", "--cwd", str(tmp_path), "--policy-pack", str(REPO_ROOT / "policies" / "security"))
    assert "Diagnostics:\n  aws:s3:Bucket (data):\n    warning: expires before the Glacier minimum" in text.stdout
    document = json.loads(run("preview", "--cwd", str(tmp_path), "--json",
                              "--policy-pack", str(REPO_ROOT / "policies" / "security")).stdout)
    assert {"urn": "urn:pulumi:dev::testproj::aws:s3/bucket:Bucket::data", "prefix": "warning: ",
            "message": "expires before the Glacier minimum\n", "severity": "warning"} in document["diagnostics"]
