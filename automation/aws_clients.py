"""boto3 clients with botocore's standard retry mode, shared by every automation job.

Standard mode retries throttling (ThrottlingException, RequestLimitExceeded, ...) and transient errors
with exponential backoff and jitter, so no job writes its own retry loop.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Optional

import boto3
from botocore.config import Config

DEFAULT_MAX_ATTEMPTS = 10  # AWS_MAX_ATTEMPTS, botocore's own variable, overrides it
USER_AGENT = "aifinops-automation"


def _env_attempts() -> int:
    raw = os.environ.get("AWS_MAX_ATTEMPTS")
    if raw is None:
        return DEFAULT_MAX_ATTEMPTS
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"AWS_MAX_ATTEMPTS: expected a whole number of at least 1, got {raw!r}")
    return int(raw)


@lru_cache(maxsize=1)
def shared_session() -> boto3.Session:
    """One session per process: it caches the service models, which take a while to load. In Lambda it
    outlives an invocation, as AWS recommends for clients."""
    return boto3.Session()


def retry_config(max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> Config:
    # botocore's `max_attempts` counts retries after the first try; `total_max_attempts` counts every try, as
    # AWS_MAX_ATTEMPTS does.
    return Config(retries={"mode": "standard", "total_max_attempts": max_attempts}, user_agent_extra=USER_AGENT)


@dataclass
class AwsClients:
    """One client per service, created on first use.

    region: default, the session's region (AWS_REGION in Lambda). endpoint_url: send every call to one
    endpoint (a moto server, a VPC endpoint); default, AWS's (or AWS_ENDPOINT_URL). max_attempts: total
    tries per call (default AWS_MAX_ATTEMPTS, else 10).
    """

    region: Optional[str] = None
    endpoint_url: Optional[str] = None
    max_attempts: int = field(default_factory=_env_attempts)
    session: Optional[boto3.Session] = None
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)
    _account_id: Optional[str] = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ValueError(f"max_attempts: expected a whole number of at least 1, got {self.max_attempts!r}")

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = (self.session or shared_session()).client(
                service, region_name=self.region, endpoint_url=self.endpoint_url,
                config=retry_config(self.max_attempts))
        return self._clients[service]

    def use(self, service: str, client: Any) -> None:
        """Serve `client` for `service` from now on (a client wrapped by botocore's Stubber, for one)."""
        self._clients[service] = client

    @property
    def region_name(self) -> str:
        region = self.region or (self.session or shared_session()).region_name
        if not region:
            raise ValueError("region: no AWS region configured; expected --region, AWS_REGION or a profile's region")
        return region

    def account_id(self) -> str:
        if self._account_id is None:
            self._account_id = self.client("sts").get_caller_identity()["Account"]
        return self._account_id

    def partition(self) -> str:
        """'aws', 'aws-cn' or 'aws-us-gov': the first field of every ARN built here."""
        return (self.session or shared_session()).get_partition_for_region(self.region_name)
