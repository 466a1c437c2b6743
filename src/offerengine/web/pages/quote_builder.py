"""The quote builder: a basket put together in a form (who sells and who buys, where it goes,
an items table with a row per item, the coupon codes) rather than typed as JSON. The form posts
here; the page makes the ``POST /v1/quote`` request of its rows and answers it with the run-time
code that serves ``/v1/quote`` (:func:`offerengine.commerce.quoting.answer`, given the request's
bytes: the same decoding, validation and errors), for a visitor whose role may call the run-time
API. It shows the explained result (each step with its running total, the commission by
component with the rate behind each amount, the rules applied), the request it sent, and the
API's errors beside the row and field they name (``["body", "items", 2, "quantity"]`` is the
quantity of the third item row sent).

The run-time API is an ASGI app in front of the admin app (:class:`offerengine.app.Server`), out
of a page's reach in process; the quote's code is what it serves, so the page calls that."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from offerengine import text
from offerengine.auth import users
from offerengine.auth.core import Permission
from offerengine.clock import utcnow
from offerengine.commerce import quoting
from offerengine.deps import context_of
from offerengine.errors import OfferEngineError
from offerengine.http.problems import status_for
from offerengine.tenants.models import Tenant
from offerengine.web.pages.api_calls import field_errors, posted_form
from offerengine.web.pages.layout import render
from offerengine.web.resources import ApiAnswer
from offerengine.web.session import PageTenant, Visitor

router = APIRouter(include_in_schema=False)
HOME = "/admin/quote"
MAX_ROWS = 100
ITEM_FIELDS = ("product_id", "category_id", "seller_id", "quantity", "unit_price")
_ROW = re.compile(r"items-(\d{1,3})-([a-z_]+)")
_BASKET_FIELDS = (
    "customer_id",
    "seller_id",
    "currency",
    "delivery_city",
    "delivery_district",
    "delivery_country",
    "delivery_latitude",
    "delivery_longitude",
    "pickup_city",
    "pickup_country",
    "pickup_latitude",
    "pickup_longitude",
    "coupon_codes",
)


@dataclass(slots=True)
class Builder:
    """What the form shows: the basket's fields as typed, its item rows, and the express box."""

    fields: dict[str, str]
    rows: list[dict[str, str]]
    express: bool = False
    errors: dict[str, str] = field(default_factory=dict)  # by input name; "" for the request


def sample(tenant: Tenant) -> Builder:
    """Seed 002's basket, as rows: two items of a seller, delivered across Istanbul, a coupon."""
    return Builder(
        fields={
            "customer_id": "cust-42",
            "seller_id": "seller-techstore",
            "currency": tenant.base_currency,
            "delivery_city": "Istanbul",
            "delivery_district": "Beyoglu",
            "delivery_country": "TR",
            "delivery_latitude": "41.0082",
            "delivery_longitude": "28.9784",
            "pickup_city": "Istanbul",
            "pickup_country": "TR",
            "pickup_latitude": "41.0186",
            "pickup_longitude": "29.0023",
            "coupon_codes": "SAVE20",
        },
        rows=[
            {
                "product_id": "ELEC-PHONE-CASE",
                "category_id": "electronics",
                "seller_id": "",
                "quantity": "2",
                "unit_price": "149.90",
            },
            {
                "product_id": "ELEC-CHARGER",
                "category_id": "electronics",
                "seller_id": "",
                "quantity": "1",
                "unit_price": "249.00",
            },
        ],
        express=True,
    )


def read_builder(form: FormData) -> Builder:
    """The builder as posted: its fields and its rows in their order on the page."""
    rows: dict[int, dict[str, str]] = {}
    for name, value in form.multi_items():
        found = _ROW.fullmatch(name)
        if found and found.group(2) in ITEM_FIELDS and isinstance(value, str):
            rows.setdefault(int(found.group(1)), {})[found.group(2)] = value.strip()
    return Builder(
        fields={name: str(form.get(name) or "").strip() for name in _BASKET_FIELDS},
        rows=[
            {name: rows[index].get(name, "") for name in ITEM_FIELDS}
            for index in sorted(rows)[:MAX_ROWS]
        ],
        express=form.get("is_express_delivery") == "on",
    )


def _number(text: str) -> Any:
    """A typed number as the API reads it: an integer or a decimal string; anything else as
    typed, for the API to refuse naming the field."""
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return text


def _coordinate(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text


def _address(fields: dict[str, str], prefix: str) -> dict[str, Any]:
    address: dict[str, Any] = {}
    for name in ("city", "district", "country"):
        if fields.get(f"{prefix}_{name}"):
            address[name] = fields[f"{prefix}_{name}"]
    for name in ("latitude", "longitude"):
        if fields.get(f"{prefix}_{name}"):
            address[name] = _coordinate(fields[f"{prefix}_{name}"])
    return address


def request_of(builder: Builder) -> tuple[dict[str, Any], list[int]]:
    """The ``POST /v1/quote`` document of the builder, and the row of each item it sends (an
    empty row is left out, so the item index and the row number may differ)."""
    document: dict[str, Any] = {}
    for name in ("customer_id", "seller_id", "currency"):
        if builder.fields.get(name):
            document[name] = builder.fields[name]
    items: list[dict[str, Any]] = []
    rows: list[int] = []
    for number, row in enumerate(builder.rows):
        if not any(row.values()):
            continue
        item: dict[str, Any] = {}
        for name in ("product_id", "category_id", "seller_id"):
            if row.get(name):
                item[name] = row[name]
        item["quantity"] = _number(row.get("quantity", ""))
        item["unit_price"] = row.get("unit_price", "")
        items.append(item)
        rows.append(number)
    document["items"] = items
    document["delivery_address"] = _address(builder.fields, "delivery")
    pickup = _address(builder.fields, "pickup")
    if pickup:
        document["pickup_address"] = pickup
    document["is_express_delivery"] = builder.express
    codes = re.split(r"[\s,]+", builder.fields.get("coupon_codes", ""))
    document["coupon_codes"] = [code for code in codes if code]
    return document, rows


def input_errors(errors: dict[str, str], rows: list[int]) -> dict[str, str]:
    """The API's errors by the name of the input they are about: ``items.2.quantity`` is the
    quantity of the third item sent, which is the input ``items-<its row>-quantity``; an
    address field is ``delivery_city``; what names no input goes under ``""``."""
    out: dict[str, str] = {}

    def put(key: str, message: str) -> None:
        out[key] = f"{out[key]}; {message}" if key in out else message

    for path, message in errors.items():
        parts = path.split(".")
        if parts[0] == "items" and len(parts) >= 2 and parts[1].isdigit():
            index = int(parts[1])
            row = rows[index] if index < len(rows) else index
            name = parts[2] if len(parts) > 2 else ""
            if name == "category":
                name = "category_id"
            if name in ITEM_FIELDS:
                put(f"items-{row}-{name}", message)
            else:
                put(f"items-{row}", message)
        elif parts[0] in ("delivery_address", "pickup_address") and len(parts) > 1:
            put(f"{parts[0].removesuffix('_address')}_{parts[1]}", message)
        elif parts[0] == "coupon_codes":
            put("coupon_codes", message)
        elif parts[0] in _BASKET_FIELDS:
            put(parts[0], message)
        else:
            put("", f"{path}: {message}" if path else message)
    return out


async def _page(
    request: Request,
    visitor: Any,
    tenant: Tenant,
    builder: Builder,
    *,
    document: dict[str, Any] | None = None,
    result: Any = None,
    problem: str | None = None,
    status_code: int = 200,
) -> Response:
    response = await render(
        request,
        "quote.html",
        visitor,
        tenant=tenant,
        builder=builder,
        document=document if document is not None else request_of(builder)[0],
        result=result,
        problem=problem,
        item_fields=ITEM_FIELDS,
    )
    response.status_code = status_code
    return response


async def run_quote(
    request: Request, visitor: users.Visitor, tenant: Tenant, document: dict[str, Any]
) -> ApiAnswer:
    """``POST /v1/quote`` of ``document`` for the tenant, answered as the run-time API answers
    it: the envelope, or the problem document of what it refused (403 for a role that may not
    call the run-time API)."""
    if not visitor.principal.can(Permission.RUNTIME):
        return ApiAnswer(
            403,
            {"detail": f"Your role ({visitor.principal.role.value}) may not ask for quotes."},
        )
    ctx = context_of(request)
    try:
        body = json.dumps(document).encode()
        text.check_json(body)
        snapshot = await ctx.snapshots.get(tenant.id)
        raw = await quoting.answer(ctx, snapshot, body, utcnow())
    except OfferEngineError as exc:
        return ApiAnswer(
            status_for(exc),
            {"detail": exc.detail, "errors": [error.as_dict() for error in exc.errors]},
        )
    return ApiAnswer(200, json.loads(raw))


@router.get(HOME)
async def quote_page(request: Request, visitor: Visitor, tenant: PageTenant) -> Response:
    """The builder with seed 002's basket in it."""
    return await _page(request, visitor, tenant, sample(tenant))


@router.post(HOME)
async def quote_builder_post(request: Request, visitor: Visitor, tenant: PageTenant) -> Response:
    """Add or remove a row, or quote the basket the rows make and show the explained result."""
    form = await posted_form(request, visitor, max_fields=len(_BASKET_FIELDS) + 6 * MAX_ROWS + 8)
    builder = read_builder(form)
    action = str(form.get("action") or "quote")
    if action == "add" and len(builder.rows) < MAX_ROWS:
        builder.rows.append(dict.fromkeys(ITEM_FIELDS, ""))
        return await _page(request, visitor, tenant, builder)
    if action.startswith("remove-") and action[7:].isdigit():
        index = int(action[7:])
        if index < len(builder.rows) and len(builder.rows) > 1:
            del builder.rows[index]
        return await _page(request, visitor, tenant, builder)
    document, rows = request_of(builder)
    answer = await run_quote(request, visitor, tenant, document)
    if answer.ok:
        data = answer.data.get("data") if isinstance(answer.data, dict) else None
        return await _page(request, visitor, tenant, builder, document=document, result=data)
    builder.errors = input_errors(field_errors(answer), rows)
    return await _page(
        request,
        visitor,
        tenant,
        builder,
        document=document,
        problem=(
            "The API refused the basket: fix the fields marked below."
            if builder.errors and "" not in builder.errors
            else answer.detail or f"The API refused the basket ({answer.status})."
        ),
        status_code=answer.status if 400 <= answer.status < 500 else 502,
    )
