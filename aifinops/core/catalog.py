"""The catalog of accelerated EC2 instance types: specs joined with a dated on-demand price table.

Specs come from AWS's DescribeInstanceTypes records as shipped by moto (regenerate with
`python -m aifinops.catalog_specs`), plus a small supplement for older types moto lacks. Prices come
from a vendored us-east-1 table with its source and as-of date (refresh with `aifinops catalog refresh`),
and from per-region tables that `aifinops catalog refresh --region R` writes next to it.
Components, policy packs and the cost estimate all ask this module.

A type the catalog does not list is judged by its name (`classify`), so a new generation is never a
silent pass. An EC2 name is `<family>.<size>`; the family is a series (letters), a generation (digits)
and options: `p5en` is series p, `p6e-gb200` series p, `trn2u` series trn, `u-6tb1` and `mac-m4`
series u and mac.
- A series starting with p or g (GPUs: p, g, gr and any later p*/g* series), inf (Inferentia),
  trn (Trainium), dl (Gaudi) or cg (the first cluster GPU type) is accelerated.
- A series in OTHER_SERIES (general purpose, compute, memory, storage, HPC, Mac, and FPGA `f` and video
  transcoding `vt`, which carry no GPU, Neuron or Gaudi device) is not.
- Anything else (a new series, a misspelling, a name that is no EC2 name) cannot be classified: the
  approval policy reports it until it is approved by name or the catalog learns it.
botocore's EC2 InstanceType enum and moto's DescribeInstanceTypes data are checked against this rule
in tests/test_catalog.py.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Optional

DATA_DIR = Path(__file__).parent / "data"
SAGEMAKER_PREFIX = "ml."

# The family-name rule (see the module docstring).
ACCELERATED_SERIES_PREFIXES = ("p", "g", "inf", "trn", "dl", "cg")
OTHER_SERIES = frozenset({"a", "c", "cc", "cr", "d", "f", "h", "hi", "hpc", "hs", "i", "im", "is", "m", "mac", "r",
                          "t", "u", "vt", "x", "z"})
# Values that are no EC2 name and launch no accelerator: Batch's computeResources.instanceTypes aliases
# (AWS resolves them to c, m and r families) and SageMaker Studio's `system` app instance.
CPU_ALIASES = {"optimal": "Batch resolves it to CPU families", "default_x86_64": "Batch resolves it to CPU families",
               "default_arm64": "Batch resolves it to CPU families", "system": "SageMaker Studio's own CPU app"}
# series + generation + options (p5en, p6e-gb200), or series + dashed options (u-6tb1, mac-m4)
_FAMILY = re.compile(r"^(?P<series>[a-z]+)(\d+[a-z0-9-]*|-[a-z0-9-]*\d[a-z0-9-]*)$")
_SIZE = re.compile(r"^(nano|micro|small|medium|large|\d*xlarge|metal(-\d+xl)?)$")
ACCELERATED, NOT_ACCELERATED, UNCLASSIFIED = "accelerated", "not-accelerated", "unclassified"

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
    """Accelerated by the catalog, or by the family rule for a type it does not list."""
    return classify(instance_type).verdict == ACCELERATED


@dataclass(frozen=True)
class Classification:
    verdict: str  # ACCELERATED | NOT_ACCELERATED | UNCLASSIFIED
    ec2_name: str  # the EC2 type (or family) read from the value; "" when none could be read
    spec: Optional[AcceleratorSpec]  # set when the catalog lists the type
    reason: str  # how the verdict was reached, for messages


def series_verdict(family: str) -> tuple[str, str]:
    """(verdict, reason) of an EC2 family name by the family rule alone."""
    match = _FAMILY.match(family)
    if match is None:
        return UNCLASSIFIED, f"'{family}' is not an EC2 family name (series, generation, options)"
    series = match.group("series")
    if series.startswith(ACCELERATED_SERIES_PREFIXES):
        return ACCELERATED, f"family {family} is of an accelerated series ({series})"
    if series in OTHER_SERIES:
        return NOT_ACCELERATED, f"family {family} is of a series without GPU, Neuron or Gaudi devices ({series})"
    return UNCLASSIFIED, f"family {family} is of a series ({series}) the family rule does not know"


def ec2_type_name(value: str) -> str:
    """The EC2 `<family>.<size>` inside a value (`ml.g5.xlarge`, AppStream's `stream.graphics.g4dn.xlarge`,
    OpenSearch's `r6g.large.search`), or ''."""
    parts = value.strip().split(".")
    for index in range(len(parts) - 1):
        if _FAMILY.match(parts[index]) and _SIZE.match(parts[index + 1]):
            return f"{parts[index]}.{parts[index + 1]}"
    return ""


def classify(value: str, is_family: bool = False) -> Classification:
    """Is an instance type (or, with is_family, a family such as Batch's `p4d`) accelerated?

    The catalog answers for the types it lists; otherwise the family rule of the module docstring does,
    and a value neither can read is UNCLASSIFIED (never taken as CPU)."""
    value = value.strip() if isinstance(value, str) else ""
    if value in CPU_ALIASES:
        return Classification(NOT_ACCELERATED, value, None, f"'{value}': {CPU_ALIASES[value]}")
    if is_family:
        family = normalize_instance_type(value)
        if any(_specs()[t].family == family for t in accelerated_types()):
            return Classification(ACCELERATED, family, None, f"the catalog lists accelerated {family} types")
        verdict, reason = series_verdict(family)
        return Classification(verdict, family if verdict != UNCLASSIFIED else "", None, reason)
    spec = lookup(value)
    if spec is not None:
        return Classification(ACCELERATED, spec.instance_type, spec, "in the catalog")
    name = ec2_type_name(value)
    if not name:
        return Classification(UNCLASSIFIED, "", None, f"'{value}' is not an EC2 instance type name (family.size)")
    spec = lookup(name)
    if spec is not None:
        return Classification(ACCELERATED, name, spec, f"read as {name}, in the catalog")
    verdict, reason = series_verdict(name.split(".", 1)[0])
    return Classification(verdict, name, None, reason)


def on_demand_price(instance_type: str) -> Optional[float]:
    """USD per hour on demand in the vendored table's region, or None when the table has no price."""
    return price_table().on_demand_usd(instance_type)


def spot_discount(instance_type: str) -> float:
    """The typical fraction below on-demand that spot costs for this type's family."""
    return price_table().spot_discount(instance_type)


def approval_problem(value: str, approved: Iterable[str], is_family: bool = False, where: str = "") -> str:
    """Why an instance type (or, with is_family, a whole family such as Batch's `p4d`) is not approved.

    '' when it is approved or not accelerated. A family is approved only when every accelerated size the
    catalog lists in it is (a family the catalog does not list, only by being approved itself). A type the
    catalog does not list is judged by `classify`; one that cannot be classified is a problem too, until
    it is approved by name. `approved` holds EC2 names (SageMaker `ml.` names are normalized).
    Policies and the checkov checks both ask this, so they judge alike.
    """
    approved = {normalize_instance_type(t) for t in approved}
    at = f" at {where}" if where else ""
    found = classify(value, is_family)
    normalized = normalize_instance_type(value)
    if found.verdict == NOT_ACCELERATED or normalized in approved or (found.ec2_name and found.ec2_name in approved):
        return ""
    if found.verdict == UNCLASSIFIED:
        what = "instance family" if is_family else "instance type"
        return (f"{what} '{value}'{at} cannot be classified as accelerated or not ({found.reason}): "
                f"approve it by name if it is meant, or use a type the catalog knows")
    if is_family:
        family = found.ec2_name
        listed = [t for t in accelerated_types() if _specs()[t].family == family]
        unapproved = [t for t in listed if t not in approved]
        if listed and not unapproved:
            return ""
        allows = f"accelerated types that are not approved ({', '.join(unapproved)})" if unapproved else \
            f"accelerated types the catalog does not list ({found.reason})"
        return f"instance family '{value}'{at} allows {allows}: list approved types instead of the family"
    compared = f", compared as '{found.ec2_name}'" if found.ec2_name != value else ""
    if found.spec is None:
        return (f"accelerated instance type '{value}' (not in the catalog; {found.reason}{compared})"
                f"{at} is not approved")
    spec = found.spec
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
