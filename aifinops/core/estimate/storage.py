"""S3 buckets by storage class, with lifecycle transitions in steady state, and AWS Backup plans.

S3: the usage file gives GB stored now and GB written a month, per bucket or per prefix. Data is taken to
arrive at that steady rate, so stored GB / monthly GB dates it; `aifinops.core.lifecycle` (the same model
TieredBucket validates with) spreads it over the classes the lifecycle rule moves it through.
"""
from __future__ import annotations

import re
from typing import Any, Optional

from aifinops.core import lifecycle
from aifinops.core.service_prices import DAYS_PER_MONTH, HOURS_PER_MONTH, has_price, service_price

from ..values import as_list
from .compute import _number, hours_of
from .context import PricingContext
from .model import BACKUP, EC2_OTHER, ECR, EFS, FSX, S3, Priced, PriceLine, free, needs_usage, unpriced
from .services import service_line, usage_priced
from .view import CostResource

BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
LIFECYCLE_TYPES = ("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
                   "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2")
BACKUP_PLAN = "aws:backup/plan:Plan"
BACKUP_SELECTION = "aws:backup/selection:Selection"
DEFAULT_OBJECT_MB = 64.0  # training shards and checkpoints are large objects
DEFAULT_DAILY_CHANGE_PERCENT = 2.0
UNBOUNDED_RETENTION_DAYS = 365


def _s3_line(description: str, quantity: float, unit: str, unit_usd: float, assumption: str) -> PriceLine:
    source, as_of, _ = lifecycle.price_source()
    return PriceLine(description, quantity, unit, unit_usd, S3, source, as_of, assumption)


def bucket_rules(ctx: PricingContext, bucket: CostResource) -> list[lifecycle.LifecycleRule]:
    rules = lifecycle.rules_from_inputs(bucket.get("lifecycleRules"))  # the deprecated inline form
    for configuration in ctx.referring_to(bucket, "bucket", *LIFECYCLE_TYPES):
        rules += lifecycle.rules_from_inputs(configuration.get("rules"))
    return rules


def _rule_for(rules: list[lifecycle.LifecycleRule], prefix: str) -> Optional[lifecycle.LifecycleRule]:
    """The rule that governs keys under `prefix`: the most specific one whose prefix covers it."""
    matching = [rule for rule in rules if prefix.startswith(rule.prefix)]
    return max(matching, key=lambda rule: len(rule.prefix), default=None)


def _data_chunks(usage: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(prefix, usage) for each prefix in the usage, then the rest of the bucket ("")."""
    chunks = [(str(prefix), dict(values)) for prefix, values in (usage.get("prefixes") or {}).items()]
    if any(key in usage for key in ("storageGb", "monthlyGrowthGb")):
        chunks.append(("", {k: usage[k] for k in ("storageGb", "monthlyGrowthGb", "oldestDataAgeDays",
                                                   "averageObjectSizeMb") if k in usage}))
    return chunks


def _declared_usage(ctx: PricingContext, bucket: CostResource) -> dict[str, Any]:
    """What the bucket's component declares it receives (TieredBucket's monthlyIngestGb, averageObjectMb)."""
    parent = ctx.by_urn.get(bucket.parent)
    ingest = parent.get("monthlyIngestGb") if parent is not None else None
    if not isinstance(ingest, (int, float)) or isinstance(ingest, bool):
        return {}
    declared: dict[str, Any] = {"monthlyGrowthGb": float(ingest)}
    object_mb = parent.get("averageObjectMb")
    if isinstance(object_mb, (int, float)) and not isinstance(object_mb, bool) and object_mb > 0:
        declared["averageObjectSizeMb"] = float(object_mb)
    return declared


def price_bucket(r: CostResource, ctx: PricingContext) -> Priced:
    usage = ctx.usage_for(r)
    chunks = _data_chunks(usage)
    declared = False
    if not chunks:
        chunks = _data_chunks(_declared_usage(ctx, r))
        declared = bool(chunks)
    if not chunks:
        standard = lifecycle.storage_classes()[lifecycle.STANDARD].usd_per_gb_month
        return needs_usage(f"storage is usage-based (${standard}/GB-month in STANDARD): set storageGb and "
                           f"monthlyGrowthGb for '{r.name}' in the usage file")
    rules = bucket_rules(ctx, r)
    classes = lifecycle.storage_classes()
    month_days = lifecycle.days_per_month()
    lines: list[PriceLine] = []
    naive: list[PriceLine] = []
    for prefix, data in chunks:
        where = f"'{prefix}'" if prefix else ("rest of bucket" if len(chunks) > 1 else "bucket")
        rule = _rule_for(rules, prefix)
        stored = float(data.get("storageGb", 0.0))
        growth = float(data.get("monthlyGrowthGb", 0.0))
        object_mb = float(data.get("averageObjectSizeMb", DEFAULT_OBJECT_MB))
        age_days = data.get("oldestDataAgeDays")
        if age_days is None and growth > 0:
            age_days = stored / growth * month_days if stored > 0 else 12 * month_days
        dated = (f"{growth:,.0f} GB/month declared by the component (monthlyIngestGb)" if declared
                 else f"{stored:,.0f} GB now + {growth:,.0f} GB/month")
        naive_gb = stored or growth * (age_days or 0) / month_days
        naive.append(_s3_line(f"{where}: STANDARD", naive_gb, "GB-months", classes[lifecycle.STANDARD].usd_per_gb_month,
                              f"naive: {naive_gb:,.0f} GB all in STANDARD, no lifecycle"))
        if rule is None or not age_days:
            scoped = sorted({f"'{other.prefix}'" for other in rules if other.prefix})
            why = ("no growth or age given: all data priced as new" if rule is not None
                   else f"no lifecycle rule covers it (rules for {', '.join(scoped)}: give usage per prefix)"
                   if scoped else "no lifecycle rule covers it")
            lines.append(_s3_line(f"{where}: STANDARD", naive_gb, "GB-months",
                                  classes[lifecycle.STANDARD].usd_per_gb_month, f"{dated}; {why}"))
            continue
        months = age_days / month_days
        ingest = growth if growth > 0 else stored / months
        estimate = lifecycle.monthly_cost(rule, ingest, object_mb, months)
        assumption = (f"{dated}: steady arrival over {months:,.1f} months, rule '{rule.id}'"
                      f"{', expiring at day ' + str(rule.expiration_days) if rule.expiration_days else ''}")
        for storage_class, gb in estimate.gb_by_class.items():
            stay_price = classes[storage_class].usd_per_gb_month
            lines.append(_s3_line(f"{where}: {storage_class}", gb, "GB-months", stay_price, assumption))
        if any(c.usd_per_gb_month_by_days_idle[1:] for c in (classes[k] for k in estimate.gb_by_class)):
            # Intelligent-Tiering steps down while idle: the model's storage total already includes it.
            tiered = sum(line.monthly_usd for line in lines if line.description.startswith(f"{where}: "))
            lines.append(_s3_line(f"{where}: Intelligent-Tiering idle-tier discount", 1, "month",
                                  estimate.storage_usd - tiered, "data not read after it lands"))
        per_object = f"{object_mb:g} MB objects (averageObjectSizeMb)"
        for label, usd in (("lifecycle transition requests", estimate.transition_usd),
                           ("early-deletion fees", estimate.early_deletion_usd),
                           ("Intelligent-Tiering monitoring", estimate.monitoring_usd)):
            if usd > 0:
                lines.append(_s3_line(f"{where}: {label}", 1, "month", usd, f"{ingest:,.0f} GB/month in {per_object}"))
    for key, price_key, what in (("monthlyPutRequests", "requests.put", "PUT/LIST requests"),
                                 ("monthlyGetRequests", "requests.get", "GET requests")):
        if usage.get(key):
            price = service_price("s3", price_key)
            line = PriceLine(what, usage[key] / 1000, "1,000 requests", price.usd, S3, price.source, price.as_of,
                             "usage file")
            lines.append(line)
            naive.append(line)
    return Priced(lines=lines, naive_lines=naive)


def price_bucket_part(r: CostResource, ctx: PricingContext) -> Priced:
    return free("no charge of its own: the bucket's storage and requests are priced on the bucket")


# -- AWS Backup -------------------------------------------------------------------------------------
_CRON = re.compile(r"^cron\((.+)\)$")


def interval_days(schedule: Any) -> tuple[float, str]:
    """Days between recovery points, from a backup rule's cron schedule (daily when unreadable)."""
    match = _CRON.match(schedule.strip()) if isinstance(schedule, str) else None
    fields = match.group(1).split() if match else []
    if len(fields) != 6:
        return 1.0, "schedule not readable: daily assumed"
    _minute, hour, day_of_month, _month, day_of_week, _year = fields
    if day_of_month not in ("*", "?"):
        return DAYS_PER_MONTH / len(day_of_month.split(",")), "monthly"
    if day_of_week not in ("*", "?"):
        return 7.0 / len(day_of_week.split(",")), "weekly"
    if hour.startswith("*") or "," in hour or "/" in hour:
        per_day = 24 / int(hour.split("/")[1]) if "/" in hour else len(hour.split(","))
        return 1.0 / per_day, f"{per_day:g} a day"
    return 1.0, "daily"


def _protected_gb(ctx: PricingContext, plan: CostResource, usage: dict[str, Any]) -> tuple[Optional[float], str]:
    if "protectedGb" in usage:
        return float(usage["protectedGb"]), "protectedGb (usage file)"
    total, named = 0.0, []
    for selection in ctx.of_type(BACKUP_SELECTION):
        if ctx.linked(selection, "planId", selection.get("planId"), BACKUP_PLAN) is not plan:
            continue
        for target in _selected(ctx, selection):
            size = _resource_gb(ctx, target)
            if size:
                total += size
                named.append(target.name)
    if not named:
        return None, ""
    return total, f"size of {', '.join(named)}"


def _selected(ctx: PricingContext, selection: CostResource) -> list[CostResource]:
    arns = {a for a in as_list(selection.get("resources")) if isinstance(a, str)}
    conditions = [(c.get("key"), c.get("value")) for c in as_list(selection.get("selectionTags")) if isinstance(c, dict)]
    chosen = []
    for candidate in ctx.resources:
        by_arn = candidate.props.get("arn") in arns or candidate.urn in selection.property_dependencies.get("resources", [])
        by_tag = bool(conditions) and any(ctx.tags_of(candidate).get(k) == v for k, v in conditions if isinstance(k, str))
        if by_arn or by_tag:
            chosen.append(candidate)
    return chosen


def _resource_gb(ctx: PricingContext, resource: CostResource) -> float:
    if resource.type in BUCKET_TYPES:
        usage = ctx.usage_for(resource)
        return float(usage.get("storageGb", 0.0)) + sum(
            float(p.get("storageGb", 0.0)) for p in (usage.get("prefixes") or {}).values())
    if resource.type == "aws:ebs/volume:Volume":
        return _number(resource.get("size")) or 0.0
    if resource.type == "aws:ec2/instance:Instance":
        return _number(resource.get("rootBlockDevice", "volumeSize")) or 0.0
    return 0.0


def _backup_line(tier: str, gb: float, assumption: str) -> PriceLine:
    price = service_price("backup", f"storage.{tier}")
    return PriceLine(f"{tier} backup storage", gb, "GB-months", price.usd, BACKUP, price.source, price.as_of, assumption)


def price_backup_plan(r: CostResource, ctx: PricingContext) -> Priced:
    usage = ctx.usage_for(r)
    protected, protected_note = _protected_gb(ctx, r, usage)
    if protected is None:
        return needs_usage(f"backup storage is usage-based: set protectedGb for '{r.name}' in the usage file "
                           f"(no selected resource has a known size)")
    change = float(usage.get("dailyChangePercent", DEFAULT_DAILY_CHANGE_PERCENT)) / 100
    warm = cold = naive_warm = protected  # one full copy; later points are incremental
    details = []
    for rule in as_list(r.get("rules")):
        if not isinstance(rule, dict):
            continue
        every, cadence = interval_days(rule.get("schedule"))
        copies = [rule.get("lifecycle") or {}] + [c.get("lifecycle") or {} for c in as_list(rule.get("copyActions"))
                                                   if isinstance(c, dict)]
        for index, policy in enumerate(copies):
            keep = _number(policy.get("deleteAfter")) or UNBOUNDED_RETENTION_DAYS
            cold_after = _number(policy.get("coldStorageAfter"))
            points = keep / every
            warm_points = min(cold_after, keep) / every if cold_after is not None else points
            incremental = protected * min(1.0, change * every)
            warm += warm_points * incremental + (protected if index else 0.0)  # a copy starts with its own full
            # Cold (archive) recovery points are stored as full copies.
            cold += (points - warm_points) * protected
            naive_warm += points * incremental + (protected if index else 0.0)
        details.append(f"{rule.get('ruleName') or 'rule'}: {cadence}")
    cold -= protected  # `cold` started from the full copy only to share the initialiser
    assumption = (f"{protected:,.0f} GB protected ({protected_note}), {change:.0%} changed a day; "
                  f"{'; '.join(details)}; cold recovery points are full copies")
    lines = [_backup_line("warm", warm, assumption)]
    if cold > 0:
        lines.append(_backup_line("cold", cold, assumption))
    naive = [_backup_line("warm", naive_warm, "naive: no cold tier, every recovery point stays warm")]
    return Priced(lines=lines, naive_lines=naive)


# -- file systems, registries and snapshots ----------------------------------------------------------
EBS_VOLUME = "aws:ebs/volume:Volume"


def price_efs(r: CostResource, ctx: PricingContext) -> Priced:
    """Storage by class (usage: storageGb, infrequentAccessPercent), plus the throughput mode's own charges."""
    usage = ctx.usage_for(r)
    one_zone = bool(r.get("availabilityZoneName"))
    mode = r.get("throughputMode") or "bursting"
    if "storageGb" not in usage:
        rate = service_price("efs", "storage.oneZone" if one_zone else "storage.standard").usd
        return needs_usage(f"storage is usage-based (${rate:g}/GB-month {'One Zone' if one_zone else 'Standard'}): "
                           f"set storageGb (and infrequentAccessPercent) for '{r.name}' in the usage file")
    stored = float(usage["storageGb"])
    cold = stored * float(usage.get("infrequentAccessPercent", 0)) / 100
    lines = [service_line(("efs", "storage.oneZone" if one_zone else "storage.standard"), EFS,
                           "One Zone storage" if one_zone else "Standard storage", stored - cold, "usage file")]
    if cold:
        lines.append(service_line(("efs", "storage.ia"), EFS, "Infrequent Access storage", cold,
                                   "usage file (infrequentAccessPercent)"))
    notes = []
    if mode == "elastic":
        for key, price_key, what in (("monthlyReadGb", "elastic.read", "Elastic throughput reads"),
                                     ("monthlyWriteGb", "elastic.write", "Elastic throughput writes")):
            if key in usage:
                lines.append(service_line(("efs", price_key), EFS, what, float(usage[key]), "usage file"))
            else:
                notes.append(f"{what} not priced: set {key}")
    elif mode == "provisioned":
        mibps = _number(r.get("provisionedThroughputInMibps"))
        if mibps is None:
            return unpriced("provisioned throughput mode without a known provisionedThroughputInMibps")
        lines.append(service_line(("efs", "provisioned"), EFS, f"{mibps:g} MB/s provisioned throughput", mibps,
                                   "charged in full: the baseline that storage earns in bursting mode is not deducted"))
    return Priced(lines=lines, note="; ".join(f"needs usage: {n}" for n in notes))


def price_lustre(r: CostResource, ctx: PricingContext) -> Priced:
    deployment = r.get("deploymentType") or "SCRATCH_1"
    capacity = _number(r.get("storageCapacity"))
    if capacity is None:
        return unpriced("storageCapacity not set or unknown")
    throughput = _number(r.get("perUnitStorageThroughput"))
    persistent = deployment.startswith("PERSISTENT")
    if persistent and throughput is None:
        return unpriced(f"{deployment}: perUnitStorageThroughput not set or unknown (the price depends on it)")
    key = f"lustre.{deployment}" + (f".{throughput:g}" if persistent else "")
    if not has_price("fsx", key):
        return unpriced(f"no FSx for Lustre price for {deployment}"
                        + (f" at {throughput:g} MB/s/TiB" if throughput is not None else " (perUnitStorageThroughput unset)"))
    tier = f" at {throughput:g} MB/s/TiB" if deployment.startswith("PERSISTENT") else ""
    hours, assumption = hours_of(ctx.usage_for(r), "the file system")
    return Priced(lines=[service_line(("fsx", key), FSX, f"{capacity:g} GB {deployment}{tier}",
                                       capacity * hours / HOURS_PER_MONTH, f"{assumption}; billed on provisioned capacity")])


def price_ecr_repository(r: CostResource, ctx: PricingContext) -> Priced:
    return usage_priced(r, ctx, "storageGb", ("ecr", "storage"), ECR, "image storage",
                        f"image storage of '{r.name}' is usage-based (a lifecycle policy bounds it)")


def price_snapshot(r: CostResource, ctx: PricingContext) -> Priced:
    usage = ctx.usage_for(r)
    tier = "archive" if r.get("storageTier") == "archive" else "standard"
    if "storageGb" in usage:
        size, why = float(usage["storageGb"]), "usage file"
    else:
        volume = ctx.linked(r, "volumeId", r.get("volumeId"), EBS_VOLUME)
        size = _number(volume.get("size")) if volume is not None else None
        if size is None:
            rate = service_price("ebs", f"snapshot.{tier}").usd
            return needs_usage(f"snapshot size unknown (${rate:g}/GB-month): set storageGb in the usage file")
        why = (f"the whole {size:g} GB of volume {volume.name}: an upper bound, a first snapshot stores only "
               f"written blocks (set storageGb)")
    return Priced(lines=[service_line(("ebs", f"snapshot.{tier}"), EC2_OTHER, f"{tier} snapshot", size, why)])


PRICERS = {
    **{token: price_bucket for token in BUCKET_TYPES},
    BACKUP_PLAN: price_backup_plan,
    "aws:efs/fileSystem:FileSystem": price_efs,
    "aws:fsx/lustreFileSystem:LustreFileSystem": price_lustre,
    "aws:ecr/repository:Repository": price_ecr_repository,
    "aws:ebs/snapshot:Snapshot": price_snapshot,
}
FREE_TYPES = {
    "aws:efs/mountTarget:MountTarget": "mount targets are free",
    "aws:efs/accessPoint:AccessPoint": "access points are free",
    "aws:efs/backupPolicy:BackupPolicy": "priced on AWS Backup",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": "lifecycle policies are free",
    "aws:ecr/repositoryPolicy:RepositoryPolicy": "repository policies are free",
}
