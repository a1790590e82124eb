"""moto for the automation tests: in-process (`mock_aws`) and over HTTP (a ThreadedMotoServer endpoint)."""
from __future__ import annotations

from typing import Iterator

import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer

from aifinops.automation.aws_clients import AwsClients
from tests.automation.moto_helpers import REGION


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and no default AMI catalogue (moto is much faster launching without it)."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_MAX_ATTEMPTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")


@pytest.fixture
def moto() -> Iterator[AwsClients]:
    """AwsClients against moto in this process."""
    with mock_aws():
        yield AwsClients(region=REGION)


@pytest.fixture
def moto_server() -> Iterator[str]:
    """A moto server on 127.0.0.1 (a free port); its endpoint URL. Stopped after the test."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def server_clients(moto_server: str) -> AwsClients:
    """AwsClients against the moto server. One attempt per call: moto answers unimplemented calls with 500."""
    return AwsClients(region=REGION, endpoint_url=moto_server, max_attempts=1)

