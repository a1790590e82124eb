"""The flags every command that talks to AWS shares, and how AWS failures reach the user."""
from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from typing import Iterator

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from aifinops.automation.aws_clients import AwsClients
from aifinops.automation.ec2_instances import describe_error

from .core.errors import AifinopsError


class AwsError(AifinopsError):
    """An AWS call failed in a way the command cannot work around (credentials, endpoint, permissions)."""


def add_aws_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--region", metavar="REGION", help="AWS region (default: AWS_REGION or the profile's)")
    parser.add_argument("--profile", metavar="NAME", help="AWS named profile (default: the default credential chain)")
    parser.add_argument("--endpoint-url", metavar="URL", help="send every AWS call here (a moto server, say)")
    parser.add_argument("--debug", "-d", action="store_true", help="print tracebacks and every logged action")


def aws_clients(args: argparse.Namespace) -> AwsClients:
    session = boto3.Session(profile_name=args.profile) if args.profile else None
    try:
        clients = AwsClients(region=args.region, endpoint_url=args.endpoint_url, session=session)
        clients.region_name  # fail now, with the flag to use, if no region is configured
    except ValueError as error:
        raise AwsError(str(error)) from error
    return clients


def log_actions(verbose: bool) -> None:
    """Send the automation's per-resource log (JSON lines with ARNs) to stderr."""
    logger = logging.getLogger("aifinops")
    if verbose and not any(getattr(h, "_aifinops_cli", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler._aifinops_cli = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(logging.INFO if verbose else logging.WARNING)


@contextlib.contextmanager
def aws_errors(what: str) -> Iterator[None]:
    """Turn an AWS failure that stops the whole command into a user-facing error (exit code 2)."""
    try:
        yield
    except ClientError as error:
        raise AwsError(f"{what}: {describe_error(error)}") from error
    except BotoCoreError as error:
        raise AwsError(f"{what}: {error}") from error
