"""`aifinops preview --checkov` starts checkov's interpreter before the program, so checkov's imports
overlap the program; the run it is then handed is checkov's own (the same command line as the script)."""
from __future__ import annotations

import json
import time
from pathlib import Path

from aifinops.checkov import run as checkov_run
from aifinops.checkov.run import WarmCheckov, find_checkov, script_interpreter
from aifinops.cli import main
from tests.conftest import tagged_config, write_project

PROGRAM = """
import pulumi_aws as aws
aws.sns.Topic("alerts")
"""


def test_the_checkov_script_names_its_interpreter(tmp_path: Path):
    assert script_interpreter(find_checkov()).name.startswith("python")
    shell = tmp_path / "checkov"
    shell.write_text("#!/bin/sh\nexec checkov \"$@\"\n")
    env_python = tmp_path / "env-checkov"
    env_python.write_text("#!/usr/bin/env python3\n")
    assert script_interpreter(shell) is None and script_interpreter(env_python) is None
    assert script_interpreter(tmp_path / "missing") is None


def test_the_preview_hands_its_scan_to_the_warm_interpreter(tmp_path: Path, monkeypatch, capsys):
    def cold_start(*args, **kwargs):
        raise AssertionError("checkov was started cold")

    monkeypatch.setattr(checkov_run, "start_checkov", cold_start)
    project = write_project(tmp_path / "project", PROGRAM, tagged_config())
    code = main(["preview", "--cwd", str(project), "--skip-policy-packs", "--checkov", "--json"])
    document = json.loads(capsys.readouterr().out)
    assert code == 1  # the topic without KMS fails CKV_AWS_26: the warm interpreter ran checkov's own checks
    failed = [d["message"] for d in document["diagnostics"] if "[failed]" in d["message"]]
    assert any("checkov v3.3.30  CKV_AWS_26  (aws:sns/topic:Topic: alerts)" in message for message in failed)


def test_a_warm_interpreter_not_needed_exits_at_once():
    warm = WarmCheckov(None)
    process = warm.process
    assert process is not None and process.poll() is None
    warm.cancel()
    assert process.poll() is not None and warm.process is None


def test_other_config_files_than_it_was_started_with_start_checkov_cold(tmp_path: Path, monkeypatch):
    started = []
    monkeypatch.setattr(checkov_run, "start_checkov", lambda *args: started.append(args) or "cold")
    warm = WarmCheckov(None, ())
    process = warm.process
    assert warm.start(tmp_path, ["terraform"], (str(tmp_path / "other.json"),)) == "cold"
    assert len(started) == 1 and _exits(process)  # the warm one, started without that config, is stopped


def _exits(process, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return True
        time.sleep(0.05)
    return False


def test_a_failing_program_leaves_no_warm_checkov(tmp_path: Path, monkeypatch):
    made = []
    original = checkov_run.WarmCheckov.__init__

    def remember(self, *args, **kwargs):
        original(self, *args, **kwargs)
        made.append(self.process)

    monkeypatch.setattr(checkov_run.WarmCheckov, "__init__", remember)
    project = write_project(tmp_path / "project", "raise RuntimeError('boom')\n", tagged_config())
    assert main(["preview", "--cwd", str(project), "--skip-policy-packs", "--checkov"]) == 2
    (process,) = made
    assert process is not None and _exits(process)

