"""Commerce: commission rates, fee and tax rules, coupons (admin); quotes (run time); analytics.

No ``from __future__ import annotations``: the item routes are made per kind in a loop, and
FastAPI must see their body and dependency annotations as objects.
"""

import uuid
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Depends, Path, Query, Response, status
from pydantic import BaseModel, Field

from offerengine.auth.deps import (
    ConfigReader,
    ConfigWriter,
    CurrentActor,
    CurrentPrincipal,
)
from offerengine.commerce import analytics, quoting, service
from offerengine.commerce import schemas as s
from offerengine.commerce.core import FeeType
from offerengine.commerce.quote_schemas import AcceptRequest, QuoteEnvelope, QuoteRequest
from offerengine.db.base import utcnow
from offerengine.deps import DbSession
from offerengine.errors import Invalid, NotFound
from offerengine.fields import Timestamp
from offerengine.http.query import Cursor, Limit
from offerengine.http.routing import IfMatch, expected_version, router, set_etag
from offerengine.http.runtime import Call, RuntimeRouter, respond
from offerengine.pagination import DEFAULT_LIMIT, Page, decode_cursor, encode_cursor
from offerengine.tenants.deps import PathTenant
from offerengine.versioning.router import add_version_routes

api = router(tags=["quotes and commissions"])
TENANT = "/v1/admin/tenants/{tenant}"
Filter = Annotated[str | None, Query(min_length=1, max_length=100)]
Active = Annotated[bool | None, Query(description="Only active (true) or inactive (false) ones.")]


def _after(cursor: str | None) -> uuid.UUID | None:
    if cursor is None:
        return None
    (value,) = decode_cursor(cursor, 1)
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise Invalid.field(("query", "cursor"), "not a cursor returned by this list") from None


def _page(spec: service.Spec[Any], rows: Any, last: uuid.UUID | None, **extra: Any) -> Any:
    return {
        "items": [spec.read(r, **extra.get(str(r.id), {})) for r in rows],
        "next_cursor": None if last is None else encode_cursor([str(last)]),
    }


def _add_kind(api: APIRouter, spec: service.Spec[Any], plural: str, title: str) -> None:
    collection = f"{TENANT}/{plural}"
    item = f"/v1/admin/{plural}/{{id:uuid}}"
    schema_in: Any = spec.schema_in
    read: Any = spec.schema_read
    update: Any = {
        "commission rate": s.CommissionRateUpdate,
        "fee rule": s.FeeRuleUpdate,
        "coupon": s.CouponUpdate,
    }[spec.what]

    async def load(
        id: Annotated[uuid.UUID, Path(description=f"The {spec.what}'s id.")],
        principal: CurrentPrincipal,
        session: DbSession,
    ) -> Any:
        found = await session.get(spec.model, id)
        if found is None or not (principal.is_platform or found.tenant_id == principal.tenant_id):
            raise NotFound(f"No {spec.what} {id}.")
        return found

    Loaded = Annotated[Any, Depends(load)]  # noqa: N806 - a type alias

    async def extra(session: Any, obj: Any) -> dict[str, Any]:
        if spec is not service.COUPON:
            return {}
        used = await service.usage_counts(session, obj.tenant_id, [obj.id])
        return {"used": used.get(obj.id, 0)}

    async def create(
        tenant: PathTenant,
        body: schema_in,
        _: ConfigWriter,
        actor: CurrentActor,
        session: DbSession,
        response: Response,
    ) -> Any:
        obj = await service.create(session, spec=spec, tenant=tenant, data=body, actor=actor)
        set_etag(response, obj.version)
        return spec.read(obj)

    async def get(obj: Loaded, _: ConfigReader, session: DbSession, response: Response) -> Any:
        set_etag(response, obj.version)
        return spec.read(obj, **await extra(session, obj))

    async def put(
        obj: Loaded,
        body: update,
        _: ConfigWriter,
        actor: CurrentActor,
        session: DbSession,
        if_match: IfMatch,
        response: Response,
    ) -> Any:
        updated = await service.update(
            session,
            spec=spec,
            obj=obj,
            data=body,
            actor=actor,
            expected_version=expected_version(if_match, body.version),
        )
        set_etag(response, updated.version)
        return spec.read(updated, **await extra(session, updated))

    async def delete(
        obj: Loaded, _: ConfigWriter, actor: CurrentActor, session: DbSession, if_match: IfMatch
    ) -> Response:
        await service.delete(session, spec=spec, obj=obj, actor=actor, expected_version=if_match)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    doc = (spec.schema_in.__doc__ or "").strip()
    api.add_api_route(
        collection,
        create,
        methods=["POST"],
        status_code=status.HTTP_201_CREATED,
        operation_id=f"create{title}",
        response_model=read,
        summary=f"Create a {spec.what}",
        description=f"{doc} Checked when saved: a bad field is a 422 naming it.",
    )
    api.add_api_route(item, get, methods=["GET"], operation_id=f"get{title}", response_model=read)
    api.add_api_route(
        item,
        put,
        methods=["PUT"],
        operation_id=f"update{title}",
        response_model=read,
        description="A new version. With a later effective_from it is scheduled: the version in "
        "force until then stays in force.",
    )
    api.add_api_route(
        item,
        delete,
        methods=["DELETE"],
        status_code=status.HTTP_204_NO_CONTENT,
        operation_id=f"delete{title}",
        response_class=Response,
        description="Delete it (every version stops applying); its history stays, and a "
        "rollback brings it back.",
    )
    add_version_routes(
        api,
        spec.history,
        path=f"/v1/admin/{plural}",
        operation=title,
        read_model=read,
        to_read=spec.read,
    )


@api.get(f"{TENANT}/commission-rates", operation_id="listCommissionRates")
async def list_commission_rates(
    tenant: PathTenant,
    _: ConfigReader,
    session: DbSession,
    category: Filter = None,
    seller_id: Filter = None,
    logistics_provider: Filter = None,
    region: Filter = None,
    component: Annotated[Literal["seller", "category", "logistics"] | None, Query()] = None,
    active: Active = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[s.CommissionRateRead]:
    """The tenant's commission rates (their current versions), filtered by exact values."""
    rows, last = await service.list_objects(
        session,
        spec=service.RATE,
        tenant_id=tenant.id,
        filters={
            "category": category,
            "seller_id": seller_id,
            "logistics_provider": logistics_provider,
            "region": region,
            "component": component,
            "is_active": active,
        },
        limit=limit,
        after=_after(cursor),
    )
    return cast(Page[s.CommissionRateRead], _page(service.RATE, rows, last))


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
    return await service.bulk_rates(session, tenant=tenant, data=body, actor=actor)


@api.get(f"{TENANT}/fee-rules", operation_id="listFeeRules")
async def list_fee_rules(
    tenant: PathTenant,
    _: ConfigReader,
    session: DbSession,
    type: Annotated[FeeType | None, Query()] = None,
    region: Filter = None,
    active: Active = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[s.FeeRuleRead]:
    """The tenant's fee and tax rules (their current versions)."""
    rows, last = await service.list_objects(
        session,
        spec=service.FEE_RULE,
        tenant_id=tenant.id,
        filters={"type": type, "region": region, "is_active": active},
        limit=limit,
        after=_after(cursor),
    )
    return cast(Page[s.FeeRuleRead], _page(service.FEE_RULE, rows, last))


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
    rule, rows = await service.rule_versions(session, tenant_id=tenant.id, name=name)
    return service.versions_read(rule, rows, utcnow())


@api.get(f"{TENANT}/coupons", operation_id="listCoupons")
async def list_coupons(
    tenant: PathTenant,
    _: ConfigReader,
    session: DbSession,
    active: Active = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[s.CouponRead]:
    """The tenant's coupons, with their accepted uses."""
    rows, last = await service.list_objects(
        session,
        spec=service.COUPON,
        tenant_id=tenant.id,
        filters={"is_active": active},
        limit=limit,
        after=_after(cursor),
    )
    used = await service.usage_counts(session, tenant.id, [r.id for r in rows])
    return cast(
        Page[s.CouponRead],
        _page(service.COUPON, rows, last, **{str(k): {"used": v} for k, v in used.items()}),
    )


for _spec, _plural, _title in (
    (service.RATE, "commission-rates", "CommissionRate"),
    (service.FEE_RULE, "fee-rules", "FeeRule"),
    (service.COUPON, "coupons", "Coupon"),
):
    _add_kind(api, _spec, _plural, _title)


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
