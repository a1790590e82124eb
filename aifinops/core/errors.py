"""Errors the command reports to users, each with the exit code `pulumi preview` would use."""
from __future__ import annotations

EXIT_OK = 0
EXIT_POLICY_VIOLATION = 1  # a mandatory policy failed
EXIT_ERROR = 2  # usage, program, config, or tool error
EXIT_INTERNAL = 3  # a bug in aifinops itself (an unexpected exception): "please report"


class AifinopsError(Exception):
    """An error with a message fit for users: no traceback is shown unless --debug."""

    exit_code = EXIT_ERROR


class ProjectError(AifinopsError):
    """Pulumi.yaml or a stack config file is missing, malformed, or names an unknown stack."""


class ProgramError(AifinopsError):
    """The Pulumi program raised, or asked for config or an invoke the preview cannot answer."""


class PolicyPackError(AifinopsError):
    """A policy pack failed to start, crashed, timed out, or answered garbage: fail closed."""
