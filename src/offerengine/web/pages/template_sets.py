"""The template library's page: the shipped template sets with their contents, and an Apply
button per set (through the JSON API, as every admin form writes) for the tenant worked on."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from offerengine.starters import library
from offerengine.web.pages.layout import render
from offerengine.web.session import PageTenant, Visitor

router = APIRouter(include_in_schema=False)


@router.get("/admin/templates")
async def template_sets_page(request: Request, visitor: Visitor, tenant: PageTenant) -> Response:
    return await render(
        request,
        "template_sets.html",
        visitor,
        tenant=tenant,
        sets=[library.full(found) for found in library.template_sets().values()],
    )
