"""The tenant's one-document settings, each a page of its own at ``/admin/<slug>``: offer rules,
fare settings and connection rules (the Airline menu), segments and promotions (the Learning
menu). Each shows the API's document; the page's editor writes it back through the API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import APIRouter, Request
from starlette.responses import Response

from offerengine.web.pages.layout import not_found, render
from offerengine.web.resources import api_get
from offerengine.web.session import PageTenant, Visitor

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True, slots=True)
class Document:
    title: str
    history: str  # the versioning kind, for /admin/history/<history>/<id>
    help: str


DOCUMENTS = {
    "offer-rules": Document(
        "Offer rules",
        "offer_rules",
        "Seed 001's standard offer mix: how many offers, "
        "which types always come, ranking weights, expiry; a conversion_model personalises "
        "each offer type's conversion probability by a contextual bandit (Bandit models).",
    ),
    "fare-settings": Document(
        "Fare settings",
        "fare_settings",
        "Taxes by airport or country, exchange rates, passenger-type ratios.",
    ),
    "connection-rules": Document(
        "Connection rules",
        "connection_rules",
        "How journeys connect: minimum and maximum connection times (by default and per "
        "airport), up to two stops, the routing limit (no backtracking), itineraries kept per "
        "slice and date, and how far an out-of-stock search looks for other dates.",
    ),
    "segments": Document(
        "Segments",
        "segments",
        "Rule-based segments (a condition over profile.*) and learned ones (k-means over "
        "profile features, fitted with POST …/segments/{name}/learn); profile.segments in rules.",
    ),
    "promotions": Document(
        "Promotions",
        "promotions",
        "Discounts and perks given only where their uplift model expects them to change "
        "behaviour, within their budget, products' stock and per-customer limit.",
    ),
}


def _page_of(slug: str, document: Document) -> Callable[..., Awaitable[Response]]:
    async def document_page(request: Request, visitor: Visitor, tenant: PageTenant) -> Response:
        api = f"/v1/admin/tenants/{tenant.code}/{slug}"
        found = await api_get(request, api)
        if not found.ok:
            return await not_found(request, visitor, tenant, found.detail)
        data = dict(found.data)
        meta = {k: data.pop(k, None) for k in ("id", "version", "updated_at")}
        return await render(
            request,
            "document.html",
            visitor,
            tenant=tenant,
            title=document.title,
            help=document.help,
            document=data,
            meta=meta,
            history=document.history,
            api=api,
        )

    return document_page


for _slug, _document in DOCUMENTS.items():
    router.add_api_route(
        f"/admin/{_slug}", _page_of(_slug, _document), methods=["GET"], name=f"{_slug}_page"
    )
