"""The generic pages of the configuration kinds the admin UI edits as API documents
(:data:`offerengine.web.resources.RESOURCES`): ``/admin/<slug>`` lists them, ``…/new`` and
``…/<id>`` edit one. Their paths match any slug, so :func:`offerengine.web.router.install` puts
them after every named page."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from offerengine.deps import context_of
from offerengine.inventory import overview
from offerengine.tenants.models import Tenant
from offerengine.web import dashboards
from offerengine.web.pages.layout import PAGE, not_found, pager, render, show_time, zone_of
from offerengine.web.resources import (
    RESOURCES,
    Resource,
    api_get,
    cell,
    dig,
    form_schema,
    start_value,
)
from offerengine.web.session import PageTenant, Visitor

router = APIRouter(include_in_schema=False)


@router.get("/admin/{slug:str}")
async def resource_list(
    request: Request,
    visitor: Visitor,
    tenant: PageTenant,
    slug: str,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    resource = RESOURCES.get(slug)
    if resource is None:
        return await not_found(request, visitor, tenant, f"No page {request.url.path}.")
    found = await api_get(request, resource.collection.format(tenant=tenant.code), cursor=cursor)
    items = found.listed()
    next_cursor = (
        found.data.get("next_cursor") if found.ok and isinstance(found.data, dict) else None
    )
    if next_cursor or cursor:  # the API pages this list itself
        pages = pager({}, ("cursor", next_cursor) if next_cursor else None, bool(cursor))
    else:  # the API returns the whole list: a page of it at a time
        more = len(items) > page * PAGE
        items = items[(page - 1) * PAGE : page * PAGE]
        pages = pager({}, ("page", page + 1) if more else None, page > 1)
    return await render(
        request,
        "resource_list.html",
        visitor,
        tenant=tenant,
        resource=resource,
        rows=[
            {
                "id": row.get("id"),
                "cells": [_cell(dig(row, c), tenant) for c in resource.columns],
            }
            for row in items
        ],
        problem=found.problem,
        **pages,
    )


def _cell(value: Any, tenant: Tenant) -> str:
    """A list cell; a time in the tenant's zone, named."""
    shown = show_time(value, zone_of(tenant)) if isinstance(value, str) else ""
    return shown if shown != value else cell(value)


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
        # The first thousand by name: a tenant with more picks among them, or types the id.
        found = await api_get(request, other.collection.format(tenant=tenant.code), limit=1000)
        if found.ok:
            out[other.title] = [(row.get("name"), row.get("id")) for row in found.data["items"]]
    return out


@router.get("/admin/{slug:str}/new")
async def new_resource(
    request: Request, visitor: Visitor, tenant: PageTenant, slug: str
) -> Response:
    resource = RESOURCES.get(slug)
    if resource is None:
        return await not_found(request, visitor, tenant, f"No page {request.url.path}.")
    return await render(
        request,
        "resource_form.html",
        visitor,
        tenant=tenant,
        resource=resource,
        item=None,
        document=resource.starter,
        start=start_value(resource.starter),
        schema=form_schema(resource.schema, resource.one[:1].upper() + resource.one[1:]),
        references=await _references(request, tenant, resource),
        api=resource.collection.format(tenant=tenant.code),
    )


async def _extras(
    request: Request, tenant: Tenant, slug: str, item_id: uuid.UUID
) -> dict[str, Any]:
    """What an editor shows beside the document: an experiment's results, a bundle template's
    routes to try it on."""
    extras: dict[str, Any] = {}
    if slug == "experiments":
        results = await api_get(request, f"/v1/experiments/{item_id}/results")
        extras["results"] = results.data if results.ok else None
        extras["results_problem"] = None if results.ok else results.detail
        if results.ok:
            extras["lift_chart"] = dashboards.lift_chart(results.data)
    if slug == "bundles":
        extras["routes"] = await overview.coming_routes(context_of(request), tenant.id)
    return extras


@router.get("/admin/{slug:str}/{item_id:uuid}")
async def edit_resource(
    request: Request, visitor: Visitor, tenant: PageTenant, slug: str, item_id: uuid.UUID
) -> Response:
    resource = RESOURCES.get(slug)
    if resource is None:
        return await not_found(request, visitor, tenant, f"No page {request.url.path}.")
    found = await api_get(request, resource.item.format(id=item_id))
    if not found.ok:
        return await not_found(
            request, visitor, tenant, found.detail or f"No {resource.one} {item_id}."
        )
    return await render(
        request,
        "resource_form.html",
        visitor,
        tenant=tenant,
        resource=resource,
        item=found.data,
        document=resource.input_of(found.data),
        start=start_value(resource.input_of(found.data)),
        schema=form_schema(resource.schema, resource.one[:1].upper() + resource.one[1:]),
        references=await _references(request, tenant, resource),
        api=resource.item.format(id=item_id),
        **await _extras(request, tenant, slug, item_id),
    )
