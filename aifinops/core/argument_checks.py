"""Argument checks shared by components: each error names the argument, the value and what was expected."""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Iterable, Optional

AWS_REGION_PATTERN = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")


def whole_number(argument: str, value: Any, minimum: int, maximum: Optional[int] = None, unit: str = "") -> int:
    """An int (not a bool; a whole float from YAML is accepted) within [minimum, maximum]."""
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not is_number or int(value) != value or value < minimum or (maximum is not None and value > maximum):
        bounds = f"from {minimum} to {maximum}" if maximum is not None else f"of at least {minimum}"
        raise ValueError(f"{argument}: expected a whole number {bounds}{' ' + unit if unit else ''}, got {value!r}")
    return int(value)


def positive_number(argument: str, value: Any, unit: str = "") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise ValueError(f"{argument}: expected a number above 0{' ' + unit if unit else ''}, got {value!r}")
    return float(value)


def one_of(argument: str, value: Any, allowed: Iterable[str]) -> str:
    choices = tuple(allowed)
    if value not in choices:
        raise ValueError(f"{argument}: expected one of {', '.join(repr(c) for c in choices)}, got {value!r}")
    return value


def aws_region(argument: str, value: Any) -> str:
    if not isinstance(value, str) or not AWS_REGION_PATTERN.match(value):
        raise ValueError(f"{argument}: expected an AWS region name such as 'us-west-2', got {value!r}")
    return value


def arn_in_region(argument: str, value: Any, service: str, region: Optional[str]) -> Any:
    """A plain-string ARN must belong to `service` (and `region` when given); Outputs pass unchecked."""
    if not isinstance(value, str):
        return value
    parts = value.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != service:
        raise ValueError(f"{argument}: expected an ARN of the {service} service (arn:aws:{service}:...), got {value!r}")
    if region is not None and parts[3] != region:
        raise ValueError(f"{argument}: expected an ARN in region {region}, got {value!r} (region {parts[3] or 'none'})")
    return value


# The retention periods CloudWatch Logs accepts, in days.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
                      2922, 3288, 3653)


def log_retention_days(argument: str, value: Any) -> int:
    if isinstance(value, bool) or value not in LOG_RETENTION_DAYS:
        raise ValueError(f"{argument}: expected one of CloudWatch's retention periods "
                         f"({', '.join(map(str, LOG_RETENTION_DAYS))}), got {value!r}")
    return int(value)


# Child resource names are built from labels, so they must be stable and URN-safe.
LABEL_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def non_finite_numbers(value: Any, where: str = "") -> list[tuple[str, float]]:
    """(path, value) of every NaN or infinity in a config document (JSON's NaN/Infinity, YAML's .nan/.inf):
    numbers that no setting means and that a protobuf Struct cannot carry as JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return [(where or "(top level)", value)]
    if isinstance(value, Mapping):
        return [found for key, item in value.items()
                for found in non_finite_numbers(item, f"{where}.{key}" if where else str(key))]
    if isinstance(value, (list, tuple)):
        return [found for index, item in enumerate(value) for found in non_finite_numbers(item, f"{where}[{index}]")]
    return []


def number_in_range(argument: str, value: Any, low: float, high: float, *, low_inclusive: bool = True) -> float:
    in_range = isinstance(value, (int, float)) and not isinstance(value, bool) \
        and (value >= low if low_inclusive else value > low) and value <= high
    if not in_range:
        raise ValueError(f"{argument}: expected a number in {'[' if low_inclusive else '('}{low}, {high}], got {value!r}")
    return float(value)


def flag(argument: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{argument}: expected true or false, got {value!r}")
    return value


def text(argument: str, value: Any, pattern: Optional[re.Pattern[str]] = None, expected: str = "") -> str:
    if not isinstance(value, str) or not value or (pattern is not None and not pattern.match(value)):
        raise ValueError(f"{argument}: expected {expected or 'a non-empty string'}, got {value!r}")
    return value


def string_list(argument: str, value: Any, *, min_items: int = 0) -> list[str]:
    """A list (not a bare string) of distinct non-empty strings."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)) \
            or not all(isinstance(v, str) and v for v in value) or len(value) < min_items:
        least = f" with at least {min_items} item(s)" if min_items else ""
        raise ValueError(f"{argument}: expected a list of non-empty strings{least}, got {value!r}")
    if len(set(value)) != len(value):
        raise ValueError(f"{argument}: expected no duplicates, got {list(value)!r}")
    return list(value)
