"""Data and caching used for inference caches and feature stores: DynamoDB (on-demand and provisioned),
ElastiCache (nodes and serverless), RDS and Aurora (instances, storage, Serverless v2) and Kinesis Firehose."""
from __future__ import annotations

from typing import Any, Optional

from aifinops.core.service_prices import has_price, service_price, service_quantity

from ..values import as_list
from .compute import _known_str, _number, hours_of
from .context import PricingContext
from .model import DYNAMODB, ELASTICACHE, FIREHOSE, RDS, Priced, PriceLine, free, needs_usage, unpriced
from .services import service_line, usage_priced
from .view import CostResource

RDS_CLUSTER = "aws:rds/cluster:Cluster"
STORAGE_NEEDS_USAGE = "storage not priced: set storageGb in the usage file"


def price_dynamodb_table(r: CostResource, ctx: PricingContext) -> Priced:
    usage = ctx.usage_for(r)
    lines: list[PriceLine] = []
    notes = []
    if r.get("billingMode") == "PAY_PER_REQUEST":
        if "monthlyWriteRequestsMillions" not in usage and "monthlyReadRequestsMillions" not in usage:
            return needs_usage("on-demand: charged per request ($0.625 per million writes, $0.125 per million reads) "
                               "and GB stored: set monthlyWriteRequestsMillions, monthlyReadRequestsMillions and "
                               "storageGb in the usage file")
        for key, price_key, what in (("monthlyWriteRequestsMillions", "onDemandWrite", "write request units"),
                                     ("monthlyReadRequestsMillions", "onDemandRead", "read request units")):
            if usage.get(key):
                lines.append(service_line(("dynamodb", price_key), DYNAMODB, what, float(usage[key]), "usage file"))
    else:
        reads, writes = _number(r.get("readCapacity")), _number(r.get("writeCapacity"))
        if reads is None or writes is None:
            return unpriced("provisioned table: readCapacity and writeCapacity not set or unknown")
        hours, assumption = hours_of(usage, "the table")
        # A global secondary index of a provisioned table has capacity of its own.
        for index in [None] + [i for i in as_list(r.get("globalSecondaryIndexes")) if isinstance(i, dict)]:
            holder = r.props if index is None else index
            where = "" if index is None else f" (index {index.get('name')})"
            index_writes, index_reads = _number(holder.get("writeCapacity")), _number(holder.get("readCapacity"))
            if index_writes is None or index_reads is None:
                return unpriced(f"provisioned table: capacity of index {index.get('name')} not set or unknown")
            lines += [service_line(("dynamodb", "provisionedWrite"), DYNAMODB,
                                   f"{index_writes:g} write capacity units{where}", index_writes * hours, assumption),
                      service_line(("dynamodb", "provisionedRead"), DYNAMODB,
                                   f"{index_reads:g} read capacity units{where}", index_reads * hours, assumption)]
    if "storageGb" in usage:
        lines.append(service_line(("dynamodb", "storage"), DYNAMODB, "storage", float(usage["storageGb"]),
                                  "usage file; the account's free 25 GB not deducted"))
    else:
        notes.append(STORAGE_NEEDS_USAGE + " ($0.25 per GB-month)")
    return Priced(lines=lines, note="; ".join(notes))


def _node_line(node_type: Optional[str], nodes: float, hours: float, assumption: str) -> Any:
    if node_type is None:
        return "node type not set or unknown during preview"
    if not has_price("elasticache", f"node.{node_type}"):
        return f"no ElastiCache price for {node_type} in aifinops/core/data/service_prices.json"
    return service_line(("elasticache", f"node.{node_type}"), ELASTICACHE, f"{nodes:g} x {node_type}", nodes * hours,
                        f"{nodes:g} nodes x {hours:g} h ({assumption})")


def price_cache_cluster(r: CostResource, ctx: PricingContext) -> Priced:
    if r.get("replicationGroupId") and not r.get("nodeType"):
        return free("a member of a replication group: its nodes are priced on the group")
    nodes = _number(r.get("numCacheNodes")) or 1.0
    hours, assumption = hours_of(ctx.usage_for(r), "each node")
    line = _node_line(_known_str(r.get("nodeType")), nodes, hours, assumption)
    return unpriced(line) if isinstance(line, str) else Priced(lines=[line])


def price_replication_group(r: CostResource, ctx: PricingContext) -> Priced:
    shards = _number(r.get("numNodeGroups"))
    replicas = _number(r.get("replicasPerNodeGroup"))
    if shards is not None:
        nodes = shards * (1 + (replicas or 0.0))
        counted = f"{shards:g} shards x {1 + (replicas or 0):g} nodes"
    else:
        nodes = _number(r.get("numCacheClusters")) or 1.0
        counted = f"numCacheClusters {nodes:g}" if r.get("numCacheClusters") is not None else "1 node (default)"
    hours, assumption = hours_of(ctx.usage_for(r), "each node")
    line = _node_line(_known_str(r.get("nodeType")), nodes, hours, f"{counted}; {assumption}")
    return unpriced(line) if isinstance(line, str) else Priced(lines=[line])


def price_serverless_cache(r: CostResource, ctx: PricingContext) -> Priced:
    engine = "valkey" if r.get("engine") == "valkey" else "redis"
    if r.get("engine") not in ("redis", "valkey", None):
        return unpriced(f"no serverless price for engine {r.get('engine')!r}")
    usage = ctx.usage_for(r)
    storage = service_price("elasticache", f"serverless.storage.{engine}")
    if "storageGb" not in usage:
        return needs_usage(f"serverless {engine}: charged per GB-hour stored (${storage.usd:g}) and per million ECPUs: "
                           f"set storageGb and monthlyEcpuMillions in the usage file")
    minimum = service_quantity("elasticache", f"serverless.minimumGb.{engine}")
    stored = max(float(usage["storageGb"]), minimum)
    hours, assumption = hours_of(usage, "the cache")
    lines = [service_line(("elasticache", f"serverless.storage.{engine}"), ELASTICACHE, f"{stored:g} GB stored",
                          stored * hours, f"{assumption}; at least {minimum:g} GB billed")]
    if usage.get("monthlyEcpuMillions"):
        lines.append(service_line(("elasticache", f"serverless.ecpu.{engine}"), ELASTICACHE, "ElastiCache processing units",
                                  float(usage["monthlyEcpuMillions"]), "usage file"))
    return Priced(lines=lines)


def _rds_instance_line(engine: Optional[str], instance_class: Optional[str], count: float, hours: float,
                       assumption: str) -> Any:
    if engine is None or instance_class is None:
        return "engine or instance class not set or unknown during preview"
    key = f"instance.{engine}.{instance_class}"
    if not has_price("rds", key):
        return f"no RDS price for {engine} {instance_class} in aifinops/core/data/service_prices.json"
    return service_line(("rds", key), RDS, f"{count:g} x {instance_class} {engine}", count * hours, assumption)


def price_rds_instance(r: CostResource, ctx: PricingContext) -> Priced:
    usage = ctx.usage_for(r)
    multi_az = r.get("multiAz") is True
    hours, hours_note = hours_of(usage, "the database")
    copies = 2.0 if multi_az else 1.0
    line = _rds_instance_line(_known_str(r.get("engine")), _known_str(r.get("instanceClass")), copies, hours,
                              f"{'Multi-AZ: a standby doubles the instance; ' if multi_az else ''}{hours_note}")
    if isinstance(line, str):
        return unpriced(line)
    lines = [line]
    storage_type = _known_str(r.get("storageType")) or "gp2"
    size = _number(r.get("allocatedStorage"))
    if size is not None:
        if not has_price("rds", f"storage.{storage_type}"):
            return unpriced(f"no RDS price for storage type {storage_type!r}")
        lines.append(service_line(("rds", f"storage.{storage_type}"), RDS, f"{size:g} GB {storage_type}",
                                  size * copies, "Multi-AZ stores two copies" if multi_az else "allocated storage"))
        iops = _number(r.get("iops"))
        if storage_type == "io1" and iops:
            lines.append(service_line(("rds", "iops.io1"), RDS, f"{iops:g} provisioned IOPS", iops * copies, ""))
    return Priced(lines=lines)


def price_cluster_instance(r: CostResource, ctx: PricingContext) -> Priced:
    instance_class = _known_str(r.get("instanceClass"))
    if instance_class == "db.serverless":
        return price_serverless_v2(r, ctx)
    hours, assumption = hours_of(ctx.usage_for(r), "the instance")
    line = _rds_instance_line(_known_str(r.get("engine")), instance_class, 1, hours, assumption)
    return unpriced(line) if isinstance(line, str) else Priced(lines=[line])


def price_serverless_v2(r: CostResource, ctx: PricingContext) -> Priced:
    usage = ctx.usage_for(r)
    cluster = ctx.linked(r, "clusterIdentifier", r.get("clusterIdentifier"), RDS_CLUSTER)
    scaling = cluster.get("serverlessv2ScalingConfiguration") if cluster is not None else None
    minimum = _number(scaling.get("minCapacity")) if isinstance(scaling, dict) else None
    if "averageAcu" in usage:
        acu, why = float(usage["averageAcu"]), "averageAcu (usage file)"
    elif minimum is not None:
        acu, why = minimum, "the cluster's minCapacity: what it costs idle (set averageAcu)"
    else:
        return needs_usage("Aurora Serverless v2: charged per ACU-hour ($0.12): set averageAcu in the usage file")
    hours, assumption = hours_of(usage, "the instance")
    return Priced(lines=[service_line(("rds", "aurora.serverlessV2"), RDS, f"{acu:g} ACUs", acu * hours,
                                      f"{why}; {assumption}")])


def price_rds_cluster(r: CostResource, ctx: PricingContext) -> Priced:
    engine = _known_str(r.get("engine")) or ""
    if not engine.startswith("aurora"):
        return unpriced(f"no price for {engine or 'unknown'} Multi-AZ DB clusters")
    usage = ctx.usage_for(r)
    if "storageGb" not in usage:
        return needs_usage("Aurora storage and I/O are usage-based ($0.10 per GB-month, $0.20 per million I/O): set "
                           "storageGb and monthlyIoRequestsMillions in the usage file (instances are priced apart)")
    lines = [service_line(("rds", "aurora.storage"), RDS, "Aurora storage", float(usage["storageGb"]), "usage file")]
    if usage.get("monthlyIoRequestsMillions"):
        lines.append(service_line(("rds", "aurora.io"), RDS, "Aurora I/O requests",
                                  float(usage["monthlyIoRequestsMillions"]), "usage file"))
    return Priced(lines=lines)


def price_firehose(r: CostResource, ctx: PricingContext) -> Priced:
    return usage_priced(r, ctx, "monthlyIngestedGb", ("firehose", "ingestion"), FIREHOSE, "data ingested",
                        "charged per GB ingested, each record rounded up to 5 KB",
                        assumption="usage file; records of 5 KB or more assumed (smaller ones are rounded up)")


PRICERS = {
    "aws:dynamodb/table:Table": price_dynamodb_table,
    "aws:elasticache/cluster:Cluster": price_cache_cluster,
    "aws:elasticache/replicationGroup:ReplicationGroup": price_replication_group,
    "aws:elasticache/serverlessCache:ServerlessCache": price_serverless_cache,
    "aws:rds/instance:Instance": price_rds_instance,
    "aws:rds/clusterInstance:ClusterInstance": price_cluster_instance,
    RDS_CLUSTER: price_rds_cluster,
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": price_firehose,
}
FREE_TYPES = {
    "aws:elasticache/subnetGroup:SubnetGroup": "subnet groups are free",
    "aws:elasticache/parameterGroup:ParameterGroup": "parameter groups are free",
    "aws:rds/subnetGroup:SubnetGroup": "subnet groups are free",
    "aws:rds/parameterGroup:ParameterGroup": "parameter groups are free",
    "aws:rds/clusterParameterGroup:ClusterParameterGroup": "parameter groups are free",
}
