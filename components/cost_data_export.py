"""CostDataExport: the cost data lake. CUR 2.0 lands in S3 as Parquet, Glue describes it, Athena queries it.

- An AWS Data Exports export of the CUR 2.0 table (`aws.bcmdata.Export`), Parquet, daily or hourly, with
  resource ids, selecting the columns the AI cost views read (`aifinops.core.cur_views.COLUMNS`: Data
  Exports rejects `SELECT *`). It lands under `s3://<bucket>/<prefix>/<export name>/data/BILLING_PERIOD=YYYY-MM/`.
- A TieredBucket for it, with a lifecycle for billing data, and the bucket policy that lets the billing
  services (bcm-data-exports, billingreports) of this account write to it.
- A Glue database and table defined from the CUR 2.0 schema with partition projection on the billing
  period: no crawler to run or pay for, and Athena reads only the months a query asks for.
- An Athena workgroup with an encrypted result location, a bytes-scanned cutoff per query and enforced
  configuration, and one named query per view.
- Cost-allocation tag activation for the tag keys the views need (CostAllocationTags).

us-east-1: Data Exports and cost-allocation tags are billing APIs served only in us-east-1. The export and
the tag activation use `billing_provider` (an aws.Provider for us-east-1) when given, else the stack's
default provider, which must then be in us-east-1: anything else is rejected before anything is created.
The bucket, Glue and Athena stay in the stack's region.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from aifinops.core import cur_views
from aifinops.core.argument_checks import arn_in_region, flag, one_of, whole_number
from aifinops.core.lifecycle import LifecycleRule, Transition
from aifinops.core.tags import DEFAULT_REQUIRED_TAGS

from .cost_allocation_tags import CostAllocationTags, CostAllocationTagsArgs
from .gpu_instance import validate_tags
from .tiered_bucket import TieredBucket, TieredBucketArgs

TYPE_TOKEN = "aifinops:cost:CostDataExport"
BILLING_REGION = "us-east-1"
GRANULARITIES = ("DAILY", "HOURLY")
EXPORT_NAME_PATTERN = re.compile(r"^[0-9A-Za-z!\-_.*'()]{1,128}$")
PREFIX_PATTERN = re.compile(r"^[0-9A-Za-z!\-_.*'()/]{1,256}$")
PERIOD_PATTERN = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
RESULTS_PREFIX = "athena-results/"
BYTES_PER_GB = 1024 ** 3
MIN_CUTOFF_BYTES = 10 * 1024 ** 2  # Athena's smallest per-query cutoff: 10 MB
BILLING_SERVICES = ["billingreports.amazonaws.com", "bcm-data-exports.amazonaws.com"]
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
NAMED_QUERY_VIEWS = (*cur_views.DASHBOARD_VIEWS, "cost_by_tag")


@dataclass
class CostDataExportArgs:
    """Arguments of CostDataExport. Nothing is required.

    - export_name: the Data Exports export's name; default the component name.
    - granularity: "DAILY" (default: what the views report) or "HOURLY" (24 times the lines).
    - s3_prefix: key prefix of the export in the bucket (default "cur").
    - database_name / table_name: the Glue names; default "<component name>_cur" (lowercased, non
      alphanumerics as "_") and "cost_and_usage_report".
    - first_billing_period: the first month (YYYY-MM) partition projection knows; default "2025-01".
    - bytes_scanned_cutoff_gb: Athena cancels a query that scans more (default 200 GB, $1 at $5/TB).
    - query_result_retention_days: Athena results expire after this (default 30).
    - ia_after_days / glacier_ir_after_days: billing data moves to STANDARD_IA at 90 days (past the
      month-end reruns and the quarterly reviews) and to GLACIER_IR at 400 (after a year's comparisons,
      still readable at once); expire_after_days: default None, billing records are kept.
    - kms_key_arn: SSE-KMS for the bucket and the Athena results; default None, SSE-S3.
    - model_tag / run_tag: the tag keys the views read (default ModelVersion, TrainingRun).
    - required_tags: the keys untagged spend is counted for (default CostCenter, Project, Environment).
    - tag_filter: {key: value} the named daily-cost query keeps (the seed's Project=LLM-FineTune);
      default None, all spend.
    - named_query_months: the named queries cover this many months up to the day they run (default 2).
    - cost_basis: "unblended" (default) or "amortized", for the named queries.
    - activate_tags: default True, activate model_tag, run_tag and required_tags as cost-allocation tags.
    - billing_provider: an aws.Provider in us-east-1 for the export and tag activation; default None,
      the stack's provider (which must be in us-east-1).
    - force_destroy: default False (the bucket is not deleted while it holds billing data).
    - tags: extra tags for the bucket (cost tags come from the stack's transform). The bucket carries no
      DataClass tag by default, so backup-coverage does not ask for a backup of it: AWS keeps the billing
      data and Data Exports can backfill an export. Tag it to back it up anyway.
    """

    export_name: Optional[str] = None
    granularity: str = "DAILY"
    s3_prefix: str = "cur"
    database_name: Optional[str] = None
    table_name: str = cur_views.TABLE_NAME
    first_billing_period: str = "2025-01"
    bytes_scanned_cutoff_gb: float = 200.0
    query_result_retention_days: int = 30
    ia_after_days: int = 90
    glacier_ir_after_days: int = 400
    expire_after_days: Optional[int] = None
    kms_key_arn: Optional[pulumi.Input[str]] = None
    model_tag: str = "ModelVersion"
    run_tag: str = "TrainingRun"
    required_tags: Sequence[str] = field(default_factory=lambda: list(DEFAULT_REQUIRED_TAGS))
    tag_filter: Optional[Mapping[str, str]] = None
    named_query_months: int = 2
    cost_basis: str = cur_views.UNBLENDED
    activate_tags: bool = True
    billing_provider: Optional[pulumi.ProviderResource] = None
    force_destroy: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)


def default_database_name(name: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", name.lower()).strip("_") + "_cur"


def export_query(columns: Sequence[str] = cur_views.COLUMN_NAMES) -> str:
    return f"SELECT {', '.join(columns)} FROM COST_AND_USAGE_REPORT"


def billing_lifecycle(prefix: str, ia_days: int, glacier_days: int, expire_days: Optional[int],
                      results_days: int) -> list[LifecycleRule]:
    return [LifecycleRule("billing-data", prefix=f"{prefix}/",
                          transitions=[Transition(ia_days, "STANDARD_IA"), Transition(glacier_days, "GLACIER_IR")],
                          expiration_days=expire_days),
            LifecycleRule("athena-results", prefix=RESULTS_PREFIX, transitions=[], expiration_days=results_days)]


def billing_write_statement(partition: pulumi.Input[str], account_id: pulumi.Input[str]) -> dict[str, Any]:
    """The billing services may write exports of this account only (confused-deputy conditions)."""
    arn = pulumi.Output.concat
    return {"Sid": "AllowBillingDataExports", "Effect": "Allow", "Principal": {"Service": BILLING_SERVICES},
            "Action": ["s3:PutObject", "s3:GetBucketPolicy"],
            "Condition": {"StringLike": {"aws:SourceArn": [
                arn("arn:", partition, f":cur:{BILLING_REGION}:", account_id, ":definition/*"),
                arn("arn:", partition, f":bcm-data-exports:{BILLING_REGION}:", account_id, ":export/*")]},
                "StringEquals": {"aws:SourceAccount": account_id}}}


def partition_projection(location: str, first_period: str) -> dict[str, str]:
    return {
        "classification": "parquet", "EXTERNAL": "TRUE",
        "projection.enabled": "true",
        f"projection.{cur_views.PARTITION_COLUMN}.type": "date",
        f"projection.{cur_views.PARTITION_COLUMN}.format": "yyyy-MM",
        f"projection.{cur_views.PARTITION_COLUMN}.range": f"{first_period},NOW",
        f"projection.{cur_views.PARTITION_COLUMN}.interval": "1",
        f"projection.{cur_views.PARTITION_COLUMN}.interval.unit": "MONTHS",
        "storage.location.template": f"{location}BILLING_PERIOD=${{{cur_views.PARTITION_COLUMN}}}/",
    }


def named_query_parameters(args: CostDataExportArgs, database: str, tag_filter: Optional[tuple[str, str]],
                           gpus: Mapping[str, int]) -> cur_views.ViewParameters:
    return cur_views.ViewParameters(
        table=cur_views.athena_table(database, args.table_name),
        window=cur_views.Window.recent_months(args.named_query_months), tag_filter=tag_filter,
        model_tag=args.model_tag, run_tag=args.run_tag, required_tags=tuple(args.required_tags),
        cost_basis=args.cost_basis, gpus_per_instance=gpus)


class CostDataExport(pulumi.ComponentResource):
    """CUR 2.0 into S3 as Parquet, a Glue table over it and an Athena workgroup with the AI cost views."""

    bucket_name: pulumi.Output[str]
    data_location: pulumi.Output[str]
    export_arn: pulumi.Output[str]
    database_name: str
    table_name: str
    workgroup_name: pulumi.Output[str]
    named_queries: dict[str, str]  # view -> its SQL

    def __init__(self, name: str, args: Optional[CostDataExportArgs] = None,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        args = CostDataExportArgs() if args is None else args
        if not isinstance(args, CostDataExportArgs):
            raise ValueError(f"args: expected CostDataExportArgs, got {type(args).__name__}")
        export_name = args.export_name if args.export_name is not None else name
        if not isinstance(export_name, str) or not EXPORT_NAME_PATTERN.match(export_name):
            raise ValueError(f"export_name: expected 1-128 letters, digits and ! - _ . * ' ( ), got {export_name!r}")
        granularity = one_of("granularity", args.granularity, GRANULARITIES)
        prefix = args.s3_prefix
        if not isinstance(prefix, str) or not PREFIX_PATTERN.match(prefix) or prefix.startswith("/") \
                or prefix.endswith("/") or prefix.startswith(RESULTS_PREFIX.rstrip("/")):
            raise ValueError(f"s3_prefix: expected a key prefix without leading or trailing '/', not under "
                             f"{RESULTS_PREFIX}, got {prefix!r}")
        database = args.database_name if args.database_name is not None else default_database_name(name)
        cur_views.athena_table(database, args.table_name)  # both must be Glue names
        if not isinstance(args.first_billing_period, str) or not PERIOD_PATTERN.match(args.first_billing_period):
            raise ValueError(f"first_billing_period: expected a month as YYYY-MM, got {args.first_billing_period!r}")
        cutoff = args.bytes_scanned_cutoff_gb
        if isinstance(cutoff, bool) or not isinstance(cutoff, (int, float)) or cutoff * BYTES_PER_GB < MIN_CUTOFF_BYTES:
            raise ValueError(f"bytes_scanned_cutoff_gb: expected a number of GB of at least 0.01 (Athena's 10 MB "
                             f"minimum), got {cutoff!r}")
        results_days = whole_number("query_result_retention_days", args.query_result_retention_days, 1, unit="days")
        ia_days = whole_number("ia_after_days", args.ia_after_days, 30, unit="days")
        glacier_days = whole_number("glacier_ir_after_days", args.glacier_ir_after_days, ia_days + 30, unit="days")
        expire_days = None
        if args.expire_after_days is not None:
            expire_days = whole_number("expire_after_days", args.expire_after_days, glacier_days + 90, unit="days")
        arn_in_region("kms_key_arn", args.kms_key_arn, "kms", None)
        tag_filter = None
        if args.tag_filter is not None:
            if not isinstance(args.tag_filter, Mapping) or len(args.tag_filter) != 1:
                raise ValueError(f"tag_filter: expected one {{tag key: value}}, got {args.tag_filter!r}")
            tag_filter = next(iter(args.tag_filter.items()))
        flag("activate_tags", args.activate_tags)
        flag("force_destroy", args.force_destroy)
        tags = validate_tags("tags", args.tags)
        provider = args.billing_provider
        if provider is not None and not isinstance(provider, pulumi.ProviderResource):
            raise ValueError(f"billing_provider: expected an aws.Provider in {BILLING_REGION}, got {provider!r}")
        if provider is None:
            region = pulumi.Config("aws").get("region")
            if region != BILLING_REGION:
                raise ValueError(f"billing_provider: Data Exports and cost-allocation tags are served only in "
                                 f"{BILLING_REGION}; the stack's region is {region!r}, so give an aws.Provider "
                                 f"for {BILLING_REGION}")
        gpus = cur_views.catalog_gpus_per_instance()
        params = named_query_parameters(args, database, tag_filter, gpus)  # validates the tag keys and basis
        queries = {view: cur_views.render(view, params, cur_views.ATHENA) for view in NAMED_QUERY_VIEWS}
        tag_keys = list(dict.fromkeys([args.model_tag, args.run_tag, *args.required_tags]))

        super().__init__(TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        billing = pulumi.ResourceOptions(parent=self, provider=provider)
        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self))
        statement = billing_write_statement(partition.partition, identity.account_id)
        bucket = TieredBucket(f"{name}-data", TieredBucketArgs(
            kms_key_arn=args.kms_key_arn, presets=[],
            rules=billing_lifecycle(prefix, ia_days, glacier_days, expire_days, results_days),
            # Data Exports rewrites the month's files on each refresh: old versions are not worth keeping long.
            noncurrent_version_expiration_days=7, force_destroy=args.force_destroy,
            tags=tags, policy_statements=[statement]), opts=child)
        bucket_region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region
        location = pulumi.Output.concat("s3://", bucket.bucket_name, f"/{prefix}/{export_name}/data/")
        export = aws.bcmdata.Export(f"{name}-export", export={
            "name": export_name,
            "description": "CUR 2.0 for the aifinops AI cost views",
            "data_queries": [{"query_statement": export_query(), "table_configurations": {
                "COST_AND_USAGE_REPORT": {"TIME_GRANULARITY": granularity, "INCLUDE_RESOURCES": "TRUE",
                                          "INCLUDE_MANUAL_DISCOUNT_COMPATIBILITY": "FALSE",
                                          "INCLUDE_SPLIT_COST_ALLOCATION_DATA": "FALSE"}}}],
            "destination_configurations": [{"s3_destinations": [{
                "s3_bucket": bucket.bucket_name, "s3_prefix": prefix, "s3_region": bucket_region,
                "s3_output_configurations": [{"format": "PARQUET", "compression": "PARQUET", "output_type": "CUSTOM",
                                              "overwrite": "OVERWRITE_REPORT"}]}]}],
            "refresh_cadences": [{"frequency": "SYNCHRONOUS"}],
        }, opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[bucket]))
        glue_database = aws.glue.CatalogDatabase(f"{name}-database", name=database,
                                                 description="CUR 2.0 from AWS Data Exports", opts=child)
        aws.glue.CatalogTable(f"{name}-table", name=args.table_name, database_name=glue_database.name,
                              table_type="EXTERNAL_TABLE",
                              parameters=location.apply(lambda loc: partition_projection(loc, args.first_billing_period)),
                              partition_keys=[{"name": cur_views.PARTITION_COLUMN, "type": "string"}],
                              storage_descriptor={
                                  "location": location, "input_format": PARQUET_INPUT, "output_format": PARQUET_OUTPUT,
                                  "ser_de_info": {"serialization_library": PARQUET_SERDE},
                                  "columns": [{"name": n, "type": t} for n, t in cur_views.COLUMNS]},
                              opts=child)
        encryption: dict[str, Any] = ({"encryption_option": "SSE_S3"} if args.kms_key_arn is None else
                                      {"encryption_option": "SSE_KMS", "kms_key_arn": args.kms_key_arn})
        workgroup = aws.athena.Workgroup(f"{name}-workgroup", name=f"{name}-cur", configuration={
            "enforce_workgroup_configuration": True, "publish_cloudwatch_metrics_enabled": True,
            "bytes_scanned_cutoff_per_query": int(cutoff * BYTES_PER_GB),
            "result_configuration": {"output_location": pulumi.Output.concat("s3://", bucket.bucket_name,
                                                                             f"/{RESULTS_PREFIX}"),
                                     "encryption_configuration": encryption}}, opts=child)
        for view, sql in queries.items():
            aws.athena.NamedQuery(f"{name}-{view.replace('_', '-')}", name=f"aifinops {view}", database=glue_database.name,
                                  workgroup=workgroup.name, query=sql,
                                  description=f"aifinops CUR view {view} (aifinops.core.cur_views)", opts=child)
        if args.activate_tags:
            CostAllocationTags(f"{name}-tags", CostAllocationTagsArgs(tag_keys=tag_keys), opts=billing)

        self.bucket_name = bucket.bucket_name
        self.data_location = location
        self.export_arn = export.id  # the export's ARN is its id
        self.database_name = database
        self.table_name = args.table_name
        self.workgroup_name = workgroup.name
        self.named_queries = queries
        self.register_outputs({"bucketName": bucket.bucket_name, "dataLocation": location, "databaseName": database,
                               "tableName": args.table_name, "workgroupName": workgroup.name})
