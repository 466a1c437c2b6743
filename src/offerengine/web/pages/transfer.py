"""The import and export page: a file of products, decisioning offers or commission rates
uploaded as a background job whose progress the page polls (``static/admin.js``), the latest
jobs, and streamed exports in each format."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from offerengine.deps import context_of
from offerengine.transfer import core, jobs, kinds
from offerengine.transfer.schemas import ImportJobRead
from offerengine.web.pages.layout import render
from offerengine.web.session import PageTenant, Visitor

router = APIRouter(include_in_schema=False)


@router.get("/admin/imports")
async def imports_page(request: Request, visitor: Visitor, tenant: PageTenant) -> Response:
    found = await jobs.recent_jobs(context_of(request), tenant.id)
    return await render(
        request,
        "imports.html",
        visitor,
        tenant=tenant,
        kinds=[(p.path, p.what) for p in kinds.PORTERS.values()],
        formats=core.FORMATS,
        jobs=[ImportJobRead.of(job, jobs.progress(job.id)) for job in found],
    )
