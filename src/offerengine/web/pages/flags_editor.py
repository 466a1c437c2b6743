"""The feature flags' own screens: the list, and the editor of one flag (its values typed by
the flag's type, a variants table whose percentages sum to 100, targeting rules with a
condition builder, the rollout with its slider) beside a live "who gets what" preview.

The editor saves through the JSON API from the browser (``static/flags.js``), as every form
here does, with the API's errors shown at the fields they name. The preview is the one thing
of its own: ``POST /admin/feature-flags/preview`` evaluates the flag as it is being edited,
unsaved, for a sample of contexts with the run-time code, and counts who gets what. The
generic document editor (``/admin/flags/<id>``) stays for the fields the screen leaves out."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints
from starlette.responses import Response

from offerengine.auth.deps import ConfigReader
from offerengine.clock import utcnow
from offerengine.deps import context_of
from offerengine.errors import Invalid, raise_if_any
from offerengine.fields import Timestamp
from offerengine.flags import core as flag_core
from offerengine.flags import service as flags
from offerengine.flags.schemas import EvaluationContext, FeatureFlagIn
from offerengine.web.pages.editors import form_document, save_path, stored_editor
from offerengine.web.pages.flag_forms import (
    FLAG_TYPES,
    RULE_TYPES,
    condition_rows,
    operators_json,
    who_gets_what,
)
from offerengine.web.pages.layout import PAGE, cursor_pager, render
from offerengine.web.resources import api_get
from offerengine.web.session import PageTenant, Visitor

router = APIRouter(include_in_schema=False)
HOME = "/admin/feature-flags"

# A new flag's document: choices with a sensible default, never a key or a name (those a
# person types: a form saved untouched is refused naming them, not a junk flag).
STARTER: dict[str, Any] = {
    "key": "",
    "name": "",
    "description": None,
    "type": "BOOLEAN",
    "value": True,
    "default_value": False,
    "is_enabled": False,
    "rollout": None,
    "rules": [],
    "variants": [],
    "tags": [],
}


@router.get(HOME)
async def flags_page(
    request: Request,
    visitor: Visitor,
    tenant: PageTenant,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """The tenant's flags by key: what each serves, to whom, and whether it is on."""
    found = await api_get(
        request, f"/v1/admin/tenants/{tenant.code}/feature-flags", limit=PAGE, cursor=cursor
    )
    next_cursor = found.data.get("next_cursor") if found.ok else None
    return await render(
        request,
        "flags.html",
        visitor,
        tenant=tenant,
        flags=[_summary(row) for row in found.listed()],
        problem=found.problem,
        **cursor_pager({}, next_cursor, cursor),
    )


def _summary(flag: dict[str, Any]) -> dict[str, Any]:
    rollout = flag.get("rollout") or {}
    return {
        **flag,
        "type_label": dict(FLAG_TYPES).get(flag["type"], flag["type"]),
        "rollout_text": (
            f"{rollout.get('percentage', 100):g} % on"
            if flag.get("rollout")
            else "everyone on"
            if not flag.get("rules")
            else "by rules"
        ),
    }


async def _editor(
    request: Request, visitor: Visitor, tenant: PageTenant, item: dict[str, Any] | None
) -> Response:
    document = form_document(item, FeatureFlagIn.model_fields, STARTER)
    listed = await api_get(request, f"/v1/admin/tenants/{tenant.code}/experiments", limit=1000)
    return await render(
        request,
        "flag_form.html",
        visitor,
        tenant=tenant,
        item=item,
        document=document,
        rule_rows=[condition_rows(rule.get("condition")) for rule in document["rules"]],
        operators=operators_json(),
        flag_types=FLAG_TYPES,
        rule_types=RULE_TYPES,
        experiments=[e["key"] for e in listed.listed()],
        api=save_path(item, tenant, "feature-flags"),
    )


@router.get(f"{HOME}/new")
async def new_flag(request: Request, visitor: Visitor, tenant: PageTenant) -> Response:
    return await _editor(request, visitor, tenant, None)


@router.get(HOME + "/{flag_id:uuid}")
async def edit_flag(
    request: Request, visitor: Visitor, tenant: PageTenant, flag_id: uuid.UUID
) -> Response:
    return await stored_editor(
        request,
        visitor,
        tenant,
        f"/v1/admin/feature-flags/{flag_id}",
        f"No flag {flag_id}.",
        _editor,
    )


# --- who gets what -------------------------------------------------------------------------

Attribute = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_.]{0,63}$")]


class Sample(BaseModel):
    """Who to evaluate the flag for: ``size`` synthetic users ``{id_prefix}1`` … with the
    typed ``attributes``, or the ``contexts`` given (each as the evaluation API takes one)."""

    model_config = ConfigDict(extra="forbid")

    size: int = Field(default=1000, ge=1, le=10_000, description="How many synthetic users.")
    id_prefix: Annotated[str, StringConstraints(max_length=20)] = "u"
    attributes: dict[Attribute, JsonValue] = Field(default_factory=dict, max_length=50)
    contexts: list[EvaluationContext] | None = Field(default=None, min_length=1, max_length=10_000)
    at: Timestamp | None = Field(default=None, description="Evaluate as of; default: now.")


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flag: FeatureFlagIn
    sample: Sample = Field(default_factory=Sample)


class ServedRead(BaseModel):
    label: str = Field(description="The variants that serve this value, or on / off.")
    value: JsonValue
    count: int
    share: float
    reasons: dict[str, int] = Field(description="Why, as the evaluation's reason and rule.")


class PreviewRead(BaseModel):
    total: int
    served: list[ServedRead]


def sample_contexts(sample: Sample) -> list[dict[str, Any]]:
    """The sample's contexts as the evaluation API reads its ``context``."""
    given = sample.contexts or [
        EvaluationContext.model_validate({**sample.attributes, "user_id": f"{sample.id_prefix}{i}"})
        for i in range(1, sample.size + 1)
    ]
    return [flag_core.attributes_of(c.model_dump(exclude_none=True)) for c in given]


@router.post(f"{HOME}/preview")
async def preview(request: Request, body: PreviewRequest, principal: ConfigReader) -> PreviewRead:
    """The flag as edited, unsaved, evaluated for the sample by the run-time code: how many
    are served each value, and why. Problems name the field under ``flag``."""
    if principal.tenant_id is None:
        raise Invalid.field(("header", "tenant"), "choose a tenant to work on first")
    raise_if_any(flags.check(body.flag, ("body", "flag")))
    snapshot = await context_of(request).snapshots.get(principal.tenant_id)
    draft = flags.compile_input(body.flag, id=uuid.uuid4(), version=1)
    found = who_gets_what(
        draft,
        sample_contexts(body.sample),
        at=body.sample.at or utcnow(),
        experiments_index=snapshot.experiments,
        saved_groups=snapshot.tenant.saved_groups,
    )
    return PreviewRead(
        total=found.total,
        served=[
            ServedRead(
                label=s.label, value=s.value, count=s.count, share=s.share, reasons=s.reasons
            )
            for s in found.served
        ],
    )
