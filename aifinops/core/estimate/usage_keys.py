"""Usage keys of the services priced by usage (SageMaker jobs, data transfer, requests, storage, ...).

Each is documented where it is read; they sit here so the usage schema lists them all.
"""
from __future__ import annotations

from typing import Any

_NUMBER = {"type": "number", "minimum": 0}
SERVICE_USAGE_KEYS: dict[str, dict[str, Any]] = {}
