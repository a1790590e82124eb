"""`aifinops catalog refresh`: fill a region's EC2 price table from the AWS Price List API.

Asks `pricing.get_products` (service AmazonEC2) once per instance type already in the table, with the
filters that select the plain Linux price: instanceType, location, operatingSystem=Linux, tenancy (Shared,
or Dedicated with `--tenancy dedicated`), preInstalledSw=NA, capacitystatus=Used. From each answer it keeps
the on-demand hourly price and every reservation's effective hourly price (upfront fee spread over the
term), keyed "1yr/standard/No Upfront" as the usage file's commitments ask for them.

`--region R` writes that region's own table (`aifinops/core/data/ec2_prices.R.json`, started from the
vendored table's instance types and spot discounts); the estimate prices R's resources from it.
"""
from __future__ import annotations

import argparse
import datetime
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from aifinops.core.catalog import DEFAULT_REGION, regional_price_file

from .core.errors import AifinopsError
from .core.input_files import read_text_file

PRICING_REGION = "us-east-1"  # the Price List API's own endpoint
SOURCE = ("AWS Price List API (AmazonEC2; {region}; Linux; preInstalledSw NA; capacitystatus Used; Shared tenancy, "
          "Dedicated in dedicatedOnDemandUsdPerHour), OnDemand and Reserved USD per hour")
TENANCIES = {"shared": "Shared", "dedicated": "Dedicated"}
HOURS_PER_YEAR = 8760
# Where each tenancy's prices sit in a table.
PRICE_KEYS = {"shared": "onDemandUsdPerHour", "dedicated": "dedicatedOnDemandUsdPerHour"}
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
    refresh = commands.add_parser("refresh", help="fill a region's EC2 price table from the AWS Price List API")
    refresh.add_argument("--region", default=DEFAULT_REGION,
                         help=f"region to price (default {DEFAULT_REGION}); its table is aifinops/core/data/"
                              f"ec2_prices.<region>.json (ec2_prices.json for {DEFAULT_REGION})")
    refresh.add_argument("--tenancy", choices=sorted(TENANCIES), default="shared",
                         help="shared (default) or dedicated: Dedicated Instance prices go to their own map")
    refresh.add_argument("--types", nargs="*", metavar="TYPE", help="instance types to (re)price; default: the table's")
    refresh.add_argument("--file", type=Path, default=None,
                         help="price table to update (default: the region's table in aifinops/core/data)")
    refresh.add_argument("--dry-run", action="store_true", help="print the changes, write nothing")
    refresh.set_defaults(handler=run_refresh)


def product_filters(instance_type: str, location: str, tenancy: str = "shared") -> list[dict[str, str]]:
    return [{"Type": "TERM_MATCH", "Field": field, "Value": value} for field, value in (
        ("instanceType", instance_type), ("location", location), ("operatingSystem", "Linux"),
        ("tenancy", TENANCIES[tenancy]), ("preInstalledSw", "NA"), ("capacitystatus", "Used"))]


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


def reserved_usd(price_list: list[str]) -> dict[str, float]:
    """Effective USD per hour of each reservation offer: hourly fee + upfront fee spread over the term."""
    rates: dict[str, float] = {}
    for document in price_list:
        product = json.loads(document)
        for term in (product.get("terms", {}).get("Reserved") or {}).values():
            attributes = term.get("termAttributes", {})
            years = {"1yr": 1, "3yr": 3}.get(attributes.get("LeaseContractLength", ""))
            if years is None or not attributes.get("PurchaseOption"):
                continue
            hourly = upfront = 0.0
            for dimension in term.get("priceDimensions", {}).values():
                usd = float(dimension.get("pricePerUnit", {}).get("USD", 0) or 0)
                if dimension.get("unit") in ("Hrs", "Hours"):
                    hourly += usd
                elif dimension.get("unit") == "Quantity":
                    upfront += usd
            key = f"{attributes['LeaseContractLength']}/{attributes.get('OfferingClass', 'standard')}/" \
                  f"{attributes['PurchaseOption']}"
            rates[key] = round(hourly + upfront / (years * HOURS_PER_YEAR), 6)
    return rates


@dataclass
class FetchedPrices:
    on_demand: dict[str, float] = field(default_factory=dict)
    reserved: dict[str, dict[str, float]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)


def fetch_prices(client: Any, instance_types: list[str], region: str,
                 tenancy: str = "shared") -> tuple[dict[str, float], list[str]]:
    """(on-demand prices found, types with no price) for the given types, through `client.get_products`."""
    fetched = fetch_offers(client, instance_types, region, tenancy)
    return fetched.on_demand, fetched.missing


def fetch_offers(client: Any, instance_types: list[str], region: str, tenancy: str = "shared") -> FetchedPrices:
    location = LOCATIONS.get(region)
    if location is None:
        raise PriceRefreshError(f"no Price List location name known for region {region!r}; known: {', '.join(LOCATIONS)}")
    fetched = FetchedPrices()
    for instance_type in instance_types:
        documents, token = [], None
        while True:
            request = {"ServiceCode": "AmazonEC2", "Filters": product_filters(instance_type, location, tenancy),
                       "MaxResults": 100}
            if token:
                request["NextToken"] = token
            answer = client.get_products(**request)
            documents += answer.get("PriceList", [])
            token = answer.get("NextToken")
            if not token:
                break
        price = on_demand_usd(documents)
        if price is None:
            fetched.missing.append(instance_type)
            continue
        fetched.on_demand[instance_type] = price
        reserved = reserved_usd(documents)
        if reserved and tenancy == "shared":
            fetched.reserved[instance_type] = reserved
    return fetched


def refresh_table(table: dict[str, Any], client: Any, region: str, instance_types: list[str],
                  today: datetime.date, tenancy: str = "shared") -> tuple[dict[str, Any], list[str], list[str]]:
    """The table with new prices, source and as-of; plus the changed and the unpriced types.

    A table of another region starts empty: its prices are never carried into `region`.
    """
    fetched = fetch_offers(client, instance_types, region, tenancy)
    same_region = table.get("region") == region
    key = PRICE_KEYS[tenancy]
    old = table.get(key, {}) if same_region else {}
    changed = [t for t, p in fetched.on_demand.items() if old.get(t) != p]
    updated = {**table, "region": region, "source": SOURCE.format(region=region), "asOf": today.isoformat(),
               key: {**old, **fetched.on_demand}}
    if not same_region:
        for other in PRICE_KEYS.values():
            updated.setdefault(other, {})
            if other != key:
                updated[other] = {}
        updated["reservedUsdPerHour"] = {}
        updated["note"] = f"Filled for {region} by `aifinops catalog refresh --region {region}` on {today.isoformat()}."
    if fetched.reserved:
        updated["reservedUsdPerHour"] = {**(updated.get("reservedUsdPerHour") or {}), **fetched.reserved}
    return updated, changed, fetched.missing


def run_refresh(args: argparse.Namespace) -> int:
    import boto3
    import botocore.exceptions

    region = args.region
    path = args.file or regional_price_file(region)
    start = path if path.exists() else regional_price_file(DEFAULT_REGION)
    table = json.loads(read_text_file(start, "catalog price file"))
    types = args.types or sorted(table.get("onDemandUsdPerHour") or {})
    client = boto3.client("pricing", region_name=PRICING_REGION)
    try:
        updated, changed, missing = refresh_table(table, client, region, types, datetime.date.today(), args.tenancy)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
        raise PriceRefreshError(f"AWS Price List API: {error}") from error
    key = PRICE_KEYS[args.tenancy]
    before_prices = table.get(key, {}) if table.get("region") == region else {}
    for instance_type in changed:
        before = before_prices.get(instance_type)
        print(f"{instance_type}: {before if before is not None else '(new)'} -> {updated[key][instance_type]}")
    if missing:
        print(f"no {args.tenancy} on-demand price found for: {', '.join(missing)} (kept as they were)")
    print(f"{len(changed)} changed, {len(types) - len(missing) - len(changed)} unchanged, as of {updated['asOf']} "
          f"({region}, {args.tenancy} tenancy) in {path}")
    if not args.dry_run:
        path.write_text(json.dumps(updated, indent=1) + "\n")
    return 0
