"""List prices of the AWS services around the GPUs: S3 tiers, EBS, Backup, WAF, Shield, SNS, Budgets, ...

A vendored, dated table (`data/service_prices.json`), one source per service, so every figure the
cost estimate prints can say where it came from and when. EC2 instance prices are in `catalog`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .catalog import DATA_DIR

HOURS_PER_MONTH = 730  # AWS's and Infracost's convention for a month of instance-hours
DAYS_PER_MONTH = HOURS_PER_MONTH / 24


@dataclass(frozen=True)
class ServicePrice:
    service: str
    key: str
    usd: float
    unit: str
    source: str
    as_of: str


@lru_cache(maxsize=1)
def _table() -> dict[str, Any]:
    return json.loads((DATA_DIR / "service_prices.json").read_text())


def table_as_of() -> str:
    return str(_table()["asOf"])


def table_region() -> str:
    return str(_table()["region"])


def service_price(service: str, key: str) -> ServicePrice:
    """The list price `key` of `service` (e.g. ("s3", "storage.GLACIER_IR")); KeyError names what is missing."""
    table = _table()
    entry = table["services"].get(service)
    if entry is None or key not in entry["prices"] or "usd" not in entry["prices"][key]:
        raise KeyError(f"no price {service}/{key} in aifinops/core/data/service_prices.json")
    raw = entry["prices"][key]
    as_of = str(entry.get("asOf", table["asOf"]))  # a service entered later carries its own date
    return ServicePrice(service, key, float(raw["usd"]), str(raw["unit"]), str(entry["source"]), as_of)


def has_price(service: str, key: str) -> bool:
    entry = _table()["services"].get(service)
    return entry is not None and "usd" in entry["prices"].get(key, {})


def service_quantity(service: str, key: str) -> float:
    """A pricing quantity that is not a price (a free allowance, metrics per instance)."""
    return float(_table()["services"][service]["prices"][key]["quantity"])


def service_dates(service: str, key: str) -> dict[str, str]:
    """A dated mapping that is not a price (EKS versions -> end of standard support)."""
    return {str(k): str(v) for k, v in _table()["services"][service]["prices"][key]["dates"].items()}
