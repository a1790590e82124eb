"""Usage keys of the services priced by usage (SageMaker jobs, data transfer, requests, storage, ...).

Each is documented where it is read; they sit here so the usage schema lists them all.
"""
from __future__ import annotations

from typing import Any

_NUMBER = {"type": "number", "minimum": 0}
_PERCENT = {"type": "number", "minimum": 0, "maximum": 100}
SERVICE_USAGE_KEYS: dict[str, dict[str, Any]] = {
    # data transfer, on any resource (network.py)
    "monthlyInterAzGb": _NUMBER, "monthlyInterRegionGb": _NUMBER, "monthlyInternetEgressGb": _NUMBER,
    # CloudFront, API Gateway WebSockets, Route 53
    "monthlyEgressGb": _NUMBER, "monthlyConnectionMinutesMillions": _NUMBER, "monthlyQueriesMillions": _NUMBER,
    # DynamoDB on demand, ElastiCache Serverless, Aurora Serverless v2
    "monthlyWriteRequestsMillions": _NUMBER, "monthlyReadRequestsMillions": _NUMBER,
    "monthlyEcpuMillions": _NUMBER, "averageAcu": _NUMBER,
    # EFS
    "infrequentAccessPercent": _PERCENT, "monthlyReadGb": _NUMBER, "monthlyWriteGb": _NUMBER,
    # Secrets Manager, CloudTrail, Step Functions, EventBridge
    "monthlyApiCalls": _NUMBER, "monthlyDataEvents": _NUMBER, "monthlyStateTransitions": _NUMBER,
    "monthlyEventsMillions": _NUMBER,
}

# SageMaker jobs: usage-only line items under the usage file's `sagemakerJobs` (sagemaker.py prices them).
JOB_KINDS = ("training", "processing", "studio", "batchTransform")
JOBS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": {
        "type": "object",
        "properties": {
            "kind": {"enum": list(JOB_KINDS)},
            "instanceType": {"type": "string", "pattern": "^ml\\."},
            "instances": {"type": "number", "minimum": 0},
            "monthlyHours": {"type": "number", "minimum": 0},
            "managedSpot": {"type": "boolean"},
            "spotSavingsPercent": {"type": "number", "minimum": 0, "maximum": 100},
            "volumeGb": {"type": "number", "minimum": 0},
        },
        "required": ["kind", "instanceType", "monthlyHours"],
        "additionalProperties": False,
    },
}
