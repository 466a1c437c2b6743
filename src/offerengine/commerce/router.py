"""Commerce: commission rates, fee and tax rules, coupons (admin); quotes (run time); analytics.

The three kinds are declared in :mod:`offerengine.commerce.service`; their routes are the standard
ones of :func:`offerengine.versioning.kind_routes.add_kind_routes`, with each list's filters, and
the commission rates' bulk route and the fee rules' versions by name beside them.

No ``from __future__ import annotations``: FastAPI must see the filters' annotations as objects.
"""

import uuid
from typing import Annotated, Any, Literal

from fastapi import Query, Response
from pydantic import BaseModel, Field

from offerengine.auth.deps import ConfigReader, ConfigWriter, CurrentActor
from offerengine.clock import utcnow
from offerengine.commerce import analytics, bulk, fee_versions, quoting, service
from offerengine.commerce import schemas as s
from offerengine.commerce.core import FeeType
from offerengine.commerce.quote_schemas import AcceptRequest, QuoteEnvelope, QuoteRequest
from offerengine.deps import DbSession
from offerengine.fields import Timestamp
from offerengine.http.routing import router
from offerengine.http.runtime import Call, RuntimeRouter, respond
from offerengine.tenants.deps import PathTenant
from offerengine.versioning.kind_routes import RouteDocs, add_kind_routes

api = router(tags=["quotes and commissions"])
TENANT = "/v1/admin/tenants/{tenant}"
Filter = Annotated[str | None, Query(min_length=1, max_length=100)]
Active = Annotated[bool | None, Query(description="Only active (true) or inactive (false) ones.")]


def rate_filters(
    category: Filter = None,
    seller_id: Filter = None,
    logistics_provider: Filter = None,
    region: Filter = None,
    component: Annotated[Literal["seller", "category", "logistics"] | None, Query()] = None,
    active: Active = None,
) -> dict[str, Any]:
    return {
        "category": category,
        "seller_id": seller_id,
        "logistics_provider": logistics_provider,
        "region": region,
        "component": component,
        "is_active": active,
    }


def fee_rule_filters(
    type: Annotated[FeeType | None, Query()] = None, region: Filter = None, active: Active = None
) -> dict[str, Any]:
    return {"type": type, "region": region, "is_active": active}


def coupon_filters(active: Active = None) -> dict[str, Any]:
    return {"is_active": active}


def _docs(kind: Any, listed: str) -> RouteDocs:
    doc = (kind.create_schema.__doc__ or "").strip()
    return RouteDocs(
        list=listed,
        create=f"{doc} Checked when saved: a bad field is a 422 naming it.",
        update="A new version. With a later effective_from it is scheduled: the version in "
        "force until then stays in force.",
        delete="Delete it (every version stops applying); its history stays, and a "
        "rollback brings it back.",
    )


@api.put(
    f"{TENANT}/commission-rates/bulk",
    operation_id="bulkPutCommissionRates",
    response_model=s.BulkResult,
)
async def bulk_put_commission_rates(
    tenant: PathTenant,
    body: s.CommissionRateBulk,
    _: ConfigWriter,
    actor: CurrentActor,
    session: DbSession,
) -> s.BulkResult:
    """Create (no `id`) or replace (with `id`, and optionally the `version` it is based on) many
    rates at once, all or nothing: every bad row is reported, and then nothing changes."""
    return await bulk.bulk_rates(session, tenant=tenant, data=body, actor=actor)


@api.get(
    f"{TENANT}/fee-rules/versions",
    operation_id="listFeeRuleVersionsByName",
    response_model=s.RuleVersions,
)
async def list_fee_rule_versions_by_name(
    tenant: PathTenant,
    _: ConfigReader,
    session: DbSession,
    name: Annotated[str, Query(min_length=1, max_length=200)],
) -> s.RuleVersions:
    """Seed 002's `GET /pricing-rules/versions?name=`: every version of the rule of that name,
    each with its effective window, and which one is in force now."""
    rule, rows = await fee_versions.rule_versions(session, tenant_id=tenant.id, name=name)
    return fee_versions.versions_read(rule, rows, utcnow())


add_kind_routes(
    api,
    service.RATE_KIND,
    filters=rate_filters,
    docs=_docs(
        service.RATE_KIND,
        "The tenant's commission rates (their current versions), filtered by exact values.",
    ),
)
add_kind_routes(
    api,
    service.FEE_RULE_KIND,
    filters=fee_rule_filters,
    docs=_docs(service.FEE_RULE_KIND, "The tenant's fee and tax rules (their current versions)."),
)
add_kind_routes(
    api,
    service.COUPON_KIND,
    filters=coupon_filters,
    docs=_docs(service.COUPON_KIND, "The tenant's coupons, with their accepted uses."),
)


# --- run time -----------------------------------------------------------------------------------

runtime = RuntimeRouter(tags=["run time"])


class QuotePath(BaseModel):
    id: uuid.UUID = Field(description="The quote's id.")


@runtime.post(
    "/v1/quote", operation_id="quote", body=QuoteRequest, raw=True, response=QuoteEnvelope
)
async def quote(call: Call, body: bytes) -> Response:
    """Price a basket (seed 002's request, as written): items → coupons → tax → delivery (base →
    distance → express → free delivery) → small-basket fee → total, with the commission of every
    item by the most specific rate in force. Every amount is a step naming its rule and version;
    an identical request within the quote's validity gets the stored quote back."""
    return respond(await quoting.answer(call.context, call.snapshot, body, utcnow()))


@runtime.get("/v1/quotes/{id}", operation_id="getQuote", params=QuotePath, response=QuoteEnvelope)
async def get_quote(call: Call, params: QuotePath) -> Response:
    """A stored quote, with its status (`QUOTED`, `ACCEPTED`, or `EXPIRED` past `valid_until`)."""
    return respond(await quoting.get(call.context, call.snapshot, params.id, utcnow()))


@runtime.post(
    "/v1/quotes/{id}/accept",
    operation_id="acceptQuote",
    params=QuotePath,
    body=AcceptRequest,
    body_required=False,
    response=QuoteEnvelope,
    responses={410: {"description": "The quote expired."}},
)
async def accept_quote(call: Call, params: QuotePath, body: AcceptRequest) -> Response:
    """Accept a quote while it is valid: its coupons' uses are counted now (atomically, within
    their limits, all or nothing). Accepting it again answers the same; 410 once it expired."""
    del body  # nothing in it yet; read for its checks
    return respond(await quoting.accept(call.context, call.snapshot, params.id, utcnow()))


# --- analytics ------------------------------------------------------------------------------------

From = Annotated[Timestamp | None, Query(alias="from", description="Quotes made at or after.")]
To = Annotated[Timestamp | None, Query(alias="to", description="Quotes made before.")]
TenantQ = Annotated[
    str | None,
    Query(min_length=1, max_length=64, description="Platform keys: the tenant (id or code)."),
]


@api.get(
    "/v1/analytics/pricing",
    operation_id="pricingAnalytics",
    response_model=analytics.Report,
    tags=["quotes and commissions"],
)
async def pricing_analytics(
    principal: ConfigReader,
    session: DbSession,
    group_by: Annotated[Literal["day", "region", "category"], Query()] = "day",
    from_: From = None,
    to: To = None,
    tenant: TenantQ = None,
) -> analytics.Report:
    """Stored quotes, and accepted ones separately, grouped by day (the tenant's), region (the
    delivery city) or category: counts and totals, average basket."""
    tenant_id = await analytics.tenant_of(session, principal, tenant)
    return await analytics.pricing(session, tenant_id, group_by, from_, to)


@api.get(
    "/v1/analytics/commission",
    operation_id="commissionAnalytics",
    response_model=analytics.Report,
    tags=["quotes and commissions"],
)
async def commission_analytics(
    principal: ConfigReader,
    session: DbSession,
    group_by: Annotated[
        Literal["seller", "category", "logistics", "region", "day"], Query()
    ] = "seller",
    from_: From = None,
    to: To = None,
    tenant: TenantQ = None,
) -> analytics.Report:
    """Commission of stored quotes, and of accepted ones separately, grouped by seller,
    category, logistics provider, region or day: item value, commission by component, and the
    average commission rate (commission ÷ item value)."""
    tenant_id = await analytics.tenant_of(session, principal, tenant)
    return await analytics.commission(session, tenant_id, group_by, from_, to)
