"""GPU right-sizing: from observed utilisation and GPU memory to a recommended instance type and saving.

Pure logic (no AWS calls): `aifinops rightsize` reads the CloudWatch agent's per-instance and per-fleet
series and hands them here as GpuUsage. The rules, each a documented default:

- Too little data (fewer periods with data than `min_coverage` of the window, or no GPU memory data):
  listed as such, never recommended.
- Idle (p95 utilisation below `idle_percent`, default 5): "stop"; the saving is the whole bill.
- Otherwise the cheapest approved type, priced in the table, cheaper than the current one, with
  accelerators of the same kind and maker (an NVIDIA workload stays on NVIDIA GPUs), such that
  - each GPU holds the observed peak GPU memory of the busiest GPU plus `headroom` (default 20%), and
    all its GPUs together hold that peak on every current GPU plus headroom (the peak is per GPU, so
    this is the conservative sum);
  - its GPU count carries the observed p95 utilisation at no more than `target_percent` (default 80,
    the seed's utilisation target). GPU compute is not in the catalog, so a GPU with less memory than
    the current one is assumed proportionally slower (its utilisation scales by the memory ratio); a
    model change is shown in the reason so a reviewer can benchmark it.
  If none is cheaper, "keep". Host vCPUs and RAM are not measured here.
- "spot": when the instances carry `aifinops:interruptible=true` and run on demand, the (recommended or
  current) type on spot at the catalog's typical discount.
- Prices: the catalog's on-demand table; spot instances at its typical spot discount; 730 hours a month.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Iterable, Optional, Sequence

from . import argument_checks as checks
from . import catalog
from .service_prices import HOURS_PER_MONTH

INTERRUPTIBLE_TAG = "aifinops:interruptible"
MIB_PER_GIB = 1024
STOP, RESIZE, SPOT, KEEP = "stop", "resize", "spot", "keep"
INSUFFICIENT_DATA, NOT_EVALUATED = "insufficient-data", "not-evaluated"


@dataclass(frozen=True)
class GpuUsage:
    """What one instance or fleet did over the window.

    utilisation: per-period average GPU utilisation (%); memory_used_mib: per-period peak GPU memory
    used on the busiest GPU (MiB); expected_periods: how many periods the window holds. lifecycles: one
    'on-demand' or 'spot' per instance (a fleet has several).
    """

    target: str
    kind: str  # "instance" | "fleet"
    name: str
    instance_type: str
    lifecycles: Sequence[str]
    utilisation: Sequence[float]
    memory_used_mib: Sequence[float]
    expected_periods: int
    interruptible: bool = False


@dataclass(frozen=True)
class RightsizeSettings:
    headroom: float = 0.2
    target_percent: float = 80.0
    idle_percent: float = 5.0
    min_coverage: float = 0.8
    approved_types: tuple[str, ...] = catalog.DEFAULT_APPROVED_INSTANCE_TYPES
    region: str = catalog.DEFAULT_REGION

    def __post_init__(self) -> None:
        checks.number_in_range("headroom", self.headroom, 0, 10)
        checks.number_in_range("target_percent", self.target_percent, 0, 100, low_inclusive=False)
        checks.number_in_range("idle_percent", self.idle_percent, 0, 100)
        checks.number_in_range("min_coverage", self.min_coverage, 0, 1, low_inclusive=False)
        unknown = [t for t in self.approved_types if catalog.lookup(t) is None]
        if unknown:
            raise ValueError(f"approved_types: {', '.join(unknown)} not accelerated types in the catalog")


@dataclass
class Recommendation:
    target: str
    kind: str
    name: str
    instance_type: str
    instances: int
    action: str
    recommended_type: Optional[str] = None
    use_spot: bool = False
    p95_utilisation: Optional[float] = None
    peak_memory_gib: Optional[float] = None
    peak_memory_percent: Optional[float] = None
    coverage: float = 0.0
    current_monthly_usd: Optional[float] = None
    recommended_monthly_usd: Optional[float] = None
    monthly_saving_usd: float = 0.0
    reason: str = ""
    notes: list[str] = field(default_factory=list)


def p95(values: Sequence[float]) -> float:
    """The 95th percentile (inclusive method: the value itself when there is one sample)."""
    if len(values) == 1:
        return float(values[0])
    return statistics.quantiles(values, n=100, method="inclusive")[94]


def hourly_usd(instance_type: str, lifecycle: str, table: catalog.PriceTable) -> Optional[float]:
    on_demand = table.on_demand_usd(instance_type)
    if on_demand is None:
        return None
    return on_demand * (1 - table.spot_discount(instance_type)) if lifecycle == "spot" else on_demand


def monthly_usd(instance_type: str, lifecycles: Iterable[str], table: catalog.PriceTable) -> Optional[float]:
    hourly = [hourly_usd(instance_type, lifecycle, table) for lifecycle in lifecycles]
    return None if any(h is None for h in hourly) else round(sum(hourly) * HOURS_PER_MONTH, 2)


def fits(candidate: catalog.AcceleratorSpec, current: catalog.AcceleratorSpec, p95_percent: float,
         peak_gib: float, settings: RightsizeSettings) -> bool:
    """Whether `candidate` holds the observed peak GPU memory and p95 utilisation of `current`."""
    if (candidate.kind, candidate.manufacturer) != (current.kind, current.manufacturer):
        return False  # CUDA code does not run on Neuron, nor the reverse
    per_gpu_need = peak_gib * (1 + settings.headroom)
    if candidate.memory_gib_per_accelerator < per_gpu_need:
        return False
    if candidate.count * candidate.memory_gib_per_accelerator < current.count * per_gpu_need:
        return False
    slowdown = max(1.0, current.memory_gib_per_accelerator / candidate.memory_gib_per_accelerator)
    busy_gpus = current.count * p95_percent * slowdown / settings.target_percent
    return candidate.count >= max(1, math.ceil(busy_gpus - 1e-9))


def recommend(usage: GpuUsage, settings: RightsizeSettings) -> Recommendation:
    table = catalog.price_table(settings.region)
    result = Recommendation(usage.target, usage.kind, usage.name, usage.instance_type, len(usage.lifecycles),
                            NOT_EVALUATED)
    spec = catalog.lookup(usage.instance_type)
    current = monthly_usd(usage.instance_type, usage.lifecycles, table)
    result.current_monthly_usd = current
    result.coverage = round(len(usage.utilisation) / usage.expected_periods, 3) if usage.expected_periods else 0.0
    if spec is None:
        result.reason = f"{usage.instance_type} is not an accelerated type in the catalog"
        return result
    if current is None:
        result.reason = f"no {table.region} price for {usage.instance_type} in the catalog"
        return result
    if result.coverage < settings.min_coverage or not usage.memory_used_mib:
        result.action = INSUFFICIENT_DATA
        result.reason = (f"GPU metrics in {len(usage.utilisation)} of {usage.expected_periods} periods "
                         f"(needs {settings.min_coverage:.0%}); is the CloudWatch agent running?")
        return result
    utilisation = p95(usage.utilisation)
    peak_gib = max(usage.memory_used_mib) / MIB_PER_GIB
    result.p95_utilisation = round(utilisation, 1)
    result.peak_memory_gib = round(peak_gib, 2)
    result.peak_memory_percent = round(100 * peak_gib / spec.memory_gib_per_accelerator, 1)
    if utilisation < settings.idle_percent:
        result.action, result.recommended_monthly_usd = STOP, 0.0
        result.monthly_saving_usd = current
        result.reason = f"idle: p95 GPU utilisation {utilisation:.1f}% is below {settings.idle_percent:g}%"
        return result

    candidates = []
    for name in settings.approved_types:
        candidate = catalog.lookup(name)
        price = monthly_usd(name, usage.lifecycles, table)
        if candidate is None or price is None or price >= current or name == spec.instance_type:
            continue
        if fits(candidate, spec, utilisation, peak_gib, settings):
            candidates.append((price, name, candidate))
    chosen_type, chosen_price = spec.instance_type, current
    if candidates:
        chosen_price, chosen_type, chosen = min(candidates, key=lambda c: (c[0], c[1]))
        result.action = RESIZE
        model = "" if (chosen.manufacturer, chosen.model) == (spec.manufacturer, spec.model) else \
            f"; {spec.model} -> {chosen.model}: benchmark before moving"
        result.reason = (f"peak GPU memory {peak_gib:.1f} GiB ({result.peak_memory_percent:g}% of "
                         f"{spec.memory_gib_per_accelerator:g} GiB) and p95 utilisation {utilisation:.1f}% fit "
                         f"{chosen.count}x {chosen.model} ({chosen.memory_gib_per_accelerator:g} GiB){model}")
    else:
        result.action = KEEP
        result.reason = (f"no cheaper approved type holds peak GPU memory {peak_gib:.1f} GiB + "
                         f"{settings.headroom:.0%} at p95 utilisation {utilisation:.1f}%")
    if usage.interruptible and any(lifecycle != "spot" for lifecycle in usage.lifecycles):
        spot_price = monthly_usd(chosen_type, ["spot"] * len(usage.lifecycles), table)
        if spot_price is not None and spot_price < chosen_price:
            result.use_spot, chosen_price = True, spot_price
            if result.action == KEEP:
                result.action, result.reason = SPOT, "interruptible (aifinops:interruptible=true) and on demand"
            else:
                result.reason += "; interruptible, so on spot"
    result.recommended_type = chosen_type
    result.recommended_monthly_usd = chosen_price
    result.monthly_saving_usd = round(current - chosen_price, 2)
    return result
