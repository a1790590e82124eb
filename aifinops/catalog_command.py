"""`aifinops catalog refresh`: update the vendored EC2 on-demand price table from the AWS Price List API.

Asks `pricing.get_products` (service AmazonEC2) once per instance type already in the table, with the
filters that select the plain on-demand Linux price: instanceType, location, operatingSystem=Linux,
tenancy=Shared, preInstalledSw=NA, capacitystatus=Used. Spot discounts and the table's notes are kept.
"""
from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path
from typing import Any, Optional

from aifinops.core.catalog import DATA_DIR

from .core.errors import AifinopsError

PRICE_FILE = DATA_DIR / "ec2_prices.json"
PRICING_REGION = "us-east-1"  # the Price List API's own endpoint
SOURCE = ("AWS Price List API (AmazonEC2; {region}; Linux; Shared tenancy; preInstalledSw NA; capacitystatus Used), "
          "OnDemand USD per hour")
# The Price List API names regions by their long location names.
LOCATIONS = {
    "us-east-1": "US East (N. Virginia)", "us-east-2": "US East (Ohio)", "us-west-1": "US West (N. California)",
    "us-west-2": "US West (Oregon)", "eu-west-1": "EU (Ireland)", "eu-central-1": "EU (Frankfurt)",
    "eu-west-2": "EU (London)", "ap-northeast-1": "Asia Pacific (Tokyo)", "ap-southeast-1": "Asia Pacific (Singapore)",
    "ap-southeast-2": "Asia Pacific (Sydney)", "ap-south-1": "Asia Pacific (Mumbai)", "ca-central-1": "Canada (Central)",
}


class PriceRefreshError(AifinopsError):
    """The Price List API could not be read, or answered something we cannot use."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("catalog", help="maintain the EC2 price catalog")
    commands = parser.add_subparsers(dest="catalog_command", required=True, metavar="COMMAND")
    refresh = commands.add_parser("refresh", help="update aifinops/core/data/ec2_prices.json from the AWS Price List API")
    refresh.add_argument("--region", default=None, help="region to price (default: the table's region)")
    refresh.add_argument("--types", nargs="*", metavar="TYPE", help="instance types to (re)price; default: the table's")
    refresh.add_argument("--file", type=Path, default=PRICE_FILE, help="price table to update (default: the vendored one)")
    refresh.add_argument("--dry-run", action="store_true", help="print the changes, write nothing")
    refresh.set_defaults(handler=run_refresh)


def product_filters(instance_type: str, location: str) -> list[dict[str, str]]:
    return [{"Type": "TERM_MATCH", "Field": field, "Value": value} for field, value in (
        ("instanceType", instance_type), ("location", location), ("operatingSystem", "Linux"),
        ("tenancy", "Shared"), ("preInstalledSw", "NA"), ("capacitystatus", "Used"))]


def on_demand_usd(price_list: list[str]) -> Optional[float]:
    """The hourly USD price in a get_products answer (each entry a JSON document); None if there is none."""
    for document in price_list:
        product = json.loads(document)
        for term in (product.get("terms", {}).get("OnDemand") or {}).values():
            for dimension in term.get("priceDimensions", {}).values():
                usd = dimension.get("pricePerUnit", {}).get("USD")
                if dimension.get("unit") in ("Hrs", "Hours") and usd is not None and float(usd) > 0:
                    return float(usd)
    return None


def fetch_prices(client: Any, instance_types: list[str], region: str) -> tuple[dict[str, float], list[str]]:
    """(prices found, types with no price) for the given types, through `client.get_products`."""
    location = LOCATIONS.get(region)
    if location is None:
        raise PriceRefreshError(f"no Price List location name known for region {region!r}; known: {', '.join(LOCATIONS)}")
    prices, missing = {}, []
    for instance_type in instance_types:
        documents, token = [], None
        while True:
            request = {"ServiceCode": "AmazonEC2", "Filters": product_filters(instance_type, location), "MaxResults": 100}
            if token:
                request["NextToken"] = token
            answer = client.get_products(**request)
            documents += answer.get("PriceList", [])
            token = answer.get("NextToken")
            if not token:
                break
        price = on_demand_usd(documents)
        if price is None:
            missing.append(instance_type)
        else:
            prices[instance_type] = price
    return prices, missing


def refresh_table(table: dict[str, Any], client: Any, region: str, instance_types: list[str],
                  today: datetime.date) -> tuple[dict[str, Any], list[str], list[str]]:
    """The table with new prices, source and as-of; plus the changed and the unpriced types."""
    prices, missing = fetch_prices(client, instance_types, region)
    old = table.get("onDemandUsdPerHour", {}) if table.get("region") == region else {}
    changed = [t for t, p in prices.items() if old.get(t) != p]
    updated = {**table, "region": region, "source": SOURCE.format(region=region), "asOf": today.isoformat(),
               "onDemandUsdPerHour": {**old, **prices}}
    return updated, changed, missing


def run_refresh(args: argparse.Namespace) -> int:
    import boto3
    import botocore.exceptions

    table = json.loads(args.file.read_text())
    region = args.region or table["region"]
    types = args.types or sorted(table["onDemandUsdPerHour"])
    client = boto3.client("pricing", region_name=PRICING_REGION)
    try:
        updated, changed, missing = refresh_table(table, client, region, types, datetime.date.today())
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
        raise PriceRefreshError(f"AWS Price List API: {error}") from error
    for instance_type in changed:
        before = table["onDemandUsdPerHour"].get(instance_type)
        print(f"{instance_type}: {before if before is not None else '(new)'} -> {updated['onDemandUsdPerHour'][instance_type]}")
    if missing:
        print(f"no on-demand price found for: {', '.join(missing)} (kept as they were)")
    print(f"{len(changed)} changed, {len(types) - len(missing) - len(changed)} unchanged, as of {updated['asOf']}")
    if not args.dry_run:
        args.file.write_text(json.dumps(updated, indent=1) + "\n")
    return 0
