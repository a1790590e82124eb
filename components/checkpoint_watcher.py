"""User data that installs the checkpoint watcher on GpuFleet instances.

The watcher (`data/checkpoint_watcher.sh`, a systemd service) turns a spot interruption notice or an
Auto Scaling termination into: run the user's checkpoint command, copy the checkpoint directory to S3,
complete the termination lifecycle action. Without it a termination hook only delays the kill.
"""
from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path
from typing import Optional

WATCHER_SCRIPT = Path(__file__).parent / "data" / "checkpoint_watcher.sh"
SERVICE_NAME = "aifinops-checkpoint-watcher"
CONFIG_DIR = "/etc/aifinops"
ENV_FILE = f"{CONFIG_DIR}/checkpoint.env"
COMMAND_FILE = f"{CONFIG_DIR}/checkpoint-command.sh"
SCRIPT_PATH = "/usr/local/bin/aifinops-checkpoint-watcher"
# Values written into a systemd EnvironmentFile: keep them to characters that need no quoting.
_SAFE_VALUE = re.compile(r"^[A-Za-z0-9_./:=@+,-]*$")


@dataclass(frozen=True)
class WatcherSettings:
    lifecycle_hook_name: str
    local_dir: str
    checkpoint_uri: Optional[str] = None  # s3://bucket/prefix/, None: no upload
    command: Optional[str] = None  # shell commands run first, e.g. signal the trainer
    command_timeout_seconds: int = 60


def is_safe_value(value: str) -> bool:
    return bool(_SAFE_VALUE.match(value))


def checkpoint_uri(bucket_arn: str, prefix: str) -> str:
    """`arn:aws:s3:::bucket` + `checkpoints/` -> `s3://bucket/checkpoints/`."""
    if not bucket_arn.startswith("arn:") or ":::" not in bucket_arn:
        raise ValueError(f"checkpoint_bucket_arn: expected an S3 bucket ARN such as 'arn:aws:s3:::my-bucket', "
                         f"got {bucket_arn!r}")
    return f"s3://{bucket_arn.split(':::', 1)[1]}/{prefix}"


def watcher_install_script(settings: WatcherSettings) -> str:
    """A cloud-init shell script that writes the settings and starts the watcher service."""
    env = {"AIFINOPS_LIFECYCLE_HOOK": settings.lifecycle_hook_name,
           "AIFINOPS_CHECKPOINT_DIR": settings.local_dir,
           "AIFINOPS_CHECKPOINT_COMMAND_TIMEOUT": str(settings.command_timeout_seconds)}
    if settings.checkpoint_uri:
        env["AIFINOPS_CHECKPOINT_URI"] = settings.checkpoint_uri
    if settings.command:
        env["AIFINOPS_CHECKPOINT_COMMAND_FILE"] = COMMAND_FILE
    unsafe = {k: v for k, v in env.items() if not is_safe_value(v)}
    if unsafe:
        raise ValueError(f"checkpoint watcher settings contain characters that need quoting: {unsafe!r}")
    lines = [
        "#!/bin/bash",
        "# Installed by aifinops GpuFleet: save checkpoints on spot interruption or scale-in.",
        "set -euo pipefail",
        f"install -d -m 0755 {CONFIG_DIR} {settings.local_dir}",
        f"cat > {ENV_FILE} <<'AIFINOPS_ENV'",
        *(f"{key}={value}" for key, value in env.items()),
        "AIFINOPS_ENV",
        f"echo {_b64(WATCHER_SCRIPT.read_text())} | base64 -d > {SCRIPT_PATH}",
        f"chmod 0755 {SCRIPT_PATH}",
    ]
    if settings.command:
        lines += [f"echo {_b64(settings.command)} | base64 -d > {COMMAND_FILE}", f"chmod 0700 {COMMAND_FILE}"]
    lines += [
        f"cat > /etc/systemd/system/{SERVICE_NAME}.service <<'AIFINOPS_UNIT'",
        "[Unit]",
        "Description=aifinops: save checkpoints before spot interruption or scale-in",
        "After=network-online.target",
        "[Service]",
        f"EnvironmentFile={ENV_FILE}",
        f"ExecStart={SCRIPT_PATH}",
        "Restart=on-failure",
        "[Install]",
        "WantedBy=multi-user.target",
        "AIFINOPS_UNIT",
        "systemctl daemon-reload",
        f"systemctl enable --now {SERVICE_NAME}.service",
    ]
    return "\n".join(lines) + "\n"


def combined_user_data(watcher_script: str, user_data: Optional[str]) -> str:
    """The watcher install alone, or a cloud-init MIME multipart of it followed by the user's own data."""
    if not user_data:
        return watcher_script
    message = MIMEMultipart(boundary="aifinops-user-data")
    message.attach(MIMEText(watcher_script, "x-shellscript"))
    subtype = "cloud-config" if user_data.lstrip().startswith("#cloud-config") else "x-shellscript"
    message.attach(MIMEText(user_data, subtype))
    return message.as_string()


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
