"""The usage file: what the program cannot say (GB stored, hours run, requests), like Infracost's.

```yaml
version: 1
spotDiscounts:            # fraction below on-demand, by instance family or type (default: the catalog's)
  p4d: 0.6
defaults:                 # usage for every resource of a type
  aws:wafv2/webAcl:WebAcl: {monthlyRequestsMillions: 20}
discounts:                # reserved / Savings Plans coverage and an enterprise discount (see discounts.py)
  enterpriseDiscountPercent: 5
sagemakerJobs:            # training, processing and Studio instance-hours (see sagemaker.py)
  nightly-finetune: {kind: training, instanceType: ml.p4d.24xlarge, monthlyHours: 40, managedSpot: true}
resources:                # usage for one resource, by its name (as `aifinops cost` lists it) or URN
  trainer-fleet: {instances: 8, monthlyHours: 200}
  datasets:
    storageGb: 51200         # stored now
    monthlyGrowthGb: 2133    # written per month; with storageGb it dates the data (steady arrival)
    prefixes:
      checkpoints/: {storageGb: 800, monthlyGrowthGb: 400}
```
The same mapping can sit in the stack config under `costUsage`, which is where the policy packs read it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

import jsonschema
import yaml

from ..argument_checks import non_finite_numbers
from ..input_files import read_text_file
from .discounts import DISCOUNTS_SCHEMA, Discounts
from .usage_keys import JOBS_SCHEMA, SERVICE_USAGE_KEYS

_NUMBER = {"type": "number", "minimum": 0}
_DATA_KEYS = {
    "storageGb": _NUMBER, "monthlyGrowthGb": _NUMBER, "oldestDataAgeDays": _NUMBER,
    "averageObjectSizeMb": {"type": "number", "exclusiveMinimum": 0},
}
RESOURCE_USAGE_KEYS: dict[str, dict[str, Any]] = {
    # compute
    "monthlyHours": {"type": "number", "minimum": 0, "maximum": 744},
    "instances": _NUMBER,
    # S3 (per bucket, or per prefix under `prefixes`)
    **_DATA_KEYS,
    "prefixes": {"type": "object", "additionalProperties": {
        "type": "object", "properties": _DATA_KEYS, "additionalProperties": False}},
    "monthlyPutRequests": _NUMBER, "monthlyGetRequests": _NUMBER,
    # backup plans
    "protectedGb": _NUMBER, "dailyChangePercent": {"type": "number", "minimum": 0, "maximum": 100},
    # WAF, SNS, logs, Lambda, load balancers, NAT
    "monthlyRequestsMillions": _NUMBER, "monthlyPublishes": _NUMBER, "monthlyEmailDeliveries": _NUMBER,
    "monthlyIngestedGb": _NUMBER, "storedGb": _NUMBER, "monthlyInvocations": _NUMBER,
    "averageDurationMs": _NUMBER, "averageLcu": _NUMBER, "monthlyProcessedGb": _NUMBER,
    # AWS Config rules, conformance packs and recorders; DynamoDB on-demand tables
    "monthlyEvaluations": _NUMBER, "monthlyConfigurationItems": _NUMBER,
    "monthlyReadRequestsMillions": _NUMBER, "monthlyWriteRequestsMillions": _NUMBER,
    # SQS and SNS payloads (each 64 KB chunk is billed as a request); magnetic EBS I/O
    "averageMessageKb": {"type": "number", "exclusiveMinimum": 0}, "monthlyIoRequestsMillions": _NUMBER,
    **SERVICE_USAGE_KEYS,
}
_RESOURCE_USAGE = {"type": "object", "properties": RESOURCE_USAGE_KEYS, "additionalProperties": False}
USAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "version": {"enum": [1, "1", 0.1, "0.1"]},
        "spotDiscounts": {"type": "object", "additionalProperties": {
            "type": "number", "minimum": 0, "exclusiveMaximum": 1}},
        "defaults": {"type": "object", "additionalProperties": _RESOURCE_USAGE},
        "resources": {"type": "object", "additionalProperties": _RESOURCE_USAGE},
        "discounts": DISCOUNTS_SCHEMA,
        "sagemakerJobs": JOBS_SCHEMA,
    },
    "additionalProperties": False,
}


class UsageError(ValueError):
    """A usage file or `costUsage` mapping that does not fit the schema."""


@dataclass
class Usage:
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    defaults: dict[str, dict[str, Any]] = field(default_factory=dict)
    spot_discounts: dict[str, float] = field(default_factory=dict)
    source: str = ""  # where it came from, for the report
    discounts: Discounts = field(default_factory=lambda: Discounts([]))
    sagemaker_jobs: dict[str, dict[str, Any]] = field(default_factory=dict)  # usage-only line items

    def for_resource(self, type_token: str, name: str, urn: str) -> dict[str, Any]:
        """The type's defaults overlaid with this resource's own entry (by URN, else by name)."""
        own = self.resources.get(urn)
        if own is None:
            own = self.resources.get(name, {})
        return {**self.defaults.get(type_token, {}), **own}

    def unmatched(self, names_and_urns: set[str]) -> list[str]:
        """Resource keys in the usage that name nothing in the stack (likely typos)."""
        return sorted(key for key in self.resources if key not in names_and_urns)


def parse_usage(raw: Any, source: str) -> Usage:
    if raw is None:
        return Usage(source=source)
    if not isinstance(raw, Mapping):
        raise UsageError(f"{source}: expected a mapping with version, spotDiscounts, defaults and resources, "
                         f"got {type(raw).__name__}")
    for where, value in non_finite_numbers(raw):
        raise UsageError(f"{source}: {where}: expected a finite number, got {value!r}")
    error = jsonschema.exceptions.best_match(jsonschema.Draft7Validator(USAGE_SCHEMA).iter_errors(raw))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise UsageError(f"{source}: {where}: {error.message}")
    return Usage(resources={str(k): dict(v) for k, v in (raw.get("resources") or {}).items()},
                 defaults={str(k): dict(v) for k, v in (raw.get("defaults") or {}).items()},
                 spot_discounts={str(k): float(v) for k, v in (raw.get("spotDiscounts") or {}).items()},
                 source=source, discounts=Discounts.from_usage(raw.get("discounts"), source),
                 sagemaker_jobs={str(k): dict(v) for k, v in (raw.get("sagemakerJobs") or {}).items()})


def load_usage_file(path: Path) -> Usage:
    try:
        raw = yaml.safe_load(read_text_file(path, "usage file"))
    except OSError as error:
        raise UsageError(f"cannot read usage file {path}: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise UsageError(f"usage file {path} is not valid YAML: {error}") from error
    return parse_usage(raw, str(path))


def usage_from_stack_config(config: Mapping[str, Any], project: Optional[str] = None) -> Optional[Any]:
    """The raw `costUsage` mapping from namespaced stack config (`<project>:costUsage`), if any."""
    import json

    for key, value in config.items():
        namespace, _, name = str(key).partition(":")
        if name == "costUsage" and (project is None or namespace == project):
            if isinstance(value, str):
                try:
                    return json.loads(value)
                except ValueError:
                    raise UsageError(f"stack config {key}: expected a mapping, got {value!r}") from None
            return value
    return None
