"""The Pulumi-free core every other part of aifinops builds on.

The instance catalog with its specs and prices, lifecycle and price math, the estimator, type tokens
and tag rules, argument checks, the policy-config format and the automation settings. It imports no
pulumi, pulumi_aws or pulumi_policy (an import-linter contract in the tests enforces it), so the
checkov checks, the Lambda handlers and the command's cost paths can use it without the SDKs.
"""
