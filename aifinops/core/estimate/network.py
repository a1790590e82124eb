"""Network: VPC interface endpoints, data transfer (as usage keys on any resource), CloudFront, API Gateway
(REST, HTTP, WebSocket) and Route 53."""
from __future__ import annotations

from typing import Any

from aifinops.core.service_prices import service_price, service_quantity

from ..values import as_list
from .compute import hours_of
from .context import PricingContext
from .model import API_GATEWAY, CLOUDFRONT, DATA_TRANSFER, ROUTE53, VPC, Priced, PriceLine, free, needs_usage, unpriced
from .services import optional_usage_line, service_line, usage_priced
from .view import CostResource

VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
# Usage keys any resource may carry: GB it sends across AZs, to other regions, to the internet.
DATA_TRANSFER_KEYS = ("monthlyInterAzGb", "monthlyInterRegionGb", "monthlyInternetEgressGb")
INTERNET_TIERS = 4


def data_transfer_lines(usage: dict[str, Any]) -> list[PriceLine]:
    """Data transfer a resource's usage declares, in AWS's internet egress tiers (applied to this resource alone)."""
    lines = []
    for key, price_key, what in (("monthlyInterAzGb", "interAz", "data transfer between Availability Zones"),
                                 ("monthlyInterRegionGb", "interRegion", "data transfer to other regions")):
        if usage.get(key):
            lines.append(service_line(("dataTransfer", price_key), DATA_TRANSFER, what, float(usage[key]), "usage file"))
    egress = float(usage.get("monthlyInternetEgressGb") or 0.0)
    low = 0.0
    for tier in range(1, INTERNET_TIERS + 1):
        high = service_quantity("dataTransfer", f"internet.tier{tier}.upToGb") if tier < INTERNET_TIERS else None
        in_tier = max(0.0, min(egress, high if high is not None else egress) - low)
        if in_tier > 0:
            span = f"{low:,.0f}-{high:,.0f} GB" if high is not None else f"above {low:,.0f} GB"
            lines.append(service_line(("dataTransfer", f"internet.tier{tier}"), DATA_TRANSFER,
                                      f"data transfer out to the internet ({span})", in_tier,
                                      "usage file; tiers applied to this resource alone, the account's free 100 GB "
                                      "not deducted"))
        low = high if high is not None else low
    return lines


def price_vpc_endpoint(r: CostResource, ctx: PricingContext) -> Priced:
    kind = r.get("vpcEndpointType") or "Gateway"
    if kind == "Gateway":
        return free("gateway endpoints (S3, DynamoDB) are free")
    if kind != "Interface":
        return unpriced(f"no price for {kind} VPC endpoints")
    usage = ctx.usage_for(r)
    zones = len([s for s in as_list(r.get("subnetIds")) if s is not None]) or 1
    hours, assumption = hours_of(usage, "the endpoint")
    lines = [service_line(("vpc", "interfaceEndpoint"), VPC, f"interface endpoint in {zones} AZs", zones * hours,
                          f"{zones} subnets x {hours:g} h ({assumption})")]
    data, note = optional_usage_line(usage, "monthlyProcessedGb", ("vpc", "interfaceEndpointData"), VPC,
                                     "data processed")
    return Priced(lines=lines + data, note=note)


def price_distribution(r: CostResource, ctx: PricingContext) -> Priced:
    usage = ctx.usage_for(r)
    if "monthlyEgressGb" not in usage and "monthlyRequestsMillions" not in usage:
        egress = service_price("cloudfront", "egress").usd
        return needs_usage(f"charged per GB to viewers (${egress:g} first 10 TB) and per request: set "
                           f"monthlyEgressGb and monthlyRequestsMillions in the usage file")
    lines = []
    if usage.get("monthlyEgressGb"):
        lines.append(service_line(("cloudfront", "egress"), CLOUDFRONT, "data transfer to viewers",
                                  float(usage["monthlyEgressGb"]), "usage file; North America/Europe rate"))
    if usage.get("monthlyRequestsMillions"):
        lines.append(service_line(("cloudfront", "requests"), CLOUDFRONT, "HTTPS requests",
                                  float(usage["monthlyRequestsMillions"]), "usage file"))
    return Priced(lines=lines)


def price_rest_api(r: CostResource, ctx: PricingContext) -> Priced:
    return _requests(r, ctx, "rest", "REST API")


def price_api(r: CostResource, ctx: PricingContext) -> Priced:
    protocol = r.get("protocolType")
    if protocol == "WEBSOCKET":
        usage = ctx.usage_for(r)
        if "monthlyRequestsMillions" not in usage:
            return needs_usage("charged per million messages ($1.00) and connection-minutes ($0.25): set "
                               "monthlyRequestsMillions (messages) and monthlyConnectionMinutesMillions")
        lines = [service_line(("apigateway", "websocketMessages"), API_GATEWAY, "WebSocket messages",
                              float(usage["monthlyRequestsMillions"]), "usage file")]
        if usage.get("monthlyConnectionMinutesMillions"):
            lines.append(service_line(("apigateway", "websocketMinutes"), API_GATEWAY, "connection-minutes",
                                      float(usage["monthlyConnectionMinutesMillions"]), "usage file"))
        return Priced(lines=lines)
    return _requests(r, ctx, "http", "HTTP API")


def _requests(r: CostResource, ctx: PricingContext, key: str, what: str) -> Priced:
    return usage_priced(r, ctx, "monthlyRequestsMillions", ("apigateway", key), API_GATEWAY, f"{what} requests",
                        f"charged per {what} request")


def price_zone(r: CostResource, ctx: PricingContext) -> Priced:
    queries, note = optional_usage_line(ctx.usage_for(r), "monthlyQueriesMillions", ("route53", "queries"), ROUTE53,
                                        "standard queries")
    return Priced(lines=[service_line(("route53", "hostedZone"), ROUTE53, "hosted zone", 1, "first 25 zones' rate")]
                  + queries, note=note + ("; alias queries to AWS resources are free" if note else ""))


PRICERS = {
    VPC_ENDPOINT: price_vpc_endpoint,
    "aws:cloudfront/distribution:Distribution": price_distribution,
    "aws:apigateway/restApi:RestApi": price_rest_api,
    "aws:apigatewayv2/api:Api": price_api,
    "aws:route53/zone:Zone": price_zone,
}
FREE_TYPES = {
    "aws:route53/record:Record": "records are free: queries are priced on the hosted zone",
    "aws:apigateway/deployment:Deployment": "deployments are free: requests are priced on the API",
    "aws:apigateway/stage:Stage": "stages are free: requests are priced on the API (a cache cluster is not priced)",
    "aws:apigatewayv2/stage:Stage": "stages are free: requests are priced on the API",
    "aws:apigatewayv2/route:Route": "routes are free: requests are priced on the API",
    "aws:apigatewayv2/integration:Integration": "integrations are free: requests are priced on the API",
    "aws:cloudfront/originAccessControl:OriginAccessControl": "origin access controls are free",
    "aws:cloudfront/cachePolicy:CachePolicy": "cache policies are free",
}
