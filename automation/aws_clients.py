"""boto3 clients with botocore's standard retry mode, shared by every automation job.

Standard mode retries throttling (ThrottlingException, RequestLimitExceeded, ...) and transient errors
with exponential backoff and jitter, so no job writes its own retry loop.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import boto3
from botocore.config import Config

DEFAULT_MAX_ATTEMPTS = 10
USER_AGENT = "aifinops-automation"


def retry_config(max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> Config:
    return Config(retries={"mode": "standard", "max_attempts": max_attempts}, user_agent_extra=USER_AGENT)


@dataclass
class AwsClients:
    """One client per service, created on first use.

    region: default, the session's region (AWS_REGION in Lambda). endpoint_url: send every call to one
    endpoint (a moto server, a VPC endpoint); default, AWS's. max_attempts: total tries per call.
    """

    region: Optional[str] = None
    endpoint_url: Optional[str] = None
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    session: Optional[boto3.Session] = None
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ValueError(f"max_attempts: expected a whole number of at least 1, got {self.max_attempts!r}")

    def client(self, service: str) -> Any:
        if service not in self._clients:
            session = self.session or boto3.Session()
            self._clients[service] = session.client(
                service, region_name=self.region, endpoint_url=self.endpoint_url,
                config=retry_config(self.max_attempts))
        return self._clients[service]

    def use(self, service: str, client: Any) -> None:
        """Serve `client` for `service` from now on (a client wrapped by botocore's Stubber, for one)."""
        self._clients[service] = client

    @property
    def region_name(self) -> str:
        region = self.region or (self.session or boto3.Session()).region_name
        if not region:
            raise ValueError("region: no AWS region configured; expected --region, AWS_REGION or a profile's region")
        return region

    def account_id(self) -> str:
        if "_account_id" not in self._clients:
            self._clients["_account_id"] = self.client("sts").get_caller_identity()["Account"]
        return self._clients["_account_id"]

    def partition(self) -> str:
        """'aws', 'aws-cn' or 'aws-us-gov': the first field of every ARN built here."""
        return (self.session or boto3.Session()).get_partition_for_region(self.region_name)
