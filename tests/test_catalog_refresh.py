"""`aifinops catalog refresh` against botocore's Stubber (moto does not implement the Price List API)."""
from __future__ import annotations

import datetime
import json

import boto3
import pytest
from botocore.stub import Stubber

from aifinops.catalog_command import fetch_prices, product_filters, refresh_table
from aifinops.cli import main


def price_document(instance_type: str, usd: str) -> str:
    """A Price List product as the API returns it (one JSON document per product)."""
    return json.dumps({
        "product": {"attributes": {"instanceType": instance_type, "location": "US East (N. Virginia)"}},
        "terms": {"OnDemand": {"ABC.JRTCKXETXF": {"priceDimensions": {"ABC.JRTCKXETXF.6YS6EN2CT7": {
            "unit": "Hrs", "pricePerUnit": {"USD": usd}, "description": f"${usd} per On Demand Linux {instance_type}"}}}}},
    })


@pytest.fixture
def pricing():
    client = boto3.client("pricing", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield client, stubber


def expect(stubber, instance_type: str, answer: dict) -> None:
    stubber.add_response("get_products", answer, {
        "ServiceCode": "AmazonEC2", "Filters": product_filters(instance_type, "US East (N. Virginia)"), "MaxResults": 100})


def test_filters_are_the_plain_on_demand_linux_ones():
    fields = {f["Field"]: f["Value"] for f in product_filters("g5.xlarge", "US East (N. Virginia)")}
    assert fields == {"instanceType": "g5.xlarge", "location": "US East (N. Virginia)", "operatingSystem": "Linux",
                      "tenancy": "Shared", "preInstalledSw": "NA", "capacitystatus": "Used"}


def test_refresh_updates_prices_source_and_date(pricing):
    client, stubber = pricing
    expect(stubber, "g5.xlarge", {"PriceList": [price_document("g5.xlarge", "1.0100000000")], "FormatVersion": "aws_v1"})
    # the second type's answer comes in two pages: the price is on the second
    stubber.add_response("get_products", {"PriceList": [], "NextToken": "page2"}, {
        "ServiceCode": "AmazonEC2", "Filters": product_filters("p4d.24xlarge", "US East (N. Virginia)"), "MaxResults": 100})
    stubber.add_response("get_products", {"PriceList": [price_document("p4d.24xlarge", "21.9580000000")]}, {
        "ServiceCode": "AmazonEC2", "Filters": product_filters("p4d.24xlarge", "US East (N. Virginia)"), "MaxResults": 100,
        "NextToken": "page2"})
    expect(stubber, "zz9.nano", {"PriceList": []})
    table = {"region": "us-east-1", "source": "old", "asOf": "2020-01", "defaultSpotDiscount": 0.6,
             "spotDiscountByFamily": {"p4d": 0.6}, "onDemandUsdPerHour": {"g5.xlarge": 1.006, "p4d.24xlarge": 21.958}}
    updated, changed, missing = refresh_table(table, client, "us-east-1", ["g5.xlarge", "p4d.24xlarge", "zz9.nano"],
                                              datetime.date(2026, 11, 27))
    stubber.assert_no_pending_responses()
    assert updated["onDemandUsdPerHour"] == {"g5.xlarge": 1.01, "p4d.24xlarge": 21.958}
    assert changed == ["g5.xlarge"] and missing == ["zz9.nano"]
    assert updated["asOf"] == "2026-11-27" and "AWS Price List API" in updated["source"]
    assert updated["spotDiscountByFamily"] == {"p4d": 0.6}  # kept


def test_unknown_region_is_an_error(pricing):
    client, _ = pricing
    with pytest.raises(Exception, match="no Price List location name known for region 'xx-east-9'"):
        fetch_prices(client, ["g5.xlarge"], "xx-east-9")


def test_command_writes_the_table(pricing, tmp_path, monkeypatch, capsys):
    client, stubber = pricing
    expect(stubber, "g6.xlarge", {"PriceList": [price_document("g6.xlarge", "0.9000000000")]})
    monkeypatch.setattr(boto3, "client", lambda *a, **k: client)
    table_file = tmp_path / "prices.json"
    table_file.write_text(json.dumps({"region": "us-east-1", "source": "s", "asOf": "2026-01",
                                      "onDemandUsdPerHour": {"g6.xlarge": 0.8048}}))
    assert main(["catalog", "refresh", "--file", str(table_file), "--types", "g6.xlarge"]) == 0
    assert json.loads(table_file.read_text())["onDemandUsdPerHour"]["g6.xlarge"] == 0.9
    assert "g6.xlarge: 0.8048 -> 0.9" in capsys.readouterr().out
