"""Pricing by region, and the discounts a team has (reservations, Savings Plans, an enterprise discount).

Prices: g5.xlarge $1.006/h in the vendored us-east-1 table, gp3 $0.08/GB-month.
"""
from __future__ import annotations

import datetime
import json

import boto3
import pytest
from botocore.stub import Stubber

from aifinops.catalog_command import product_filters, refresh_table
from aifinops.cli import main
from aifinops.core.estimate import UsageError, estimate, parse_usage
from aifinops.core.estimate.infracost_json import estimate_document
from aifinops.cost_estimate import cost_views
from aifinops.cost_rendering import render_table
from tests.conftest import tagged_config
from tests.test_cost_estimate import by_name

G5 = 1.006
BOX = """
import pulumi_aws as aws
aws.ec2.Instance("box", instance_type="g5.xlarge", ami="ami-1", root_block_device={"volume_size": 10, "volume_type": "gp3"})
"""


def run_in(preview, program: str, region: str, usage: dict | None = None):
    graph = preview(program, {**tagged_config(), "aws:region": region})
    return estimate(cost_views(graph), parse_usage(usage, "usage.yaml") if usage else None, stack=graph.stack,
                    region=graph.config["aws:region"])


def test_a_region_without_a_table_is_priced_at_us_east_1_and_says_so(preview):
    result = run_in(preview, BOX, "eu-west-1")
    assert by_name(result, "box").monthly_usd == pytest.approx(730 * G5 + 0.8)
    (warning,) = result.warnings
    assert "no price tables for eu-west-1" in warning and "us-east-1 list prices" in warning
    assert "catalog refresh --region eu-west-1" in warning
    as_json = estimate_document(result)
    assert as_json["region"] == "eu-west-1"
    assert as_json["regionPricing"] == [{"region": "eu-west-1", "ec2PricesFrom": "us-east-1",
                                         "servicePricesFrom": "us-east-1", "note": warning}]
    assert f"Warning: {warning}" in render_table(result)


def test_a_provider_region_wins_over_the_stack_region(preview):
    program = BOX + """
import pulumi
west = aws.Provider("west", region="us-west-2")
aws.ec2.Instance("replica", instance_type="g5.xlarge", ami="ami-1", opts=pulumi.ResourceOptions(provider=west))
"""
    result = run_in(preview, program, "us-east-1")
    assert result.region == "us-east-1, us-west-2"
    assert [w for w in result.warnings if "us-west-2" in w and "no price tables" in w]
    assert not [w for w in result.warnings if "us-east-1:" in w]


def test_a_regional_table_prices_its_region(preview, price_tables):
    price_tables("eu-west-1", onDemandUsdPerHour={"g5.xlarge": 1.123}, source="Price List API eu-west-1")
    result = run_in(preview, BOX, "eu-west-1")
    line = by_name(result, "box").lines[0]
    # 730 h x $1.123 (eu-west-1's own price) = $819.79
    assert line.monthly_usd == pytest.approx(819.79) and line.source == "Price List API eu-west-1"
    (warning,) = result.warnings
    assert "EC2 instance prices from its own table" in warning and "us-east-1 list price" in warning


def reserved_document(instance_type: str, on_demand: str, upfront: str, hourly: str) -> str:
    """A Price List product with its on-demand term and one 1-year partial-upfront reservation term."""
    return json.dumps({
        "product": {"attributes": {"instanceType": instance_type}},
        "terms": {
            "OnDemand": {"T1": {"priceDimensions": {"D1": {"unit": "Hrs", "pricePerUnit": {"USD": on_demand}}}}},
            "Reserved": {"T2": {
                "termAttributes": {"LeaseContractLength": "1yr", "OfferingClass": "standard",
                                   "PurchaseOption": "Partial Upfront"},
                "priceDimensions": {"D2": {"unit": "Quantity", "pricePerUnit": {"USD": upfront}},
                                    "D3": {"unit": "Hrs", "pricePerUnit": {"USD": hourly}}}}}},
    })


@pytest.fixture
def pricing():
    client = boto3.client("pricing", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield client, stubber


def test_refresh_fills_another_regions_table_with_reservations(pricing):
    client, stubber = pricing
    stubber.add_response("get_products", {"PriceList": [reserved_document("g5.xlarge", "1.1230000000", "2628", "0.3")]},
                         {"ServiceCode": "AmazonEC2", "Filters": product_filters("g5.xlarge", "EU (Ireland)"),
                          "MaxResults": 100})
    vendored = {"region": "us-east-1", "source": "s", "asOf": "2026-11", "defaultSpotDiscount": 0.6,
                "spotDiscountByFamily": {"g5": 0.65}, "onDemandUsdPerHour": {"g5.xlarge": 1.006, "p5.48xlarge": 55.04}}
    table, changed, missing = refresh_table(vendored, client, "eu-west-1", ["g5.xlarge"], datetime.date(2026, 12, 1))
    stubber.assert_no_pending_responses()
    # us-east-1's prices are not carried over; the reservation is $0.30/h + $2,628 / 8,760 h = $0.60/h
    assert table["region"] == "eu-west-1" and table["onDemandUsdPerHour"] == {"g5.xlarge": 1.123}
    assert table["reservedUsdPerHour"] == {"g5.xlarge": {"1yr/standard/Partial Upfront": 0.6}}
    assert table["spotDiscountByFamily"] == {"g5": 0.65} and changed == ["g5.xlarge"] and missing == []


def test_refresh_command_writes_the_regional_file_and_dedicated_prices(pricing, price_tables, monkeypatch, capsys):
    client, stubber = pricing
    stubber.add_response("get_products", {"PriceList": [reserved_document("g5.xlarge", "1.2000000000", "0", "0.7")]},
                         {"ServiceCode": "AmazonEC2", "MaxResults": 100,
                          "Filters": product_filters("g5.xlarge", "EU (Ireland)", "dedicated")})
    monkeypatch.setattr(boto3, "client", lambda *a, **k: client)
    assert main(["catalog", "refresh", "--region", "eu-west-1", "--tenancy", "dedicated", "--types", "g5.xlarge"]) == 0
    from aifinops.core import catalog

    written = json.loads(catalog.regional_price_file("eu-west-1").read_text())
    assert written["region"] == "eu-west-1" and written["dedicatedOnDemandUsdPerHour"] == {"g5.xlarge": 1.2}
    assert written["onDemandUsdPerHour"] == {}  # shared prices are not copied from us-east-1
    assert "ec2_prices.eu-west-1.json" in capsys.readouterr().out
    catalog.regional_price_table.cache_clear()
    assert catalog.price_table("eu-west-1").on_demand_usd("g5.xlarge", "dedicated") == 1.2


GROUP = """
import pulumi_aws as aws
template = aws.ec2.LaunchTemplate("tmpl", image_id="ami-1", instance_type="g5.xlarge")
aws.autoscaling.Group("serve", min_size=3, max_size=3, launch_template={"id": template.id})
"""


def test_reserved_coverage_by_family_with_a_discount_percent(preview):
    usage = {"discounts": {"commitments": [{"kind": "reserved", "family": "g5", "instances": 2, "term": "1yr",
                                            "payment": "noUpfront", "discountPercent": 40}]}}
    result = run_in(preview, GROUP, "us-east-1", usage)
    serve = by_name(result, "serve")
    on_demand, reserved = serve.lines
    # 3 x 730 x $1.006 = $2,203.14 list; 2 instances x 730 h covered at 40% off: -1,460 h x $0.4024 = -$587.504
    assert on_demand.monthly_usd == pytest.approx(2203.14)
    assert reserved.quantity == 1460 and reserved.unit_usd == pytest.approx(-0.4024)
    assert "reserved instances (1yr, No Upfront, standard)" in reserved.description
    assert serve.monthly_usd == pytest.approx(2203.14 - 587.504)
    assert serve.naive_monthly_usd == pytest.approx(2203.14)  # the naive equivalent pays list price
    assert "-$0.4024" in render_table(result) and "-$587.50" in render_table(result)


def test_reserved_coverage_at_the_tables_reservation_price(preview, price_tables):
    price_tables("us-east-1", reservedUsdPerHour={"g5.xlarge": {"1yr/standard/Partial Upfront": 0.6}})
    usage = {"discounts": {"commitments": [{"kind": "reserved", "instanceType": "g5.xlarge", "coveragePercent": 50,
                                            "term": "1yr", "payment": "partialUpfront"}]}}
    serve = by_name(run_in(preview, GROUP, "us-east-1", usage), "serve")
    # half of 2,190 on-demand hours = 1,095 h at $0.60 instead of $1.006: 1,095 x -$0.406 = -$444.57
    reserved = serve.lines[-1]
    assert reserved.quantity == pytest.approx(1095) and reserved.unit_usd == pytest.approx(-0.406)
    assert serve.monthly_usd == pytest.approx(2203.14 - 444.57)


def test_a_savings_plan_without_a_rate_is_a_warning_not_a_guess(preview):
    usage = {"discounts": {"commitments": [{"kind": "savingsPlan", "family": "g5", "instances": 1, "term": "3yr",
                                            "payment": "allUpfront"}]}}
    result = run_in(preview, GROUP, "us-east-1", usage)
    assert by_name(result, "serve").monthly_usd == pytest.approx(2203.14)
    assert any("Savings Plan" in w and "discountPercent" in w for w in result.warnings)


def test_enterprise_discount_is_its_own_line_per_resource(preview):
    usage = {"discounts": {"enterpriseDiscountPercent": 10}}
    box = by_name(run_in(preview, BOX, "us-east-1", usage), "box")
    # list: 730 x $1.006 = $734.38 (EC2 compute) + $0.80 (EBS, EC2 - Other); 10% off each service's share
    discounts = [line for line in box.lines if line.description == "enterprise discount 10%"]
    assert sorted(round(line.monthly_usd, 4) for line in discounts) == [-73.438, -0.08]
    assert box.monthly_usd == pytest.approx((734.38 + 0.8) * 0.9)
    assert box.naive_monthly_usd == pytest.approx((734.38 + 0.8) * 0.9)


@pytest.mark.parametrize("raw, expected", [
    ({"discounts": {"commitments": [{"kind": "reserved", "family": "g5", "payment": "noUpfront"}]}}, "term"),
    ({"discounts": {"commitments": [{"kind": "lease", "family": "g5", "term": "1yr", "payment": "noUpfront"}]}},
     "lease"),
    ({"discounts": {"enterpriseDiscountPercent": 120}}, "120"),
])
def test_discount_errors_name_the_problem(raw, expected):
    with pytest.raises(UsageError, match=expected):
        parse_usage(raw, "usage.yaml")
