"""SageMaker: endpoints (instance-hours per production variant, serverless, async), notebook instances, and
training, processing and Studio jobs as usage (instance-hours, managed spot savings).

Jobs are not stack resources: the usage file lists them under `sagemakerJobs`, and each is priced as its
own line item, like Infracost's usage-only resources:

```yaml
sagemakerJobs:
  nightly-finetune: {kind: training, instanceType: ml.p4d.24xlarge, instances: 2, monthlyHours: 40,
                     managedSpot: true}          # spotSavingsPercent: 70 (default: the catalog's spot discount)
  features: {kind: processing, instanceType: ml.m5.xlarge, monthlyHours: 60}
```
"""
from __future__ import annotations

from typing import Any, Optional

from aifinops.core.catalog import normalize_instance_type
from aifinops.core.service_prices import has_price, service_price

from ..values import as_list, is_unknown
from .compute import _number, hours_of
from .context import PricingContext
from .model import SAGEMAKER, Priced, PriceLine, free, needs_usage, unpriced
from .view import CostResource

ENDPOINT = "aws:sagemaker/endpoint:Endpoint"
ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
NOTEBOOK = "aws:sagemaker/notebookInstance:NotebookInstance"
DOMAIN = "aws:sagemaker/domain:Domain"
JOB_TYPE = "aifinops:usage:SageMakerJob"  # the type a usage-only job is listed under
DEFAULT_NOTEBOOK_VOLUME_GB = 5


def instance_price(instance_type: Optional[str]) -> Optional[float]:
    if not isinstance(instance_type, str) or is_unknown(instance_type):
        return None
    key = f"instance.{instance_type}"
    return service_price("sagemaker", key).usd if has_price("sagemaker", key) else None


def _missing(instance_type: Any) -> str:
    if not isinstance(instance_type, str) or is_unknown(instance_type):
        return "instance type not set or unknown during preview"
    return (f"no SageMaker price for {instance_type} in aifinops/core/data/service_prices.json "
            f"(SageMaker instances are priced apart from EC2)")


def _line(key: str, description: str, quantity: float, assumption: str) -> PriceLine:
    price = service_price("sagemaker", key)
    return PriceLine(description, quantity, price.unit + "s" if price.unit.endswith("hour") else price.unit,
                     price.usd, SAGEMAKER, price.source, price.as_of, assumption)


def price_endpoint(r: CostResource, ctx: PricingContext) -> Priced:
    config = ctx.linked(r, "endpointConfigName", r.get("endpointConfigName"), ENDPOINT_CONFIG)
    if config is None:
        return unpriced("endpoint configuration not found in the stack")
    return price_variants(config, ctx.usage_for(r), r.name)


def price_variants(config: CostResource, usage: dict[str, Any], endpoint: str) -> Priced:
    variants = [v for v in as_list(config.get("productionVariants")) + as_list(config.get("shadowProductionVariants"))
                if isinstance(v, dict)]
    if not variants:
        return unpriced(f"endpoint configuration {config.name} has no production variants")
    is_async = isinstance(config.get("asyncInferenceConfig"), dict)
    lines: list[PriceLine] = []
    notes: list[str] = []
    for variant in variants:
        name = variant.get("variantName") if isinstance(variant.get("variantName"), str) else "variant"
        serverless = variant.get("serverlessConfig")
        if isinstance(serverless, dict):
            lines_or_note = _serverless_lines(name, serverless, usage)
            if isinstance(lines_or_note, str):
                notes.append(lines_or_note)
            else:
                lines += lines_or_note
            continue
        instance_type = variant.get("instanceType")
        price = instance_price(instance_type)
        count = _number(variant.get("initialInstanceCount"))
        if price is None or count is None:
            return unpriced(f"variant {name}: " + (_missing(instance_type) if price is None
                                                   else "initialInstanceCount unknown"))
        count = float(usage.get("instances", count))
        hours, hours_note = hours_of(usage, "each instance")
        kind = "async " if is_async else ""
        scale = ("; an async endpoint can scale to zero: set monthlyHours for the hours it runs"
                 if is_async and "monthlyHours" not in usage else "")
        lines.append(_line(f"instance.{instance_type}", f"variant {name}: {count:g} x {instance_type} {kind}hosting",
                           count * hours, f"{count:g} instances x {hours:g} h ({hours_note}){scale}"))
        volume = _number(variant.get("volumeSizeInGb"))
        if volume:
            lines.append(_line("storage", f"variant {name}: {volume:g} GB volume per instance", count * volume * hours / 730,
                               f"{count:g} instances"))
    if "monthlyProcessedGb" in usage:
        key = "serverlessData" if all(isinstance(v.get("serverlessConfig"), dict) for v in variants) else "realtimeData"
        lines.append(_line(key, "data processed in and out", float(usage["monthlyProcessedGb"]), "usage file"))
    if not lines:
        return needs_usage("; ".join(notes))
    rate = service_price("sagemaker", "realtimeData").usd
    notes += [] if "monthlyProcessedGb" in usage else [
        f"data processed not priced: set monthlyProcessedGb for {endpoint} (${rate:g} per GB)"]
    return Priced(lines=lines, note="; ".join(notes))


def _serverless_lines(name: str, serverless: dict[str, Any], usage: dict[str, Any]) -> Any:
    memory_mb = _number(serverless.get("memorySizeInMb"))
    rate = service_price("sagemaker", "serverlessCompute").usd
    if "monthlyInvocations" not in usage or memory_mb is None:
        return (f"variant {name} is serverless: charged per GB-second (${rate:g} x memory GB x seconds): set "
                f"monthlyInvocations and averageDurationMs in the usage file")
    seconds = float(usage["monthlyInvocations"]) * float(usage.get("averageDurationMs", 1000)) / 1000
    return [_line("serverlessCompute", f"variant {name}: serverless compute at {memory_mb:g} MB",
                  seconds * memory_mb / 1024,
                  f"{usage['monthlyInvocations']:g} invocations x {seconds / max(usage['monthlyInvocations'], 1):g} s"
                  + ("" if "averageDurationMs" in usage else " (1 s assumed)"))]


def price_endpoint_config(r: CostResource, ctx: PricingContext) -> Priced:
    return free("no charge for the configuration: priced on the endpoints that use it")


def price_notebook(r: CostResource, ctx: PricingContext) -> Priced:
    instance_type = r.get("instanceType")
    if instance_price(instance_type) is None:
        return unpriced(_missing(instance_type))
    hours, hours_note = hours_of(ctx.usage_for(r), "the notebook")
    volume = _number(r.get("volumeSize")) or DEFAULT_NOTEBOOK_VOLUME_GB
    return Priced(lines=[
        _line(f"instance.{instance_type}", f"{instance_type} notebook", hours, hours_note),
        _line("storage", f"{volume:g} GB notebook volume", volume,
              "kept all month, also while stopped" + ("" if r.get("volumeSize") else "; 5 GB default"))])


def price_domain(r: CostResource, ctx: PricingContext) -> Priced:
    return free("Studio itself is free: its apps bill instance-hours (list them under sagemakerJobs, kind studio) "
                "and its home directories are priced on the EFS file system")


def price_job(name: str, job: dict[str, Any], ctx: PricingContext) -> Priced:
    """A training, processing, Studio or batch transform job from the usage file's sagemakerJobs."""
    instance_type = job["instanceType"]
    price = instance_price(instance_type)
    if price is None:
        return unpriced(_missing(instance_type))
    instances = float(job.get("instances", 1))
    hours = float(job["monthlyHours"])
    kind = job["kind"]
    line = _line(f"instance.{instance_type}", f"{kind}: {instances:g} x {instance_type}", instances * hours,
                 f"{instances:g} instances x {hours:g} h (usage file)")
    lines = [line]
    naive = None
    if job.get("managedSpot") and kind == "training":
        saving = (float(job["spotSavingsPercent"]) / 100 if "spotSavingsPercent" in job
                  else ctx.spot_discount(normalize_instance_type(instance_type)))
        source = "spotSavingsPercent (usage file)" if "spotSavingsPercent" in job else "the catalog's typical spot discount"
        lines.append(PriceLine(f"{kind}: managed spot savings", instances * hours, line.unit,
                               round(-price * saving, 6), SAGEMAKER, line.source, line.as_of,
                               f"{saving:.0%} off on demand ({source})"))
        naive = [line]
    if job.get("volumeGb"):
        lines.append(_line("storage", f"{kind}: {job['volumeGb']:g} GB volume per instance",
                           instances * float(job["volumeGb"]) * hours / 730, "for the job's hours"))
    return Priced(lines=lines, naive_lines=None if naive is None else naive + lines[2:])


PRICERS = {
    ENDPOINT: price_endpoint,
    ENDPOINT_CONFIG: price_endpoint_config,
    NOTEBOOK: price_notebook,
    DOMAIN: price_domain,
}
FREE_TYPES = {
    "aws:sagemaker/model:Model": "models are free: priced on the endpoints that host them",
    "aws:sagemaker/userProfile:UserProfile": "user profiles are free: their apps are usage (sagemakerJobs)",
    "aws:sagemaker/space:Space": "spaces are free: their apps are usage (sagemakerJobs)",
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup": "model registry groups are free",
    "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy": "model registry group policies are free",
}
