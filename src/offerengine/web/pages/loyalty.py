"""Loyalty: a programme's tiers and their benefits, how orders earn points, its members with
their balances, and one member's balance and ledger, with the form that adjusts it. Everything
is read through the JSON API in process, as the visitor (:func:`~offerengine.web.resources.api_get`);
the programme itself is edited on its configuration page (Loyalty programmes)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from offerengine.web.pages.layout import PAGE, render
from offerengine.web.resources import api_get
from offerengine.web.session import PageTenant, Visitor

router = APIRouter(include_in_schema=False)
Text = Annotated[str | None, Query(max_length=200)]


@router.get("/admin/loyalty")
async def loyalty_page(
    request: Request,
    visitor: Visitor,
    tenant: PageTenant,
    programme: Annotated[str | None, Query(max_length=20)] = None,
    customer: Text = None,
    cursor: Text = None,
    ledger_cursor: Text = None,
) -> Response:
    """The programme (the first by code when none is named), a page of its members, and the
    named member's balance and ledger."""
    base = f"/v1/admin/tenants/{tenant.code}/loyalty/programmes"
    listed = await api_get(request, base)
    programmes: list[dict[str, Any]] = listed.listed() if listed.ok else []
    chosen = next((p for p in programmes if p["code"] == programme), None)
    if chosen is None and programmes and programme is None:
        chosen = programmes[0]
    values: dict[str, Any] = {
        "programmes": programmes,
        "programme": chosen,
        "asked": programme,
        "members": [],
        "member": None,
        "ledger": [],
        "problem": None if listed.ok else listed.detail,
    }
    if chosen is not None:
        here = f"{base}/{chosen['code']}/members"
        members = await api_get(request, here, limit=PAGE, cursor=cursor)
        if members.ok:
            values["members"] = members.data["items"]
            nxt = members.data.get("next_cursor")
            values["next_url"] = _url(programme=chosen["code"], cursor=nxt) if nxt else None
            values["first_url"] = _url(programme=chosen["code"]) if cursor else None
        if customer:
            found = await api_get(request, f"{here}/{customer}")
            values["member_problem"] = None if found.ok else found.detail
            if found.ok:
                values["member"] = found.data
                ledger = await api_get(
                    request, f"{here}/{customer}/ledger", limit=PAGE, cursor=ledger_cursor
                )
                if ledger.ok:
                    values["ledger"] = ledger.data["items"]
                    nxt = ledger.data.get("next_cursor")
                    values["ledger_next"] = (
                        _url(programme=chosen["code"], customer=customer, ledger_cursor=nxt)
                        if nxt
                        else None
                    )
                values["adjust_key"] = uuid.uuid4().hex  # one per page: a double submit is one
    return await render(request, "loyalty.html", visitor, tenant=tenant, **values)


def _url(**params: str | None) -> str:
    return "/admin/loyalty?" + urlencode({k: v for k, v in params.items() if v})
