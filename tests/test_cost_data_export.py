"""CostDataExport: the CUR 2.0 export, its bucket and policy, the Glue table with partition projection, the
Athena workgroup and named views, tag activation, the us-east-1 rule, and every validation error."""
from __future__ import annotations

import json

import pytest

from aifinops.components.cost_data_export import BILLING_SERVICES, CostDataExport, CostDataExportArgs
from aifinops.core import cur_views
from aifinops.core.errors import ProgramError
from aifinops.core.lifecycle import rules_from_inputs
from tests.conftest import only, tagged_config


# This module reads what components render from ids and ARNs (IAM and resource policies, references),
# so the `preview` fixture gives AWS-shaped values here, as `aifinops preview --mock-outputs` does.
PREVIEW_MOCK_OUTPUTS = True


LAKE = """
from aifinops.components.cost_data_export import CostDataExport, CostDataExportArgs
CostDataExport("lake", CostDataExportArgs({args}))
"""


def lake(preview, args: str = "", config=None):
    return preview(LAKE.format(args=args), config or tagged_config())


def by_name(graph, type_token):
    return {r.name: r for r in graph.of_type(type_token)}


def test_export_selects_the_named_columns_as_parquet_with_resource_ids(preview):
    export = only(lake(preview), "aws:bcmdata/export:Export").inputs["export"]
    query = export["dataQueries"][0]
    assert query["queryStatement"] == f"SELECT {', '.join(cur_views.COLUMN_NAMES)} FROM COST_AND_USAGE_REPORT"
    assert "*" not in query["queryStatement"]
    settings = query["tableConfigurations"]["COST_AND_USAGE_REPORT"]
    assert settings["TIME_GRANULARITY"] == "DAILY" and settings["INCLUDE_RESOURCES"] == "TRUE"
    destination = export["destinationConfigurations"][0]["s3Destinations"][0]
    assert destination["s3Prefix"] == "cur" and destination["s3Region"] == "us-east-1"
    assert destination["s3OutputConfigurations"] == [{"format": "PARQUET", "compression": "PARQUET",
                                                      "outputType": "CUSTOM", "overwrite": "OVERWRITE_REPORT"}]
    assert export["name"] == "lake"


def test_hourly_granularity(preview):
    export = only(lake(preview, 'granularity="HOURLY"'), "aws:bcmdata/export:Export").inputs["export"]
    assert export["dataQueries"][0]["tableConfigurations"]["COST_AND_USAGE_REPORT"]["TIME_GRANULARITY"] == "HOURLY"


def test_the_billing_services_may_write_only_this_accounts_exports(preview):
    graph = lake(preview)
    bucket = by_name(graph, "aws:s3/bucket:Bucket")["lake-data"]
    policy = json.loads(only(graph, "aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    deny, allow = policy["Statement"]
    assert deny["Sid"] == "DenyInsecureTransport"
    assert allow["Principal"] == {"Service": BILLING_SERVICES}
    assert allow["Action"] == ["s3:PutObject", "s3:GetBucketPolicy"]
    assert allow["Resource"] == [bucket.outputs["arn"], f"{bucket.outputs['arn']}/*"]
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}
    assert allow["Condition"]["StringLike"]["aws:SourceArn"] == [
        "arn:aws:cur:us-east-1:123456789012:definition/*", "arn:aws:bcm-data-exports:us-east-1:123456789012:export/*"]


def test_billing_data_lifecycle(preview):
    configuration = only(lake(preview), "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    rules = {r.id: r for r in rules_from_inputs(configuration.inputs["rules"])}
    billing = rules["billing-data"]
    assert billing.prefix == "cur/" and billing.expiration_days is None
    assert [(t.days, t.storage_class) for t in billing.transitions] == [(90, "STANDARD_IA"), (400, "GLACIER_IR")]
    assert (rules["athena-results"].prefix, rules["athena-results"].expiration_days) == ("athena-results/", 30)


def test_glue_table_from_the_cur_schema_with_partition_projection(preview):
    graph = lake(preview)
    database = only(graph, "aws:glue/catalogDatabase:CatalogDatabase").inputs
    table = only(graph, "aws:glue/catalogTable:CatalogTable").inputs
    bucket = by_name(graph, "aws:s3/bucket:Bucket")["lake-data"].outputs["bucket"]
    assert database["name"] == "lake_cur" and table["name"] == "cost_and_usage_report"
    assert table["partitionKeys"] == [{"name": "billing_period", "type": "string"}]
    assert [(c["name"], c["type"]) for c in table["storageDescriptor"]["columns"]] == list(cur_views.COLUMNS)
    assert table["storageDescriptor"]["location"] == f"s3://{bucket}/cur/lake/data/"
    parameters = table["parameters"]
    assert parameters["projection.enabled"] == "true"
    assert parameters["projection.billing_period.format"] == "yyyy-MM"
    assert parameters["projection.billing_period.range"] == "2025-01,NOW"
    assert parameters["storage.location.template"] == f"s3://{bucket}/cur/lake/data/BILLING_PERIOD=${{billing_period}}/"


def test_workgroup_encrypts_results_caps_bytes_and_enforces_its_settings(preview):
    graph = lake(preview, 'bytes_scanned_cutoff_gb=50, kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/k"')
    configuration = only(graph, "aws:athena/workgroup:Workgroup").inputs["configuration"]
    assert configuration["enforceWorkgroupConfiguration"] is True
    assert configuration["bytesScannedCutoffPerQuery"] == 50 * 1024 ** 3
    results = configuration["resultConfiguration"]
    assert results["outputLocation"].endswith("/athena-results/")
    assert results["encryptionConfiguration"] == {"encryptionOption": "SSE_KMS",
                                                  "kmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/k"}


def test_one_named_query_per_view_with_the_views_sql(preview):
    graph = lake(preview, 'tag_filter={"Project": "LLM-FineTune"}, model_tag="model_version", '
                          'run_tag="training_run_id"')
    queries = {r.inputs["name"]: r.inputs for r in graph.of_type("aws:athena/namedQuery:NamedQuery")}
    params = cur_views.ViewParameters(table='"lake_cur"."cost_and_usage_report"', window=cur_views.Window.recent_months(2),
                                      tag_filter=("Project", "LLM-FineTune"), model_tag="model_version",
                                      run_tag="training_run_id", gpus_per_instance=cur_views.catalog_gpus_per_instance())
    assert set(queries) == {f"aifinops {v}" for v in (*cur_views.DASHBOARD_VIEWS, "cost_by_tag")}
    for view in cur_views.DASHBOARD_VIEWS:
        assert queries[f"aifinops {view}"]["query"] == cur_views.render(view, params, cur_views.ATHENA)
    workgroup = only(graph, "aws:athena/workgroup:Workgroup")
    assert all(q["workgroup"] == workgroup.outputs["name"] and q["database"] == "lake_cur" for q in queries.values())
    tags = {r.inputs["tagKey"] for r in graph.of_type("aws:costexplorer/costAllocationTag:CostAllocationTag")}
    assert tags == {"model_version", "training_run_id", "CostCenter", "Project", "Environment"}


def test_tag_activation_can_be_left_to_another_component(preview):
    graph = lake(preview, "activate_tags=False")
    assert graph.of_type("aws:costexplorer/costAllocationTag:CostAllocationTag") == []


def test_outside_us_east_1_a_billing_provider_is_required(preview):
    config = tagged_config()
    config["aws:region"] = "eu-west-1"
    with pytest.raises(ProgramError, match=r"billing_provider: Data Exports and cost-allocation tags are served only in "
                                           r"us-east-1; the stack's region is 'eu-west-1'"):
        lake(preview, config=config)
    program = """
import pulumi_aws as aws
from aifinops.components.cost_data_export import CostDataExport, CostDataExportArgs
billing = aws.Provider("billing", region="us-east-1")
CostDataExport("lake", CostDataExportArgs(billing_provider=billing))
"""
    graph = preview(program, config)
    export = only(graph, "aws:bcmdata/export:Export")
    assert export.provider.startswith("urn:") and "billing" in export.provider
    assert export.inputs["export"]["destinationConfigurations"][0]["s3Destinations"][0]["s3Region"] == "eu-west-1"
    assert "default" in only(graph, "aws:athena/workgroup:Workgroup").provider  # Athena stays in the stack's region


@pytest.mark.parametrize("args, message", [
    ('granularity="MONTHLY"', r"granularity: expected one of 'DAILY', 'HOURLY', got 'MONTHLY'"),
    ('s3_prefix="/cur/"', r"s3_prefix: expected a key prefix without leading or trailing '/'"),
    ('database_name="Cost-Lake"', r"database: expected a Glue name of lowercase letters"),
    ('first_billing_period="2025-13"', r"first_billing_period: expected a month as YYYY-MM, got '2025-13'"),
    ("bytes_scanned_cutoff_gb=0.001", r"bytes_scanned_cutoff_gb: expected a number of GB of at least 0.01"),
    ("ia_after_days=10", r"ia_after_days: expected"),
    ('tag_filter={"Project": "a", "Team": "b"}', r"tag_filter: expected one \{tag key: value\}"),
    ('model_tag="aws:cloudformation:stack-name"', r"model_tag: expected a user tag key"),
    ('cost_basis="blended"', r"cost_basis: expected one of unblended, amortized"),
    ('export_name="my export"', r"export_name: expected 1-128 letters"),
])
def test_bad_arguments_are_named_before_anything_is_created(preview, args, message):
    with pytest.raises(ProgramError, match=message):
        lake(preview, args)


def test_args_must_be_the_args_class():
    with pytest.raises(ValueError, match="args: expected CostDataExportArgs, got dict"):
        CostDataExport("lake", {"granularity": "DAILY"})  # type: ignore[arg-type]
    assert CostDataExportArgs().granularity == "DAILY"
