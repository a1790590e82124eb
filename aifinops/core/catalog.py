"""The catalog of accelerated EC2 instance types: specs joined with a dated on-demand price table.

Specs come from AWS's DescribeInstanceTypes records as shipped by moto (regenerate with
`python -m aifinops.catalog_specs`), plus a small supplement for older types moto lacks. Prices come
from a vendored us-east-1 table with its source and as-of date (refresh with `aifinops catalog refresh`),
and from per-region tables that `aifinops catalog refresh --region R` writes next to it.
Components, policy packs and the cost estimate all ask this module; none of them guesses from names.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Optional

DATA_DIR = Path(__file__).parent / "data"
SAGEMAKER_PREFIX = "ml."

# A sensible approved set: current-generation types teams use for training and inference.
DEFAULT_APPROVED_INSTANCE_TYPES = (
    "g5.xlarge", "g5.2xlarge", "g5.4xlarge", "g5.12xlarge", "g5.48xlarge",
    "g6.xlarge", "g6.2xlarge", "g6.4xlarge", "g6.12xlarge",
    "g6e.xlarge", "g6e.2xlarge", "g6e.12xlarge",
    "g4dn.xlarge", "g4dn.2xlarge",
    "p4d.24xlarge", "p5.48xlarge",
    "inf2.xlarge", "inf2.8xlarge", "trn1.2xlarge", "trn1.32xlarge",
)


@dataclass(frozen=True)
class AcceleratorSpec:
    instance_type: str
    kind: str  # gpu | trainium | inferentia | gaudi
    manufacturer: str
    model: str
    count: int
    memory_gib_per_accelerator: float
    vcpus: Optional[int]
    memory_gib: Optional[float]
    instance_storage_gb: Optional[int] = None  # local NVMe storage; 0 EBS only; None not known

    @property
    def has_local_storage(self) -> Optional[bool]:
        return None if self.instance_storage_gb is None else self.instance_storage_gb > 0

    @property
    def family(self) -> str:
        return self.instance_type.split(".", 1)[0]


@dataclass(frozen=True)
class PriceTable:
    source: str
    as_of: str
    region: str
    on_demand: dict[str, float]
    default_spot_discount: float
    spot_discount_by_family: dict[str, float]
    # Dedicated Instance prices, and reservation effective hourly prices keyed "1yr/standard/No Upfront".
    dedicated: dict[str, float] = field(default_factory=dict)
    reserved: dict[str, dict[str, float]] = field(default_factory=dict)
    dedicated_region_fee: Optional[float] = None
    dedicated_region_fee_source: str = ""

    def on_demand_usd(self, instance_type: str, tenancy: str = "default") -> Optional[float]:
        prices = self.dedicated if tenancy == "dedicated" else self.on_demand
        return prices.get(normalize_instance_type(instance_type))

    def spot_discount(self, instance_type: str) -> float:
        family = normalize_instance_type(instance_type).split(".", 1)[0]
        return self.spot_discount_by_family.get(family, self.default_spot_discount)

    def reserved_usd(self, instance_type: str, term: str) -> Optional[float]:
        return self.reserved.get(normalize_instance_type(instance_type), {}).get(term)


def normalize_instance_type(instance_type: str) -> str:
    """SageMaker's `ml.g5.xlarge` is EC2's `g5.xlarge`."""
    value = instance_type.strip()
    return value[len(SAGEMAKER_PREFIX):] if value.startswith(SAGEMAKER_PREFIX) else value


@lru_cache(maxsize=1)
def _specs() -> dict[str, AcceleratorSpec]:
    specs: dict[str, AcceleratorSpec] = {}
    for filename in ("accelerated_supplement.json", "accelerated_instance_types.json"):
        for name, raw in _load(filename)["instanceTypes"].items():
            specs[name] = AcceleratorSpec(
                instance_type=name, kind=raw["kind"], manufacturer=raw["manufacturer"], model=raw["model"],
                count=int(raw["count"]), memory_gib_per_accelerator=float(raw["memoryGiBPerAccelerator"]),
                vcpus=raw.get("vcpus"), memory_gib=raw.get("memoryGiB"),
                instance_storage_gb=raw.get("instanceStorageGB"))
    return specs


DEFAULT_REGION = "us-east-1"  # the vendored tables' region


def regional_price_file(region: str) -> Path:
    """Where `aifinops catalog refresh --region R` keeps a region's EC2 table (the vendored one for us-east-1)."""
    return DATA_DIR / ("ec2_prices.json" if region == DEFAULT_REGION else f"ec2_prices.{region}.json")


@lru_cache(maxsize=None)
def regional_price_table(region: str) -> Optional[PriceTable]:
    """The EC2 table of `region`, or None when no table has been filled for it."""
    path = regional_price_file(region)
    if not path.exists():
        return None
    raw = json.loads(path.read_text())
    if raw.get("region") != region:
        return None
    return PriceTable(raw["source"], raw["asOf"], raw["region"], dict(raw["onDemandUsdPerHour"]),
                      float(raw.get("defaultSpotDiscount", 0.6)), dict(raw.get("spotDiscountByFamily", {})),
                      dict(raw.get("dedicatedOnDemandUsdPerHour", {})), dict(raw.get("reservedUsdPerHour", {})),
                      raw.get("dedicatedPerRegionFeeUsdPerHour"), str(raw.get("dedicatedPerRegionFeeSource", "")))


def price_table(region: str = DEFAULT_REGION) -> PriceTable:
    """The EC2 table of `region`, falling back to the vendored us-east-1 table."""
    table = regional_price_table(region)
    if table is None:
        table = regional_price_table(DEFAULT_REGION)
    assert table is not None, "the vendored us-east-1 EC2 price table is missing"
    return table


def _load(filename: str) -> dict[str, Any]:
    return json.loads((DATA_DIR / filename).read_text())


def accelerated_types() -> list[str]:
    return sorted(_specs())


def lookup(instance_type: str) -> Optional[AcceleratorSpec]:
    """The accelerator spec of an instance type (SageMaker `ml.` names accepted), or None if not accelerated."""
    return _specs().get(normalize_instance_type(instance_type))


def is_accelerated(instance_type: str) -> bool:
    return lookup(instance_type) is not None


def on_demand_price(instance_type: str) -> Optional[float]:
    """USD per hour on demand in the vendored table's region, or None when the table has no price."""
    return price_table().on_demand_usd(instance_type)


def spot_discount(instance_type: str) -> float:
    """The typical fraction below on-demand that spot costs for this type's family."""
    return price_table().spot_discount(instance_type)


def approval_problem(value: str, approved: Iterable[str], is_family: bool = False, where: str = "") -> str:
    """Why an instance type (or, with is_family, a whole family such as Batch's `p4d`) is not approved.

    '' when it is approved, not accelerated, or unknown to the catalog. A family is approved only when
    every accelerated size in it is. `approved` holds EC2 names (SageMaker `ml.` names are normalized).
    Policies and the checkov checks both ask this, so they judge alike.
    """
    approved = {normalize_instance_type(t) for t in approved}
    at = f" at {where}" if where else ""
    if is_family:
        family = normalize_instance_type(value)
        unapproved = [t for t in accelerated_types() if _specs()[t].family == family and t not in approved]
        if not unapproved:
            return ""
        return (f"instance family '{value}'{at} allows accelerated types that are not approved "
                f"({', '.join(unapproved)}): list approved types instead of the family")
    spec = lookup(value)
    normalized = normalize_instance_type(value)
    if spec is None or normalized in approved:
        return ""
    compared = f", compared as '{normalized}'" if normalized != value else ""
    return (f"accelerated instance type '{value}' ({spec.count}x {spec.manufacturer} {spec.model}{compared})"
            f"{at} is not approved")


def require_accelerated(argument: str, instance_type: Any) -> AcceleratorSpec:
    """Validate a component argument: an accelerated type the catalog knows, or a ValueError that says why."""
    if not isinstance(instance_type, str) or not instance_type:
        raise ValueError(f"{argument}: expected an accelerated EC2 instance type such as 'g5.xlarge', got {instance_type!r}")
    spec = lookup(instance_type)
    if spec is None:
        raise ValueError(
            f"{argument}: {instance_type!r} is not an accelerated (GPU, Trainium, Inferentia or Gaudi) instance type "
            f"in the catalog; expected one of e.g. {', '.join(DEFAULT_APPROVED_INSTANCE_TYPES[:6])}")
    return spec


def require_approved_sagemaker_type(argument: str, instance_type: Any, approved: Iterable[str],
                                    known_types: Optional[Iterable[str]] = None) -> str:
    """A SageMaker (`ml.`) instance type, one of `known_types` when given (the API's own enum); an
    accelerated one must be approved, judged as approved-gpu-instance-types judges it."""
    if not isinstance(instance_type, str) or not instance_type.startswith(SAGEMAKER_PREFIX):
        raise ValueError(f"{argument}: expected a SageMaker instance type such as 'ml.g5.xlarge', got {instance_type!r}")
    if known_types is not None and instance_type not in set(known_types):
        raise ValueError(f"{argument}: {instance_type!r} is not an instance type SageMaker offers for this use")
    approved = list(approved)
    problem = approval_problem(instance_type, approved)
    if problem:
        raise ValueError(f"{argument}: {problem}; approved types: {', '.join(approved)}")
    return instance_type
