"""The checkpoint watcher, run for real: bash against a fake IMDSv2 endpoint and a recording `aws` CLI."""
from __future__ import annotations

import os
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from aifinops.components.checkpoint_watcher import (
    WATCHER_SCRIPT,
    WatcherSettings,
    checkpoint_uri,
    combined_user_data,
    watcher_install_script,
)

TOKEN = "imds-session-token"


class FakeImds:
    """IMDSv2: a PUT for a token, then GETs that must carry it (IMDSv1 requests get 401)."""

    def __init__(self) -> None:
        self.metadata = {"instance-id": "i-0123456789abcdef0", "placement/region": "us-west-2",
                         "autoscaling/target-lifecycle-state": "InService"}
        self.unauthorised = 0
        imds = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def do_PUT(self) -> None:  # noqa: N802
                self._reply(200, TOKEN) if self.path == "/latest/api/token" else self._reply(404, "")

            def do_GET(self) -> None:  # noqa: N802
                if self.headers.get("X-aws-ec2-metadata-token") != TOKEN:
                    imds.unauthorised += 1
                    return self._reply(401, "")
                key = self.path.removeprefix("/latest/meta-data/")
                value = imds.metadata.get(key)
                self._reply(200, value) if value is not None else self._reply(404, "")

            def _reply(self, status: int, body: str) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def imds():
    server = FakeImds()
    yield server
    server.close()


@pytest.fixture
def instance(tmp_path: Path, imds: FakeImds):
    """A fake instance: a `aws` on PATH that records its calls, a checkpoint dir, the watcher's environment."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "aws-calls"
    bin_dir.mkdir()
    (bin_dir / "aws").write_text(
        "#!/bin/bash\n"
        f"echo \"$*\" >> {calls}\n"
        "if [ \"$2\" = describe-auto-scaling-instances ]; then echo fleet-asg-123; fi\n")
    (bin_dir / "aws").chmod(0o755)
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    (checkpoints / "step-100.pt").write_text("weights")
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "AIFINOPS_IMDS_ENDPOINT": imds.endpoint,
           "AIFINOPS_POLL_SECONDS": "0.1", "AIFINOPS_CHECKPOINT_DIR": str(checkpoints),
           "AIFINOPS_CHECKPOINT_URI": "s3://team-ckpt/runs/llm/", "AIFINOPS_LIFECYCLE_HOOK": "fleet-checkpoint"}
    return env, calls


def start(env: dict) -> subprocess.Popen:
    return subprocess.Popen(["bash", str(WATCHER_SCRIPT)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def recorded(calls: Path) -> list[str]:
    return calls.read_text().splitlines() if calls.exists() else []


def test_spot_interruption_runs_the_command_uploads_and_completes_the_lifecycle_action(instance, imds, tmp_path):
    env, calls = instance
    marker = tmp_path / "signalled"
    command = tmp_path / "checkpoint-command.sh"
    command.write_text(f"touch {marker}\n")
    env = {**env, "AIFINOPS_CHECKPOINT_COMMAND_FILE": str(command)}
    imds.metadata["spot/instance-action"] = '{"action": "terminate", "time": "2026-11-27T10:02:00Z"}'
    process = start(env)
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr
    assert "termination notice (spot-interruption)" in stderr
    assert marker.exists()
    sync, describe, complete = recorded(calls)
    assert sync == f"s3 sync {env['AIFINOPS_CHECKPOINT_DIR']} s3://team-ckpt/runs/llm/ --only-show-errors"
    assert "describe-auto-scaling-instances --region us-west-2 --instance-ids i-0123456789abcdef0" in describe
    assert complete == ("autoscaling complete-lifecycle-action --region us-west-2 --auto-scaling-group-name "
                        "fleet-asg-123 --lifecycle-hook-name fleet-checkpoint --instance-id i-0123456789abcdef0 "
                        "--lifecycle-action-result CONTINUE")
    assert imds.unauthorised == 0  # every metadata read used the IMDSv2 token


def test_the_watcher_waits_until_auto_scaling_terminates_the_instance(instance, imds):
    env, calls = instance
    process = start(env)
    time.sleep(0.6)  # several polls: nothing happens while the instance is in service
    assert process.poll() is None and recorded(calls) == []
    imds.metadata["autoscaling/target-lifecycle-state"] = "Terminated"
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr
    assert "termination notice (auto-scaling-termination)" in stderr
    assert [call.split()[:2] for call in recorded(calls)] == [
        ["s3", "sync"], ["autoscaling", "describe-auto-scaling-instances"], ["autoscaling", "complete-lifecycle-action"]]


def test_without_a_checkpoint_bucket_it_only_completes_the_action(instance, imds):
    env, calls = instance
    env = {k: v for k, v in env.items() if k != "AIFINOPS_CHECKPOINT_URI"}
    imds.metadata["autoscaling/target-lifecycle-state"] = "Terminated"
    process = start(env)
    process.communicate(timeout=20)
    assert [call.split()[1] for call in recorded(calls)] == ["describe-auto-scaling-instances",
                                                             "complete-lifecycle-action"]


def test_install_script_is_valid_bash_and_carries_the_settings():
    script = watcher_install_script(WatcherSettings("fleet-checkpoint", "/opt/checkpoints", "s3://b/p/",
                                                    "kill -USR1 $(pidof python)", 45))
    subprocess.run(["bash", "-n"], input=script, text=True, check=True)
    assert "AIFINOPS_CHECKPOINT_URI=s3://b/p/" in script
    assert "AIFINOPS_CHECKPOINT_COMMAND_TIMEOUT=45" in script
    assert "AIFINOPS_CHECKPOINT_COMMAND_FILE=/etc/aifinops/checkpoint-command.sh" in script
    without = watcher_install_script(WatcherSettings("fleet-checkpoint", "/opt/checkpoints"))
    assert "AIFINOPS_CHECKPOINT_URI" not in without and "checkpoint-command.sh" not in without


def test_settings_that_would_need_quoting_are_refused():
    with pytest.raises(ValueError, match="characters that need quoting"):
        watcher_install_script(WatcherSettings("fleet checkpoint", "/opt/checkpoints"))


def test_checkpoint_uri_comes_from_the_bucket_arn():
    assert checkpoint_uri("arn:aws:s3:::team-ckpt", "runs/") == "s3://team-ckpt/runs/"
    with pytest.raises(ValueError, match="checkpoint_bucket_arn: expected an S3 bucket ARN"):
        checkpoint_uri("arn:aws:iam::123456789012:role/x", "runs/")


def test_user_data_alone_is_the_install_script():
    assert combined_user_data("#!/bin/bash\necho hi\n", None) == "#!/bin/bash\necho hi\n"
