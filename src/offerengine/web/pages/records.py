"""What run time recorded and the database refused: the dead letters, re-driven from here once
what refused them is fixed."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from offerengine.deps import context_of
from offerengine.recording import service as recording
from offerengine.recording.schemas import DeadLetterRead
from offerengine.web.pages.layout import render
from offerengine.web.session import PageTenant, Visitor

router = APIRouter(include_in_schema=False)


@router.get("/admin/dead-letters")
async def dead_letters_page(
    request: Request,
    visitor: Visitor,
    tenant: PageTenant,
    show: Annotated[Literal["waiting", "redriven", "all"], Query()] = "waiting",
) -> Response:
    """Run-time records the database refused, with the error; re-driven from here once fixed."""
    redriven = {"waiting": False, "redriven": True, "all": None}[show]
    letters = await recording.read_dead_letters(
        context_of(request), tenant_id=tenant.id, redriven=redriven, limit=200
    )
    return await render(
        request,
        "dead_letters.html",
        visitor,
        tenant=tenant,
        letters=[DeadLetterRead.of(letter) for letter in letters],
        show=show,
    )
