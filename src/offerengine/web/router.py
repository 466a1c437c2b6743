"""The admin UI at ``/admin``: server-rendered pages (Jinja2) over the services, and forms that
write through the JSON API with the session cookie and its CSRF token (``static/admin.js``), so
that the UI shows exactly the API's validation errors, next to the fields they name."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import sqlalchemy as sa
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.responses import RedirectResponse, Response

from offerengine import __version__
from offerengine.auth import users
from offerengine.auth.core import Permission
from offerengine.auth.sessions import (
    CSRF_FIELD,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    SessionCodec,
    new_token,
    same_token,
)
from offerengine.catalog import service as catalog
from offerengine.catalog.models import Product
from offerengine.catalog.schemas import ProductRead
from offerengine.db.base import utcnow
from offerengine.db.session import write_transaction
from offerengine.decisioning import counting
from offerengine.decisioning.models import DecisioningObject
from offerengine.deps import context_of
from offerengine.errors import Invalid
from offerengine.inventory.models import Flight
from offerengine.learning.policy import SHOP
from offerengine.pricing import service as pricing
from offerengine.pricing.models import PricingRule
from offerengine.pricing.schemas import PricingRuleRead
from offerengine.recording import service as dead_letters
from offerengine.recording.schemas import DeadLetterRead
from offerengine.tenants.models import Tenant
from offerengine.versioning import core as versioning_core
from offerengine.versioning import service as versioning
from offerengine.versioning.models import ObjectVersion
from offerengine.versioning.router import VERSIONED_PATHS
from offerengine.web import dashboards
from offerengine.web.resources import (
    RESOURCES,
    Resource,
    api_get,
    cell,
    dig,
    form_schema,
    start_value,
)
from offerengine.web.session import (
    LoginRequired,
    PageTenant,
    TenantRequired,
    Visitor,
    codec_of,
    set_session,
    switch_tenant,
    to_login,
)

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["tojson_pretty"] = lambda value: json.dumps(value, indent=2, default=str)

web = APIRouter(include_in_schema=False)

# The menu: groups, each with its pages; the group of the page shown opens its row of pages.
NAV: list[tuple[str, list[tuple[str, str]]]] = [
    ("Dashboard", [("Dashboard", "/admin")]),
    (
        "Catalog & pricing",
        [
            ("Products", "/admin/products"),
            ("Pricing rules", "/admin/pricing-rules"),
            ("Bundle templates", "/admin/bundles"),
        ],
    ),
    (
        "Airline",
        [
            ("Flights", "/admin/flights"),
            ("Inventory rules", "/admin/inventory-rules"),
            ("Offer rules", "/admin/offer-rules"),
            ("Fare settings", "/admin/fare-settings"),
            ("Shop playground", "/admin/shop"),
        ],
    ),
    (
        "Decisioning",
        [
            ("Placements", "/admin/placements"),
            ("Offers", "/admin/decision-offers"),
            ("Fallback offers", "/admin/fallback-offers"),
            ("Collections", "/admin/collections"),
            ("Ranking formulas", "/admin/ranking-formulas"),
            ("Activities", "/admin/activities"),
            ("Decision simulator", "/admin/decide"),
        ],
    ),
    (
        "Marketplace",
        [
            ("Commission rates", "/admin/commission-rates"),
            ("Fee and tax rules", "/admin/fee-rules"),
            ("Coupons", "/admin/coupons"),
            ("Quote playground", "/admin/quote"),
        ],
    ),
    (
        "Flags & experiments",
        [("Feature flags", "/admin/flags"), ("Experiments", "/admin/experiments")],
    ),
    (
        "Learning",
        [
            ("Bandit models", "/admin/models"),
            ("Segments", "/admin/segments"),
            ("Promotions", "/admin/promotions"),
            ("Promotion usage", "/admin/promotion-usage"),
        ],
    ),
    ("Audit log", [("Audit log", "/admin/audit"), ("Dead letters", "/admin/dead-letters")]),
]
PAGE = 25  # rows per page of every list


async def _page(
    request: Request, template: str, visitor: users.Visitor | None, **values: Any
) -> Response:
    tenant = values.get("tenant")
    context: dict[str, Any] = {
        "nav": NAV,
        "path": request.url.path,
        "visitor": visitor,
        "version": __version__,
        "csrf": visitor.session.csrf if visitor else "",
        "can_write": bool(visitor and visitor.principal.can(Permission.CONFIG_WRITE)),
        "can_run": bool(visitor and visitor.principal.can(Permission.RUNTIME)),
        "tenant_code": tenant.code if isinstance(tenant, Tenant) else "",
        **values,
    }
    if visitor is not None and visitor.is_platform:
        context["switchable"] = await _tenants(request)
    return templates.TemplateResponse(request, template, context)


def _pager(
    filters: dict[str, str], after: tuple[str, object] | None, later: bool
) -> dict[str, str | None]:
    """A list's pager links, keeping its filters: the next page (``after``: the query parameter
    and value that reach it) and, on a later page, the first."""
    return {
        "next_url": f"?{urlencode({**filters, after[0]: after[1]})}" if after else None,
        "first_url": f"?{urlencode(filters)}" if later else None,
    }


async def _tenants(request: Request) -> list[Tenant]:
    async with context_of(request).session_factory() as session:
        return list((await session.scalars(sa.select(Tenant).order_by(Tenant.code))).all())


# ---- login, logout, tenant switch ----


def _safe_next(value: str | None) -> str:
    # Only back into the admin UI: never an open redirect to another site.
    if value and value.startswith("/admin") and not value.startswith("//"):
        return value
    return "/admin"


@web.get("/admin/login")
async def login_page(request: Request, next: str | None = None) -> Response:
    token = new_token()
    response = templates.TemplateResponse(
        request,
        "login.html",
        {
            "csrf": token,
            "next": _safe_next(next),
            "error": None,
            "email": "",
            "version": __version__,
        },
    )
    _set_login_cookie(request, response, await codec_of(request), token)
    return response


def _set_login_cookie(
    request: Request, response: Response, codec: SessionCodec, token: str
) -> None:
    ctx = context_of(request)
    response.set_cookie(
        LOGIN_COOKIE,
        codec.dump_login(token),
        max_age=3600,
        path="/admin",
        httponly=True,
        samesite="lax",
        secure=ctx.admin.secure_cookies,
    )


@web.post("/admin/login")
async def login(request: Request) -> Response:
    ctx = context_of(request)
    codec = await codec_of(request)
    form = await request.form(max_files=0, max_fields=10)
    email = str(form.get("email") or "").strip()
    password = str(form.get("password") or "")
    next_url = _safe_next(str(form.get("next") or ""))

    def again(message: str, status: int) -> Response:
        token = new_token()
        response = templates.TemplateResponse(
            request,
            "login.html",
            {
                "csrf": token,
                "next": next_url,
                "error": message,
                "email": email,
                "version": __version__,
            },
            status_code=status,
        )
        _set_login_cookie(request, response, codec, token)
        return response

    expected = codec.load_login(request.cookies.get(LOGIN_COOKIE))
    if expected is None or not same_token(str(form.get(CSRF_FIELD) or ""), expected):
        return again("The login form expired. Please try again.", 403)
    if not email or not password:
        return again("Enter your email and password.", 422)
    email_key = users.normal_email(email)
    address = request.client.host if request.client else "unknown"
    admin = ctx.admin
    wait = max(admin.by_email.wait_seconds(email_key), admin.by_address.wait_seconds(address))
    if wait > 0:
        minutes = max(1, round(wait / 60))
        return again(
            f"Too many failed attempts. Try again in about {minutes} minute{'s' * (minutes != 1)}.",
            429,
        )
    async with ctx.session_factory() as session:
        user = await users.authenticate(session, email, password)
    if user is not None:
        changes = users.login_changes(user, password)
        async with write_transaction(
            ctx
        ) as session:  # SQLite's write lock taken up front: it queues
            await users.record_login(session, user, changes)
    if user is None:
        admin.by_email.failed(email_key)
        admin.by_address.failed(address)
        return again("Wrong email or password.", 401)
    admin.by_email.succeeded(email_key)
    response = RedirectResponse(next_url, status_code=303)
    set_session(response, request, codec, users.new_session(user))
    response.delete_cookie(LOGIN_COOKIE, path="/admin")
    return response


async def _check_form_csrf(request: Request, visitor: users.Visitor) -> dict[str, str]:
    form = await request.form(max_files=0, max_fields=10)
    if not same_token(str(form.get(CSRF_FIELD) or ""), visitor.session.csrf):
        raise Invalid.field(("body", CSRF_FIELD), "missing or not this session's token")
    return {k: str(v) for k, v in form.items()}


@web.post("/admin/logout")
async def logout(request: Request, visitor: Visitor) -> Response:
    await _check_form_csrf(request, visitor)
    async with write_transaction(context_of(request)) as session:
        await users.log_out(session, visitor.user.id)
    response = to_login()
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@web.get("/admin/tenants")
async def tenants_page(request: Request, visitor: Visitor) -> Response:
    if not visitor.is_platform:
        return RedirectResponse("/admin", status_code=303)
    return await _page(request, "tenants.html", visitor, tenants=await _tenants(request))


@web.post("/admin/tenant")
async def switch(request: Request, visitor: Visitor) -> Response:
    form = await _check_form_csrf(request, visitor)
    if not visitor.is_platform:
        raise Invalid.field(("body", "tenant"), "only a platform user switches tenants")
    chosen = next((t for t in await _tenants(request) if t.code == form.get("tenant")), None)
    if chosen is None:
        raise Invalid.field(("body", "tenant"), "no such tenant")
    response = RedirectResponse(_safe_next(form.get("next")), status_code=303)
    set_session(
        response, request, await codec_of(request), switch_tenant(visitor.session, chosen.id)
    )
    return response


# ---- dashboard ----


@web.get("/admin")
async def dashboard(request: Request, visitor: Visitor, tenant: PageTenant) -> Response:
    async with context_of(request).session_factory() as session:
        offers = await dashboards.offer_performance(session, tenant.id, tenant.base_currency)
        decisions = await dashboards.decisioning(session, tenant.id)
        stock = await dashboards.inventory(session, tenant.id)
    decisions.tables["caps"] = await _cap_usage(request, tenant)
    reports = [
        await api_get(request, "/v1/analytics/commission", group_by=group)
        for group in ("day", "category", "seller")
    ]
    commission = dashboards.commission_charts(*(r.data if r.ok else None for r in reports))
    experiments: list[dict[str, Any]] = []
    running = await api_get(request, f"/v1/admin/tenants/{tenant.code}/experiments")
    for experiment in (running.data or {}).get("items", []) if running.ok else []:
        if experiment.get("status") != "running" or len(experiments) == 3:
            continue
        results = await api_get(request, f"/v1/experiments/{experiment['id']}/results")
        if results.ok:
            experiments.append(
                {
                    "item": experiment,
                    "results": results.data,
                    "chart": dashboards.lift_chart(results.data),
                }
            )
    return await _page(
        request,
        "dashboard.html",
        visitor,
        tenant=tenant,
        offers=offers,
        decisions=decisions,
        stock=stock,
        commission=commission,
        experiments=experiments,
    )


async def _cap_usage(request: Request, tenant: Tenant) -> list[dict[str, Any]]:
    """Every global cap of the tenant's offers: used in its current window, out of its limit.
    (Caps per profile are counted per person; there is no one figure to show for them.)"""
    ctx = context_of(request)
    snapshot = await ctx.snapshots.get(tenant.id)
    now = utcnow()
    rows = []
    for offer in sorted(snapshot.decisioning.offers.values(), key=lambda o: o.name):
        for cap in offer.caps:
            if cap.scope != "global":
                continue
            used = await counting.global_usage(ctx, tenant.id, offer, cap, now)
            window = (
                cap.window
                if cap.window == "lifetime"
                else f"{cap.window} {cap.count if cap.rolling else ''} {cap.unit}"
            )
            rows.append(
                {
                    "offer": offer.name,
                    "event": cap.event,
                    "window": " ".join(window.split()),
                    "used": used,
                    "limit": cap.limit,
                    "share": round(used / cap.limit * 100, 1),
                }
            )
    return rows


# ---- catalog ----


@web.get("/admin/products")
async def products_page(
    request: Request,
    visitor: Visitor,
    tenant: PageTenant,
    q: Annotated[str | None, Query(max_length=200)] = None,
    type: Annotated[str | None, Query(max_length=50)] = None,
    active: Annotated[str | None, Query(pattern="^(|true|false)$")] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    where = catalog.ProductFilter(
        product_type=type or None,
        q=q or None,
        active=None if not active else active == "true",
    )
    async with context_of(request).session_factory() as session:
        rows, next_cursor = await catalog.list_products(
            session, tenant_id=tenant.id, where=where, limit=PAGE, cursor=cursor or None
        )
        types = (
            await session.scalars(
                sa.select(Product.product_type)
                .where(Product.tenant_id == tenant.id)
                .distinct()
                .order_by(Product.product_type)
            )
        ).all()
    filters = {"q": q or "", "type": type or "", "active": active or ""}
    return await _page(
        request,
        "products.html",
        visitor,
        tenant=tenant,
        products=[ProductRead.of(p) for p in rows],
        types=types,
        filters=filters,
        **_pager(filters, ("cursor", next_cursor) if next_cursor else None, bool(cursor)),
    )


@web.get("/admin/products/new")
async def new_product(request: Request, visitor: Visitor, tenant: PageTenant) -> Response:
    return await _page(request, "product_form.html", visitor, tenant=tenant, product=None)


@web.get("/admin/products/{product_id:uuid}")
async def edit_product(
    request: Request, visitor: Visitor, tenant: PageTenant, product_id: uuid.UUID
) -> Response:
    async with context_of(request).session_factory() as session:
        product = await catalog.get(session, tenant_id=tenant.id, product_id=product_id)
    return await _page(
        request, "product_form.html", visitor, tenant=tenant, product=ProductRead.of(product)
    )


# ---- pricing rules ----


def _readable_conditions(conditions: Any) -> str:
    """Seed 001's condition JSON as a line a person reads."""
    if conditions in (None, {}, ""):
        return "always"
    if isinstance(conditions, str):
        return conditions
    if isinstance(conditions, dict):
        if "expression" in conditions and len(conditions) == 1:
            return str(conditions["expression"])
        parts = []
        for key, value in conditions.items():
            if key in ("any", "all") and isinstance(value, list):
                joined = f" {'or' if key == 'any' else 'and'} ".join(
                    f"({_readable_conditions(v)})" for v in value
                )
                parts.append(joined)
            elif key == "not":
                parts.append(f"not ({_readable_conditions(value)})")
            elif isinstance(value, list):
                parts.append(f"{key} in {', '.join(map(str, value))}")
            elif key == "date_range" and isinstance(value, dict):
                fact = value.get("fact", "departure_date")
                span = [
                    f"from {value['start']}" if "start" in value else "",
                    f"to {value['end']}" if "end" in value else "",
                ]
                parts.append(f"{fact} {' '.join(p for p in span if p)}")
            elif isinstance(value, dict):
                ops = {
                    "min": "≥",
                    "max": "≤",
                    "gt": ">",
                    "gte": "≥",
                    "lt": "<",
                    "lte": "≤",
                    "eq": "=",
                    "ne": "≠",
                }
                parts.append(
                    " and ".join(f"{key} {ops.get(op, op)} {v}" for op, v in value.items())
                )
            else:
                parts.append(f"{key} = {value}")
        return " and ".join(parts)
    return json.dumps(conditions)


def _readable_adjustment(adjustment: dict[str, Any]) -> str:
    kind = adjustment.get("type")
    if kind == "MULTIPLIER":
        formula = adjustment.get("formula")
        body = f"({formula})" if formula else adjustment.get("value")
        bounds = [
            f"{name} {adjustment[key]}"
            for name, key in (("min", "min_multiplier"), ("max", "max_multiplier"))
            if adjustment.get(key) is not None
        ]
        return f"price × {body}" + (f" ({', '.join(bounds)})" if bounds else "")
    if kind == "FIXED":
        return f"price + {adjustment.get('value')}"
    if kind == "SET":
        return f"price = {adjustment.get('value')}"
    return f"price = {adjustment.get('formula')}"


templates.env.filters["conditions"] = _readable_conditions
templates.env.filters["adjustment"] = _readable_adjustment


@web.get("/admin/pricing-rules")
async def rules_page(
    request: Request,
    visitor: Visitor,
    tenant: PageTenant,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    async with context_of(request).session_factory() as session:
        rows, next_cursor = await pricing.list_rules(
            session,
            tenant_id=tenant.id,
            where=pricing.RuleFilter(q=q or None),
            limit=PAGE,
            cursor=cursor or None,
        )
        products = await _product_choices(session, tenant.id)
    filters = {"q": q or ""}
    return await _page(
        request,
        "rules.html",
        visitor,
        tenant=tenant,
        rules=[PricingRuleRead.of(r) for r in rows],
        products=products,
        filters=filters,
        **_pager(filters, ("cursor", next_cursor) if next_cursor else None, bool(cursor)),
    )


async def _product_choices(session: Any, tenant_id: uuid.UUID) -> list[dict[str, str]]:
    rows = await session.execute(
        sa.select(Product.id, Product.product_code, Product.name, Product.product_type)
        .where(Product.tenant_id == tenant_id)
        .order_by(Product.product_code)
        .limit(500)
    )
    return [
        {"id": str(i), "code": code, "name": name, "type": kind} for i, code, name, kind in rows
    ]


@web.get("/admin/pricing-rules/new")
async def new_rule(
    request: Request,
    visitor: Visitor,
    tenant: PageTenant,
    copy: Annotated[uuid.UUID | None, Query()] = None,
) -> Response:
    rule = None
    async with context_of(request).session_factory() as session:
        if copy is not None:
            found = await session.scalar(
                sa.select(PricingRule).where(
                    PricingRule.id == copy, PricingRule.tenant_id == tenant.id
                )
            )
            if found is not None:
                rule = PricingRuleRead.of(found).model_dump(mode="json")
                rule["rule_name"] = f"{rule['rule_name']} (copy)"[:100]
                rule["id"] = None
        products = await _product_choices(session, tenant.id)
    return await _page(
        request, "rule_form.html", visitor, tenant=tenant, rule=rule, products=products
    )


@web.get("/admin/pricing-rules/{rule_id:uuid}")
async def edit_rule(
    request: Request, visitor: Visitor, tenant: PageTenant, rule_id: uuid.UUID
) -> Response:
    async with context_of(request).session_factory() as session:
        found = await session.scalar(
            sa.select(PricingRule).where(
                PricingRule.id == rule_id, PricingRule.tenant_id == tenant.id
            )
        )
        if found is None:
            return await _not_found(request, visitor, tenant, f"No pricing rule {rule_id}.")
        products = await _product_choices(session, tenant.id)
    rule = PricingRuleRead.of(found).model_dump(mode="json")
    return await _page(
        request, "rule_form.html", visitor, tenant=tenant, rule=rule, products=products
    )


async def _not_found(
    request: Request, visitor: users.Visitor, tenant: Tenant, message: str
) -> Response:
    response = await _page(request, "not_found.html", visitor, tenant=tenant, message=message)
    response.status_code = 404
    return response


# ---- playgrounds ----


@web.get("/admin/shop")
async def shop_page(request: Request, visitor: Visitor, tenant: PageTenant) -> Response:
    snapshot = await context_of(request).snapshots.get(tenant.id)
    routes = await _routes(request, tenant)
    return await _page(
        request,
        "shop.html",
        visitor,
        tenant=tenant,
        airports=sorted(snapshot.network.airports),
        routes=routes,
    )


async def _activities(
    request: Request, tenant: Tenant, *, approved: bool = False
) -> list[tuple[str, str]]:
    """The tenant's activities (id as text, name) by name; only approved ones if asked."""
    stmt = sa.select(DecisioningObject.id, DecisioningObject.name).where(
        DecisioningObject.tenant_id == tenant.id, DecisioningObject.kind == "activity"
    )
    if approved:
        stmt = stmt.where(DecisioningObject.status == "approved")
    async with context_of(request).session_factory() as session:
        rows = (await session.execute(stmt.order_by(DecisioningObject.name))).all()
    return [(str(i), n) for i, n in rows]


@web.get("/admin/models")
async def models_page(request: Request, visitor: Visitor, tenant: PageTenant) -> Response:
    """The contextual bandits' model versions, with a training round and restores."""
    found = await api_get(request, f"/v1/admin/tenants/{tenant.code}/models")
    names = dict(await _activities(request, tenant))
    names[str(SHOP)] = "shop (offer types' conversion)"
    rows = found.listed()
    for row in rows:
        row["activity"] = names.get(row["activity_id"], row["activity_id"])
    return await _page(
        request,
        "models.html",
        visitor,
        tenant=tenant,
        rows=rows,
        problem=found.problem,
    )


@web.get("/admin/models/report")
async def models_report_page(request: Request, visitor: Visitor, tenant: PageTenant) -> Response:
    """Each bandit line judged offline on its logs: IPS, SNIPS, direct method and doubly robust
    with intervals, beside what was served; a shadow's agreement."""
    found = await api_get(request, f"/v1/admin/tenants/{tenant.code}/models/report")
    lines = found.listed("lines")
    return await _page(
        request,
        "models_report.html",
        visitor,
        tenant=tenant,
        lines=lines,
        problem=found.problem,
    )


@web.get("/admin/promotion-usage")
async def promotion_usage_page(request: Request, visitor: Visitor, tenant: PageTenant) -> Response:
    """Each promotion's budget spent, grants per product against its stock, and its uplift
    model's held-out Qini beside random targeting's."""
    found = await api_get(request, f"/v1/admin/tenants/{tenant.code}/promotions/usage")
    rows = found.listed(None)
    return await _page(
        request,
        "promotion_usage.html",
        visitor,
        tenant=tenant,
        rows=rows,
        problem=found.problem,
    )


@web.get("/admin/decide")
async def decide_page(request: Request, visitor: Visitor, tenant: PageTenant) -> Response:
    activities = await _activities(request, tenant, approved=True)
    return await _page(
        request,
        "decide.html",
        visitor,
        tenant=tenant,
        activities=[{"id": i, "name": n} for i, n in activities],
    )


SAMPLE_BASKET: dict[str, Any] = {
    "customer_id": "cust-42",
    "seller_id": "seller-techstore",
    "items": [
        {
            "product_id": "ELEC-PHONE-CASE",
            "variant_id": "black",
            "quantity": 2,
            "unit_price": 149.90,
            "category_id": "electronics",
            "tags": ["electronics", "mobile"],
            "weight": 0.1,
        }
    ],
    "delivery_address": {
        "street": "Istiklal Caddesi 123",
        "city": "Istanbul",
        "district": "Beyoglu",
        "country": "TR",
        "latitude": 41.0082,
        "longitude": 28.9784,
    },
    "pickup_address": {
        "street": "Seller Address",
        "city": "Istanbul",
        "district": "Kadikoy",
        "country": "TR",
        "latitude": 41.0186,
        "longitude": 29.0023,
    },
    "is_express_delivery": True,
    "coupon_codes": ["SAVE20"],
    "currency": "TRY",
}


@web.get("/admin/quote")
async def quote_page(request: Request, visitor: Visitor, tenant: PageTenant) -> Response:
    basket = dict(SAMPLE_BASKET, currency=tenant.base_currency)
    return await _page(
        request,
        "quote.html",
        visitor,
        tenant=tenant,
        basket=basket,
    )


# ---- airline: flights, offer rules and fare settings ----


@web.get("/admin/flights")
async def flights_page(
    request: Request,
    visitor: Visitor,
    tenant: PageTenant,
    origin: Annotated[str | None, Query(max_length=3)] = None,
    destination: Annotated[str | None, Query(max_length=3)] = None,
    date: Annotated[str | None, Query(max_length=10)] = None,
    page: Annotated[int, Query(ge=1, le=40)] = 1,
) -> Response:
    filters = {
        "origin": (origin or "").upper(),
        "destination": (destination or "").upper(),
        "date": date or "",
    }
    # The API lists up to 1,000 flights in departure order; the page shows them PAGE at a time.
    found = await api_get(
        request, f"/v1/admin/tenants/{tenant.code}/flights", limit=1000, **filters
    )
    flights = found.data["items"] if found.ok else []
    shown = flights[(page - 1) * PAGE : page * PAGE]
    more = len(flights) > page * PAGE
    return await _page(
        request,
        "flights.html",
        visitor,
        tenant=tenant,
        filters=filters,
        flights=shown,
        total=len(flights),
        problem=None if found.ok else found,
        **_pager(filters, ("page", page + 1) if more else None, page > 1),
    )


@web.get("/admin/flights/{flight_id:uuid}")
async def flight_page(
    request: Request, visitor: Visitor, tenant: PageTenant, flight_id: uuid.UUID
) -> Response:
    flight = await api_get(request, f"/v1/admin/flights/{flight_id}")
    if not flight.ok:
        return await _not_found(
            request, visitor, tenant, flight.detail or f"No flight {flight_id}."
        )
    stock = await api_get(request, f"/v1/inventory/flights/{flight_id}")
    return await _page(
        request,
        "flight.html",
        visitor,
        tenant=tenant,
        flight=flight.data,
        stock=stock.data if stock.ok else None,
        stock_problem=None if stock.ok else stock.detail,
    )


DOCUMENTS = {
    "offer-rules": (
        "Offer rules",
        "offer_rules",
        "Seed 001's standard offer mix: how many offers, "
        "which types always come, ranking weights, expiry; a conversion_model personalises "
        "each offer type's conversion probability by a contextual bandit (Bandit models).",
    ),
    "fare-settings": (
        "Fare settings",
        "fare_settings",
        "Taxes by airport or country, exchange rates, passenger-type ratios.",
    ),
    "segments": (
        "Segments",
        "segments",
        "Rule-based segments (a condition over profile.*) and learned ones (k-means over "
        "profile features, fitted with POST …/segments/{name}/learn); profile.segments in rules.",
    ),
    "promotions": (
        "Promotions",
        "promotions",
        "Discounts and perks given only where their uplift model expects them to change "
        "behaviour, within their budget, products' stock and per-customer limit.",
    ),
}


@web.get("/admin/{slug:str}")
async def document_or_resource(
    request: Request,
    visitor: Visitor,
    tenant: PageTenant,
    slug: str,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    if slug in DOCUMENTS:
        title, history, help_text = DOCUMENTS[slug]
        found = await api_get(request, f"/v1/admin/tenants/{tenant.code}/{slug}")
        if not found.ok:
            return await _not_found(request, visitor, tenant, found.detail)
        data = dict(found.data)
        meta = {k: data.pop(k, None) for k in ("id", "version", "updated_at")}
        return await _page(
            request,
            "document.html",
            visitor,
            tenant=tenant,
            title=title,
            help=help_text,
            document=data,
            meta=meta,
            history=history,
            api=f"/v1/admin/tenants/{tenant.code}/{slug}",
        )
    resource = RESOURCES.get(slug)
    if resource is None:
        return await _not_found(request, visitor, tenant, f"No page {request.url.path}.")
    found = await api_get(request, resource.collection.format(tenant=tenant.code), cursor=cursor)
    items = found.listed()
    next_cursor = (
        found.data.get("next_cursor") if found.ok and isinstance(found.data, dict) else None
    )
    if next_cursor or cursor:  # the API pages this list itself
        pages = _pager({}, ("cursor", next_cursor) if next_cursor else None, bool(cursor))
    else:  # the API returns the whole list: a page of it at a time
        more = len(items) > page * PAGE
        items = items[(page - 1) * PAGE : page * PAGE]
        pages = _pager({}, ("page", page + 1) if more else None, page > 1)
    return await _page(
        request,
        "resource_list.html",
        visitor,
        tenant=tenant,
        resource=resource,
        rows=[
            {"id": row.get("id"), "cells": [cell(dig(row, c)) for c in resource.columns]}
            for row in items
        ],
        problem=found.problem,
        **pages,
    )


async def _references(request: Request, tenant: Tenant, resource: Resource) -> dict[str, Any]:
    """What a decisioning document refers to by id, listed beside its editor."""
    if not resource.collection.startswith("/v1/admin/tenants/{tenant}/decisioning/"):
        return {}
    wanted = {
        "decision-offers": ("placements",),
        "fallback-offers": ("placements",),
        "collections": ("decision-offers",),
        "activities": ("placements", "collections", "fallback-offers", "ranking-formulas"),
    }.get(resource.slug, ())
    out: dict[str, Any] = {}
    for slug in wanted:
        other = RESOURCES[slug]
        found = await api_get(request, other.collection.format(tenant=tenant.code))
        if found.ok:
            out[other.title] = [(row.get("name"), row.get("id")) for row in found.data["items"]]
    return out


@web.get("/admin/{slug:str}/new")
async def new_resource(
    request: Request, visitor: Visitor, tenant: PageTenant, slug: str
) -> Response:
    resource = RESOURCES.get(slug)
    if resource is None:
        return await _not_found(request, visitor, tenant, f"No page {request.url.path}.")
    return await _page(
        request,
        "resource_form.html",
        visitor,
        tenant=tenant,
        resource=resource,
        item=None,
        document=resource.starter,
        start=start_value(resource.starter),
        schema=form_schema(resource.schema),
        references=await _references(request, tenant, resource),
        api=resource.collection.format(tenant=tenant.code),
    )


@web.get("/admin/{slug:str}/{item_id:uuid}")
async def edit_resource(
    request: Request, visitor: Visitor, tenant: PageTenant, slug: str, item_id: uuid.UUID
) -> Response:
    resource = RESOURCES.get(slug)
    if resource is None:
        return await _not_found(request, visitor, tenant, f"No page {request.url.path}.")
    found = await api_get(request, resource.item.format(id=item_id))
    if not found.ok:
        return await _not_found(
            request, visitor, tenant, found.detail or f"No {resource.one} {item_id}."
        )
    extras: dict[str, Any] = {}
    if slug == "experiments":
        results = await api_get(request, f"/v1/experiments/{item_id}/results")
        extras["results"] = results.data if results.ok else None
        extras["results_problem"] = None if results.ok else results.detail
        if results.ok:
            extras["lift_chart"] = dashboards.lift_chart(results.data)
    if slug == "bundles":
        extras["routes"] = await _routes(request, tenant)
    return await _page(
        request,
        "resource_form.html",
        visitor,
        tenant=tenant,
        resource=resource,
        item=found.data,
        document=resource.input_of(found.data),
        start=start_value(resource.input_of(found.data)),
        schema=form_schema(resource.schema),
        references=await _references(request, tenant, resource),
        api=resource.item.format(id=item_id),
        **extras,
    )


async def _routes(request: Request, tenant: Tenant) -> list[dict[str, str]]:
    async with context_of(request).session_factory() as session:
        rows = (
            await session.execute(
                sa.select(Flight.origin, Flight.destination, sa.func.min(Flight.departure_date))
                # flights that leave from an hour on: a flight already gone makes no offers
                .where(
                    Flight.tenant_id == tenant.id,
                    Flight.departure_at >= utcnow() + timedelta(hours=1),
                )
                .group_by(Flight.origin, Flight.destination)
                .order_by(Flight.origin, Flight.destination)
                .limit(50)
            )
        ).all()
    return [{"origin": o, "destination": d, "date": str(day)} for o, d, day in rows]


# ---- history and audit ----


@web.get("/admin/history/{object_type}/{object_id:uuid}")
async def history_page(
    request: Request, visitor: Visitor, tenant: PageTenant, object_type: str, object_id: uuid.UUID
) -> Response:
    async with context_of(request).session_factory() as session:
        rows = (
            await session.scalars(
                sa.select(ObjectVersion)
                .where(
                    ObjectVersion.tenant_id == tenant.id,
                    ObjectVersion.object_type == object_type,
                    ObjectVersion.object_id == object_id,
                )
                .order_by(ObjectVersion.version)
            )
        ).all()
    if not rows:
        return await _not_found(
            request, visitor, tenant, f"No history of {object_type} {object_id}."
        )
    versions, previous = [], None
    for row in rows:
        changes = versioning_core.diff(previous or {}, row.data) if row.action != "delete" else []
        versions.append({"row": row, "changes": changes})
        previous = row.data
    versions.reverse()  # newest first
    base = VERSIONED_PATHS.get(object_type)
    return await _page(
        request,
        "history.html",
        visitor,
        tenant=tenant,
        object_type=object_type,
        object_id=object_id,
        versions=versions,
        current=None if rows[-1].action == "delete" else rows[-1].version,
        rollback_url=f"{base}/{object_id}/rollback" if base else None,
        title=_title_of(rows[-1].data),
    )


def _title_of(data: dict[str, Any]) -> str:
    for key in ("rule_name", "name", "product_code", "bundle_name", "key", "code"):
        if data.get(key):
            return str(data[key])
    return ""


@web.get("/admin/audit")
async def audit_page(
    request: Request,
    visitor: Visitor,
    tenant: PageTenant,
    object_type: Annotated[str | None, Query(max_length=50)] = None,
    action: Annotated[str | None, Query(max_length=30)] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    query = versioning.AuditQuery(
        tenant_id=tenant.id, object_type=object_type or None, action=action or None
    )
    async with context_of(request).session_factory() as session:
        rows, next_cursor = await versioning.list_audit(
            session, query, limit=PAGE, cursor=cursor or None
        )
    filters = {"object_type": object_type or "", "action": action or ""}
    return await _page(
        request,
        "audit.html",
        visitor,
        tenant=tenant,
        entries=rows,
        filters=filters,
        versioned=set(VERSIONED_PATHS),
        **_pager(filters, ("cursor", next_cursor) if next_cursor else None, bool(cursor)),
    )


@web.get("/admin/dead-letters")
async def dead_letters_page(
    request: Request,
    visitor: Visitor,
    tenant: PageTenant,
    show: Annotated[Literal["waiting", "redriven", "all"], Query()] = "waiting",
) -> Response:
    """Run-time records the database refused, with the error; re-driven from here once fixed."""
    redriven = {"waiting": False, "redriven": True, "all": None}[show]
    async with context_of(request).session_factory() as session:
        letters = await dead_letters.list_dead_letters(
            session, tenant_id=tenant.id, redriven=redriven, limit=200
        )
    return await _page(
        request,
        "dead_letters.html",
        visitor,
        tenant=tenant,
        letters=[DeadLetterRead.of(letter) for letter in letters],
        show=show,
    )


def install(app: FastAPI) -> None:
    """Serve the admin UI: its pages, its static files, and the redirects to log in."""
    # The generic /admin/{slug} pages match anything: they go after every named page.
    app.router.routes.extend(sorted(web.routes, key=lambda r: "{slug" in getattr(r, "path", "")))
    app.mount("/admin/static", StaticFiles(directory=HERE / "static"), name="admin-static")

    async def on_login_required(request: Request, exc: Exception) -> Response:
        return to_login(exc.next_url if isinstance(exc, LoginRequired) else "/admin")

    async def on_tenant_required(request: Request, exc: Exception) -> Response:
        return RedirectResponse("/admin/tenants", status_code=303)

    app.add_exception_handler(LoginRequired, on_login_required)
    app.add_exception_handler(TenantRequired, on_tenant_required)
