"""The marketplace's own screens for commission rates, fee and tax rules and coupons: each kind
as a table people read (the rate or amount with its currency, the scope it applies to, when it
is in force, whether it is on), and an edit form per item that posts here. The page writes the
item through the JSON API in process as the visitor, based on the version she saw (``If-Match``),
and shows the API's field errors beside the fields they name, or, when someone saved the item in
the meantime, the conflict. Fields the form leaves out (a tiered rate's tiers, a distance fee's
bands) are kept as they are; the generic document editor (``/admin/<slug>/<id>``) stays for
them and for new items."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from offerengine.auth import users
from offerengine.clock import utcnow
from offerengine.commerce import core
from offerengine.tenants.models import Tenant
from offerengine.web.pages.api_calls import api_send, field_errors, posted_form
from offerengine.web.pages.layout import not_found, render, show_time, zone_of
from offerengine.web.resources import RESOURCES, Resource, api_get
from offerengine.web.session import PageTenant, Visitor

router = APIRouter(include_in_schema=False)
HOME = "/admin/marketplace"


@dataclass(frozen=True, slots=True)
class Field:
    """An input of an edit form: the document's field ``name`` (``configuration.base_fee`` for
    a nested one), its label, and how it is typed: ``text``, ``number`` (a decimal kept as the
    string typed), ``int``, ``bool``, ``time`` (ISO 8601), ``list`` (comma-separated) or
    ``choice`` (of ``choices``)."""

    name: str
    label: str
    kind: str = "text"
    choices: tuple[str, ...] = ()
    hint: str = ""

    @property
    def input_id(self) -> str:
        return "m-" + self.name.replace(".", "-")


WINDOW = (
    Field(
        "effective_from",
        "In force from",
        "time",
        hint="ISO 8601, e.g. 2026-01-01T00:00:00Z; empty: since always.",
    ),
    Field("effective_to", "In force until", "time", hint="Empty: no end."),
    Field("is_active", "Active", "bool"),
)

RATE_FIELDS = (
    Field("name", "Name"),
    Field("component", "Component", "choice", tuple(core.COMPONENTS)),
    Field("commission_type", "Type", "choice", ("PERCENTAGE", "FLAT", "TIERED")),
    Field("rate", "Rate", "number", hint="PERCENTAGE: percent (0-100); FLAT: an amount per unit."),
    Field("currency", "Currency"),
    Field("seller_id", "Seller", hint="Empty: every seller."),
    Field("category", "Category", hint="Empty: every category."),
    Field("logistics_provider", "Logistics provider"),
    Field("region", "Region", hint="A city or a country code; empty: everywhere."),
    Field("min_amount", "Minimum amount", "number"),
    Field("max_amount", "Maximum amount", "number"),
    Field("priority", "Priority", "int"),
    *WINDOW,
)

FEE_FIELDS = (
    Field("name", "Name"),
    Field("type", "Type", "choice", tuple(core.FEE_TYPES)),
    Field("currency", "Currency"),
    Field("region", "Region", hint="A city or a country code; empty: everywhere."),
    Field("category", "Category", hint="TAX only: items of a category."),
    Field("priority", "Priority", "int"),
    *WINDOW,
)

COUPON_FIELDS = (
    Field("code", "Code"),
    Field("name", "Name"),
    Field("type", "Type", "choice", ("PERCENTAGE", "FIXED", "FREE_DELIVERY")),
    Field(
        "value",
        "Value",
        "number",
        hint="PERCENTAGE: percent off; FIXED: an amount; FREE_DELIVERY: empty.",
    ),
    Field("currency", "Currency"),
    Field("min_basket", "Minimum basket", "number"),
    Field("max_discount", "Maximum discount", "number"),
    Field("sellers", "Sellers", "list", hint="Comma-separated; empty: every seller."),
    Field("categories", "Categories", "list", hint="Comma-separated; empty: every category."),
    Field("valid_from", "Valid from", "time", hint="ISO 8601; empty: from now on."),
    Field("valid_until", "Valid until", "time", hint="Empty: no end."),
    Field("usage_limit_total", "Uses in all", "int"),
    Field("usage_limit_per_customer", "Uses per customer", "int"),
    Field("stackable", "Combines with other coupons", "bool"),
    Field("is_active", "Active", "bool"),
)


def _money(value: Any, currency: Any) -> str:
    return "" if value in (None, "") else f"{value} {currency or ''}".strip()


def _scope(parts: list[tuple[str, Any]]) -> str:
    named = [f"{label} {value}" for label, value in parts if value not in (None, "", [])]
    return ", ".join(named) or "everything"


def _rate_row(row: dict[str, Any]) -> dict[str, Any]:
    kind = row.get("commission_type")
    if kind == "PERCENTAGE":
        amount = f"{row.get('rate')} %"
    elif kind == "FLAT":
        amount = f"{_money(row.get('rate'), row.get('currency'))} per unit"
    else:
        amount = f"tiered ({len(row.get('tiers') or [])} brackets)"
    return {
        "amount": amount,
        "kind": f"{row.get('component')} · {(kind or '').lower()}",
        "scope": _scope(
            [
                ("seller", row.get("seller_id")),
                ("category", row.get("category")),
                ("logistics", row.get("logistics_provider")),
                ("region", row.get("region")),
            ]
        ),
    }


def _fee_row(row: dict[str, Any]) -> dict[str, Any]:
    config = row.get("configuration") or {}
    currency = row.get("currency")
    shown = []
    for key, value in config.items():
        if isinstance(value, list):
            shown.append(f"{key.replace('_', ' ')}: {len(value)}")
        elif key == "rate":
            shown.append(f"rate {value} %")
        elif key in ("base_fee", "fee", "threshold", "max_fee", "per_kg"):
            shown.append(f"{key.replace('_', ' ')} {_money(value, currency)}")
        else:
            shown.append(f"{key.replace('_', ' ')} {value}")
    return {
        "amount": "; ".join(shown),
        "kind": str(row.get("type") or "").replace("_", " ").lower(),
        "scope": _scope([("region", row.get("region")), ("category", row.get("category"))]),
    }


def _coupon_row(row: dict[str, Any]) -> dict[str, Any]:
    kind = row.get("type")
    if kind == "PERCENTAGE":
        amount = f"{row.get('value')} % off"
    elif kind == "FIXED":
        amount = f"{_money(row.get('value'), row.get('currency'))} off"
    else:
        amount = "free delivery"
    if row.get("min_basket") not in (None, ""):
        amount += f", basket of {_money(row.get('min_basket'), row.get('currency'))} or more"
    limit = row.get("usage_limit_total")
    return {
        "amount": amount,
        "kind": f"{row.get('code')} · {(kind or '').replace('_', ' ').lower()}",
        "scope": _scope(
            [
                ("sellers", ", ".join(row.get("sellers") or [])),
                ("categories", ", ".join(row.get("categories") or [])),
            ]
        ),
        "used": f"{row.get('used', 0)}" + (f" of {limit}" if limit else ""),
    }


@dataclass(frozen=True, slots=True)
class Kind:
    """A kind with a table here: its generic resource (the API's paths, the fallback editor),
    the form's fields, how a row reads, and the fields that make its validity window."""

    slug: str
    fields: tuple[Field, ...]
    summary: Callable[[dict[str, Any]], dict[str, Any]]
    window: tuple[str, str]
    amount_header: str

    @property
    def resource(self) -> Resource:
        return RESOURCES[self.slug]


KINDS: dict[str, Kind] = {
    k.slug: k
    for k in (
        Kind(
            "commission-rates", RATE_FIELDS, _rate_row, ("effective_from", "effective_to"), "Rate"
        ),
        Kind("fee-rules", FEE_FIELDS, _fee_row, ("effective_from", "effective_to"), "Amounts"),
        Kind("coupons", COUPON_FIELDS, _coupon_row, ("valid_from", "valid_until"), "Discount"),
    )
}


def _status(row: dict[str, Any], kind: Kind, tenant: Tenant) -> str:
    """Active, inactive, scheduled or ended, by the item's flag and its window."""
    if not row.get("is_active", True):
        return "inactive"
    now = utcnow()
    start, end = (_moment(row.get(name)) for name in kind.window)
    if start is not None and start > now:
        return "scheduled"
    if end is not None and end <= now:
        return "ended"
    return "active"


def _moment(value: Any) -> datetime | None:
    """An API time as an aware datetime (UTC when it names no zone); None for none."""
    if not isinstance(value, str) or not value:
        return None
    try:
        found = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def _validity(row: dict[str, Any], kind: Kind, tenant: Tenant) -> str:
    start, end = (row.get(name) for name in kind.window)
    zone = zone_of(tenant)
    if not start and not end:
        return "always"
    if not end:
        return f"from {show_time(start, zone)}"
    if not start:
        return f"until {show_time(end, zone)}"
    return f"{show_time(start, zone)} to {show_time(end, zone)}"


def _value_of(document: dict[str, Any], name: str) -> Any:
    found: Any = document
    for part in name.split("."):
        found = found.get(part) if isinstance(found, dict) else None
    return found


def _shown(value: Any, field: Field) -> str:
    """A document value as its input shows it."""
    if value is None:
        return ""
    if field.kind == "list":
        return ", ".join(str(v) for v in value)
    return str(value)


def form_fields(kind: Kind, item: dict[str, Any]) -> tuple[Field, ...]:
    """The kind's fields and, for a fee rule, each scalar field of its configuration."""
    if kind.slug != "fee-rules":
        return kind.fields
    config = item.get("configuration") or {}
    extra = tuple(
        Field(
            f"configuration.{key}",
            key.replace("_", " ").capitalize(),
            "bool"
            if isinstance(value, bool)
            else "number"
            if key not in ("coupon_code", "multiplier_flag")
            else "text",
        )
        for key, value in config.items()
        if not isinstance(value, list | dict)
    )
    return kind.fields[:2] + extra + kind.fields[2:]


def _put(document: dict[str, Any], name: str, value: Any) -> None:
    parts = name.split(".")
    node = document
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def document_of(kind: Kind, item: dict[str, Any], posted: dict[str, str]) -> dict[str, Any]:
    """The item's API document with the form's values in it: a blank input is null (an empty
    list for a list), an unchecked box false, a typed integer a JSON integer; the rest as typed,
    for the API to judge and name the field of what it refuses."""
    document = kind.resource.input_of(item)
    for field in form_fields(kind, item):
        raw = posted.get(field.name, "").strip()
        value: Any
        if field.kind == "bool":
            value = field.name in posted
        elif field.kind == "list":
            value = [part.strip() for part in raw.split(",") if part.strip()]
        elif raw == "":
            value = None
        elif field.kind == "int":
            value = int(raw) if raw.lstrip("-").isdigit() else raw
        else:
            value = raw
        if value is None and field.name == "priority":
            value = 0
        _put(document, field.name, value)
    return document


async def _list(request: Request, visitor: users.Visitor, tenant: Tenant, kind: Kind) -> Response:
    resource = kind.resource
    found = await api_get(request, resource.collection.format(tenant=tenant.code), limit=1000)
    rows = []
    for row in found.listed():
        rows.append(
            {
                "id": row.get("id"),
                "name": row.get("name") or row.get("code") or "(unnamed)",
                "version": row.get("version"),
                "currency": row.get("currency"),
                "status": _status(row, kind, tenant),
                "validity": _validity(row, kind, tenant),
                **kind.summary(row),
            }
        )
    return await render(
        request,
        "commerce_table.html",
        visitor,
        tenant=tenant,
        kind=kind,
        resource=resource,
        rows=rows,
        problem=found.problem,
        home=HOME,
    )


async def _edit(
    request: Request,
    visitor: users.Visitor,
    tenant: Tenant,
    kind: Kind,
    item: dict[str, Any],
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    problem: str | None = None,
    conflict: str | None = None,
    status_code: int = 200,
) -> Response:
    fields = form_fields(kind, item)
    document = values if values is not None else kind.resource.input_of(item)
    response = await render(
        request,
        "commerce_item.html",
        visitor,
        tenant=tenant,
        kind=kind,
        resource=kind.resource,
        item=item,
        item_version=item.get("version"),
        inputs=[
            {
                "field": f,
                "value": _shown(_value_of(document, f.name), f),
                "checked": bool(_value_of(document, f.name)),
            }
            for f in fields
        ],
        errors=errors or {},
        problem=problem,
        conflict=conflict,
        home=HOME,
    )
    response.status_code = status_code
    return response


def _install(kind: Kind) -> None:
    async def table_page(request: Request, visitor: Visitor, tenant: PageTenant) -> Response:
        return await _list(request, visitor, tenant, kind)

    async def item_page(
        request: Request, visitor: Visitor, tenant: PageTenant, item_id: uuid.UUID
    ) -> Response:
        found = await api_get(request, kind.resource.item.format(id=item_id))
        if not found.ok:
            return await not_found(request, visitor, tenant, found.detail or "No such item.")
        return await _edit(request, visitor, tenant, kind, found.data)

    async def item_save(
        request: Request, visitor: Visitor, tenant: PageTenant, item_id: uuid.UUID
    ) -> Response:
        form = await posted_form(request, visitor, max_fields=60)
        posted = {k: str(v) for k, v in form.items()}
        path = kind.resource.item.format(id=item_id)
        found = await api_get(request, path)
        if not found.ok:
            return await not_found(request, visitor, tenant, found.detail or "No such item.")
        document = document_of(kind, found.data, posted)
        based_on = posted.get("version", "")
        if not based_on.isdigit():  # never saved unguarded: the form always names its version
            return await _edit(
                request,
                visitor,
                tenant,
                kind,
                found.data,
                values=document,
                errors={"": "version: missing; open the item again"},
                problem="The form did not say which version it edits.",
                status_code=422,
            )
        version = int(based_on)
        saved = await api_send(request, visitor, "PUT", path, document, if_match=version)
        if saved.ok:
            return RedirectResponse(
                f"{HOME}/{kind.slug}?saved={saved.data.get('id')}&version={saved.data.get('version')}",
                status_code=303,
            )
        shown_item = dict(found.data, version=version)
        if saved.status == 409:
            return await _edit(
                request,
                visitor,
                tenant,
                kind,
                shown_item,
                values=document,
                conflict=(
                    f"Someone saved this {kind.resource.one} since you opened it: it is now "
                    f"version {found.data.get('version')}, you edited version {based_on}. "
                    "Your changes are below, not saved; open the item again to see theirs."
                ),
                problem=saved.detail,
                status_code=409,
            )
        errors = field_errors(saved)
        return await _edit(
            request,
            visitor,
            tenant,
            kind,
            shown_item,
            values=document,
            errors=errors,
            problem=(
                "The API refused the change: fix the fields marked below."
                if errors and "" not in errors
                else saved.detail or f"The API refused the change ({saved.status})."
            ),
            status_code=saved.status if 400 <= saved.status < 500 else 502,
        )

    base = f"{HOME}/{kind.slug}"
    router.add_api_route(base, table_page, methods=["GET"], name=f"{kind.slug}-table")
    router.add_api_route(
        f"{base}/{{item_id:uuid}}", item_page, methods=["GET"], name=f"{kind.slug}-item"
    )
    router.add_api_route(
        f"{base}/{{item_id:uuid}}", item_save, methods=["POST"], name=f"{kind.slug}-save"
    )


for _kind in KINDS.values():
    _install(_kind)
